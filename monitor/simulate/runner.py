"""Sends the simulated stream to Kafka at its pace and writes reference files."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from kafka import KafkaProducer
from kafka.errors import KafkaError

from monitor.config.models import KafkaConfig
from monitor.errors import BrokerUnavailableError
from monitor.logs import fields
from monitor.simulate.scenario import Scenario
from monitor.simulate.stream import StreamSettings, generate, reference_frame

__all__ = ["SimulationReport", "simulate", "write_reference_files"]

log = logging.getLogger("driftwatch.simulate")


@dataclass
class SimulationReport:
    predictions: int = 0
    labels: int = 0
    malformed: int = 0
    elapsed_s: float = 0.0


def write_reference_files(models: tuple[str, ...], directory: Path, rows: int = 5000, seed: int = 1) -> list[Path]:
    """One parquet file per model: undrifted features, prediction, score and label."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in models:
        path = directory / f"{name}_reference.parquet"
        pd.DataFrame(reference_frame(name, rows, seed)).to_parquet(path, index=False)
        paths.append(path)
    return paths


def simulate(kafka: KafkaConfig, settings: StreamSettings, scenario: Scenario, *, count: int | None = None,
             duration_s: float | None = None, paced: bool = True, stop: threading.Event | None = None
             ) -> SimulationReport:
    """Produce the stream; ``paced=False`` sends as fast as the broker takes it."""
    try:
        producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers.split(","), linger_ms=20, acks="all",
                                 retries=2_147_483_647, max_in_flight_requests_per_connection=1)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"cannot reach Kafka at {kafka.bootstrap_servers} ({exc}); start the broker "
                                     "or fix kafka.bootstrap_servers") from exc
    topics = {"predictions": kafka.predictions_topic, "labels": kafka.labels_topic}
    report = SimulationReport()
    started = time.monotonic()
    last_log = started
    for item in generate(settings, scenario, count=count, duration_s=duration_s):
        if stop is not None and stop.is_set():
            break
        if paced:
            wait = item.due_s - (time.monotonic() - started)
            if wait > 0:
                time.sleep(wait)
        producer.send(topics[item.topic], item.value)
        if item.topic == "labels":
            report.labels += 1
        elif item.valid:
            report.predictions += 1
        else:
            report.malformed += 1
        if time.monotonic() - last_log > 10:
            last_log = time.monotonic()
            log.info("simulating", extra=fields(predictions=report.predictions, labels=report.labels,
                                                malformed=report.malformed, event_time=item.event_time.isoformat()))
    producer.flush(timeout=60)
    producer.close()
    report.elapsed_s = time.monotonic() - started
    return report
