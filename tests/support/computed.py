"""A store filled the way the service fills it, with no hand-written metric rows: a
simulated stream (covariate drift in fraud from minute 30, 5% malformed messages in the
first 10 minutes, labels 5 minutes late) decoded and stored by the ingest writer, every
window computed by the scheduler, alert rules evaluated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

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

__all__ = ["START", "compute_simulated_store"]

START = datetime(2026, 11, 20, tzinfo=UTC)


def compute_simulated_store(engine: Engine, store_url: str, reference_dir: Path) -> DriftwatchConfig:
    """One hour of fraud and demand traffic in 10-minute windows, computed and judged."""
    write_reference_files(("fraud", "demand"), reference_dir, rows=2000)
    models = model_configs(["fraud", "demand"], str(reference_dir))
    for model in models.values():
        model["window"] = "10m"
    config = config_from_mapping({
        "store": store_url,
        "models": models,
        "alerts": {"rules": [{"name": "fraud-drift", "model": "fraud", "metric": "dataset_drift_share",
                              "when": "> 0.3", "for": 1, "severity": "critical"}]},
    }, environ={})
    scenario = Scenario.model_validate({"seed": 2, "events": [
        {"kind": "covariate_drift", "model": "fraud", "at": "30m", "features": ["amount", "country"]},
        {"kind": "malformed", "at": "0s", "duration": "10m", "rate": 0.05},
    ]})
    settings = StreamSettings(models=("fraud", "demand"), rate=10, speedup=60, start=START,
                              label_delay_median=timedelta(minutes=5))
    decoder = MessageDecoder(known_models={"fraud", "demand"})
    records = [decoder.decode(item.value, Origin(item.topic, 0, offset))
               for offset, item in enumerate(generate(settings, scenario, duration_s=60 * 60 / 60))]
    IngestWriter(engine).write([r for r in records if isinstance(r, PredictionRecord)],
                               [r for r in records if isinstance(r, LabelRecord)],
                               [r for r in records if isinstance(r, DeadLetterRecord)],
                               ingested_at=START + timedelta(hours=1))
    now = START + timedelta(hours=1, minutes=5)
    WindowScheduler(config=config, engine=engine, clock=lambda: now).tick(now)
    evaluate_due(engine, config, now)
    return config
