"""Test traffic: realistic prediction/label messages, a producer, store queries,
and a way to run ``driftwatch ingest`` as a real child process."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import Engine, select

from monitor.store.tables import dead_letters, labels, predictions

BASE_TIME = datetime(2026, 11, 1, tzinfo=UTC)


def prediction_message(index: int, *, model: str = "fraud", version: str = "v1", seed: int = 0) -> dict[str, Any]:
    rng = random.Random(seed * 1_000_003 + index)
    score = round(rng.random(), 6)
    return {
        "prediction_id": f"{model}-{index}",
        "model": model,
        "model_version": version,
        "timestamp": (BASE_TIME + timedelta(seconds=index)).isoformat().replace("+00:00", "Z"),
        "features": {
            "amount": round(rng.lognormvariate(3, 1), 4),
            "country": rng.choice(["DE", "FR", "US", None]),
            "is_new": rng.random() < 0.2,
            "age": rng.randint(18, 90),
        },
        "prediction": int(score > 0.5),
        "score": score,
        "latency_ms": round(rng.gammavariate(2, 10), 3),
        "status": "ok" if rng.random() > 0.01 else "error",
    }


def label_message(index: int, label: int | str, *, model: str = "fraud", offset_s: int = 3600) -> dict[str, Any]:
    return {
        "prediction_id": f"{model}-{index}",
        "model": model,
        "label": label,
        "timestamp": (BASE_TIME + timedelta(seconds=index + offset_s)).isoformat().replace("+00:00", "Z"),
    }


def create_topics(bootstrap: str, names: Iterable[str], partitions: int = 1) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        admin.close()


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=262_144, acks="all",
                         max_request_size=8_388_608, retries=2_147_483_647)


def send_json(prod: KafkaProducer, topic: str, messages: Iterable[dict[str, Any]]) -> int:
    count = 0
    for message in messages:
        prod.send(topic, json.dumps(message).encode())
        count += 1
    return count


def write_config(path: Path, *, store: str, bootstrap: str, topics: dict[str, str], batch_size: int = 2000,
                 models: dict[str, Any] | None = None, batch_max_wait: str = "200ms") -> Path:
    config = {
        "store": store,
        "kafka": {
            "bootstrap_servers": bootstrap,
            "predictions_topic": topics["predictions"],
            "labels_topic": topics["labels"],
            "group_id": topics["group"],
            "session_timeout": "6s",
            "group_instance_id": "ingest-1",
        },
        # The messages carry fixed dates (BASE_TIME): accept them whenever the suite runs.
        "ingest": {"batch_size": batch_size, "batch_max_wait": batch_max_wait, "max_event_age": "3650d"},
        "models": models if models is not None else {
            "fraud": {"task": "binary_classification", "positive_label": 1},
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


LIVE_PROCESSES: list[subprocess.Popen[bytes]] = []


def kill_live_processes() -> None:
    """Kill every child a test started (called after each test, pass or fail)."""
    while LIVE_PROCESSES:
        proc = LIVE_PROCESSES.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


class IngestProcess:
    """``driftwatch ingest`` as a real child process (so it can be SIGKILLed)."""

    def __init__(self, config: Path, log: Path, command: str = "ingest") -> None:
        self.config = config
        self.log = log
        self.command = command
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> None:
        env = {**os.environ, "DRIFTWATCH_CONFIG": str(self.config), "PYTHONUNBUFFERED": "1"}
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", self.command, *extra],
            stdout=handle, stderr=subprocess.STDOUT, env=env,
        )
        LIVE_PROCESSES.append(self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)


def stored_prediction_ids(engine: Engine, model: str | None = None) -> list[str]:
    query = select(predictions.c.prediction_id)
    if model is not None:
        query = query.where(predictions.c.model == model)
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(query)]


def count_rows(engine: Engine, table: Any) -> int:
    from sqlalchemy import func

    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def wait_for_count(engine: Engine, table: Any, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        try:
            count = count_rows(engine, table)
        except Exception:  # noqa: BLE001 - the store may be down on purpose
            count = -1
        if count >= expected:
            return count
        time.sleep(0.5)
    return count


__all__ = [
    "BASE_TIME", "prediction_message", "label_message", "create_topics", "producer", "send_json", "write_config",
    "IngestProcess", "kill_live_processes", "LIVE_PROCESSES", "stored_prediction_ids", "count_rows",
    "wait_for_count", "predictions", "labels", "dead_letters",
]
