"""The live end-to-end rig: ``driftwatch run`` as a real process on the real broker,
a store, a real webhook receiver, and a paced simulated stream in event time."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer

from monitor.config.models import KafkaConfig
from monitor.simulate.runner import simulate, write_reference_files
from monitor.simulate.scenario import Scenario
from monitor.simulate.stream import StreamSettings
from monitor.store.engine import create_store_engine
from monitor.store.schema import upgrade_schema
from tests.support.traffic import IngestProcess, create_topics
from tests.support.webhook import Receiver

__all__ = ["BACKENDS", "SECRET", "WINDOW_S", "LiveService", "e2e_store", "start_live_service"]

SECRET = "e2e-secret"
WINDOW_S = 10
BACKENDS = ("sqlite", "postgresql")


def e2e_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path, topics: dict[str, str]) -> str:
    """A fresh store of ``backend`` for one scenario (PostgreSQL: the session's server)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'e2e.db'}"
    return request.getfixturevalue("postgres_server").create_database(f"e2e_{topics['group'][-8:]}")


@dataclass
class LiveService:
    store: str
    receiver: Receiver
    process: IngestProcess
    log: Path
    kafka: KafkaConfig

    def stream(self, scenario: dict[str, Any], *, duration_s: float, label_coverage: float = 0.0,
               label_delay_s: float = 30.0) -> int:
        """Produce ``fraud`` traffic at 150/s from the next window boundary (so injections at
        multiples of the window fall at window starts); returns that start (epoch seconds)."""
        now = time.time()
        start_s = (int(now) // WINDOW_S + 1) * WINDOW_S
        time.sleep(start_s - now)
        settings = StreamSettings(models=("fraud",), rate=150, start=datetime.fromtimestamp(start_s, tz=UTC),
                                  label_coverage=label_coverage, label_delay_median=timedelta(seconds=label_delay_s))
        simulate(self.kafka, settings, Scenario.model_validate(scenario), duration_s=duration_s)
        return start_s

    def log_tail(self) -> str:
        return self.log.read_text()[-4000:]


def start_live_service(*, store: str, bootstrap: str, topics: dict[str, str], tmp_path: Path,
                       httpserver: HTTPServer, rules: Sequence[dict[str, Any]]) -> LiveService:
    """Migrate the store, create the topics, and start ``driftwatch run`` on them with
    10 s windows for ``fraud`` and ``rules`` delivering to a signed webhook."""
    from monitor.simulate.models import model_configs

    upgrade_schema(create_store_engine(store))
    create_topics(bootstrap, [topics["predictions"], topics["labels"]])
    receiver = Receiver(httpserver, "/retrain")
    write_reference_files(("fraud",), tmp_path / "reference", rows=3000)
    models = model_configs(["fraud"], str(tmp_path / "reference"))
    models["fraud"]["window"] = f"{WINDOW_S}s"
    config = {
        "store": store,
        "kafka": {"bootstrap_servers": bootstrap, "predictions_topic": topics["predictions"],
                  "labels_topic": topics["labels"], "group_id": topics["group"], "session_timeout": "6s"},
        "ingest": {"batch_size": 1000, "batch_max_wait": "200ms"},
        "schedule": {"interval": "2s"},
        "models": models,
        "alerts": {
            "rules": [{"model": "fraud", "for": 1, "channels": ["retrain"], **rule} for rule in rules],
            "repeat_interval": "1h",
            "send_resolved": True,
            "channels": {"retrain": {"type": "webhook", "url": receiver.url, "secret": SECRET}},
        },
    }
    path = tmp_path / "driftwatch.yaml"
    path.write_text(yaml.safe_dump(config))
    log = tmp_path / "service.log"
    process = IngestProcess(path, log, command="run")
    process.start()
    kafka = KafkaConfig(bootstrap_servers=bootstrap, predictions_topic=topics["predictions"],
                        labels_topic=topics["labels"])
    return LiveService(store, receiver, process, log, kafka)
