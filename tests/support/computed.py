"""A store filled the way the service fills it, with no hand-written metric rows: a
simulated stream decoded and stored by the ingest writer, every window computed by
the scheduler, alert rules evaluated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from alerts.evaluation import evaluate_due
from monitor.config.loader import config_from_mapping
from monitor.config.models import DriftwatchConfig
from monitor.ingest.decode import MessageDecoder
from monitor.ingest.records import DeadLetterRecord, LabelRecord, Origin, PredictionRecord
from monitor.jobs.scheduler import WindowScheduler
from monitor.simulate.models import model_configs
from monitor.simulate.runner import write_reference_files
from monitor.simulate.scenario import Scenario
from monitor.simulate.stream import StreamSettings, generate
from monitor.store.ingest_writer import IngestWriter

__all__ = ["START", "compute_and_evaluate", "compute_simulated_store", "ingest_simulated_stream",
           "simulated_config"]

START = datetime(2026, 11, 20, tzinfo=UTC)


def simulated_config(store_url: str, reference_dir: Path, models: tuple[str, ...],
                     alerts: dict[str, Any]) -> DriftwatchConfig:
    """The simulated ``models`` in 10-minute windows (reference files written) and ``alerts``."""
    write_reference_files(models, reference_dir, rows=2000)
    configs = model_configs(list(models), str(reference_dir))
    for model in configs.values():
        model["window"] = "10m"
    return config_from_mapping({"store": store_url, "models": configs, "alerts": alerts}, environ={})


def ingest_simulated_stream(engine: Engine, scenario: dict[str, Any], models: tuple[str, ...], *, rate: float,
                            minutes: int) -> None:
    """``minutes`` of event time from START (60x speed-up), decoded and written in one batch."""
    settings = StreamSettings(models=models, rate=rate, speedup=60, start=START,
                              label_delay_median=timedelta(minutes=5))
    decoder = MessageDecoder(known_models=set(models))
    records = [decoder.decode(item.value, Origin(item.topic, 0, offset))
               for offset, item in enumerate(generate(settings, Scenario.model_validate(scenario),
                                                      duration_s=minutes))]
    IngestWriter(engine).write([r for r in records if isinstance(r, PredictionRecord)],
                               [r for r in records if isinstance(r, LabelRecord)],
                               [r for r in records if isinstance(r, DeadLetterRecord)],
                               ingested_at=START + timedelta(minutes=minutes + 1))


def compute_and_evaluate(engine: Engine, config: DriftwatchConfig, now: datetime) -> None:
    """What `driftwatch run` does on each tick: compute the due windows, judge them."""
    WindowScheduler(config=config, engine=engine, clock=lambda: now).tick(now)
    evaluate_due(engine, config, now)


def compute_simulated_store(engine: Engine, store_url: str, reference_dir: Path) -> DriftwatchConfig:
    """One hour of fraud and demand traffic (covariate drift in fraud from minute 30, 5%
    malformed messages in the first 10 minutes, labels 5 minutes late), computed and judged."""
    models = ("fraud", "demand")
    config = simulated_config(store_url, reference_dir, models, {"rules": [
        {"name": "fraud-drift", "model": "fraud", "metric": "dataset_drift_share", "when": "> 0.3", "for": 1,
         "severity": "critical"}]})
    ingest_simulated_stream(engine, {"seed": 2, "events": [
        {"kind": "covariate_drift", "model": "fraud", "at": "30m", "features": ["amount", "country"]},
        {"kind": "malformed", "at": "0s", "duration": "10m", "rate": 0.05},
    ]}, models, rate=10, minutes=60)
    compute_and_evaluate(engine, config, START + timedelta(hours=1, minutes=5))
    return config
