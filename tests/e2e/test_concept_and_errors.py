"""End to end: concept drift and a serving-error burst, live through the real broker
into ``driftwatch run`` with a real webhook receiver.

Concept drift changes how the truth relates to the inputs, not the inputs: no
data-drift alert may fire, but once the late labels are in, the concept-drift rule
(with a ``delay`` for the labels) fires. The error burst fires its rule and resolves
when it ends. The covariate-drift and latency scenario, on both stores, is in
``test_detection.py``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from monitor.config.models import KafkaConfig
from monitor.simulate.runner import simulate, write_reference_files
from monitor.simulate.scenario import Scenario
from monitor.simulate.stream import StreamSettings
from monitor.store.engine import create_store_engine
from monitor.store.schema import upgrade_schema
from monitor.store.tables import metric_values
from tests.support.traffic import IngestProcess, create_topics
from tests.support.webhook import Receiver, signature_ok

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SECRET = "e2e-secret"
ERRORS = (10, 20)  # seconds after the start: a burst of serving errors
CONCEPT_AT_S = 30
LABEL_WAIT = "15s"


def _config(tmp_path: Path, store: str, bootstrap: str, topics: dict[str, str], hook_url: str) -> Path:
    from monitor.simulate.models import model_configs

    models = model_configs(["fraud"], str(tmp_path / "reference"))
    models["fraud"]["window"] = "10s"
    rule = {"model": "fraud", "for": 1, "severity": "critical", "channels": ["retrain"]}
    config = {
        "store": store,
        "kafka": {"bootstrap_servers": bootstrap, "predictions_topic": topics["predictions"],
                  "labels_topic": topics["labels"], "group_id": topics["group"], "session_timeout": "6s"},
        "ingest": {"batch_size": 1000, "batch_max_wait": "200ms"},
        "schedule": {"interval": "2s"},
        "models": models,
        "alerts": {
            "rules": [
                {**rule, "name": "fraud-data-drift", "metric": "dataset_drift_share", "when": "> 0.3", "for": 2},
                {**rule, "name": "fraud-concept", "metric": "concept_drift", "when": "== 1", "delay": LABEL_WAIT},
                {**rule, "name": "fraud-errors", "metric": "error_rate", "when": "> 0.2", "severity": "warning"},
            ],
            "repeat_interval": "1h",
            "send_resolved": True,
            "channels": {"retrain": {"type": "webhook", "url": hook_url, "secret": SECRET}},
        },
    }
    path = tmp_path / "driftwatch.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_concept_drift_fires_on_late_labels_and_an_error_burst_fires_and_resolves(
        kafka_broker, topic_names, tmp_path, httpserver: HTTPServer):
    store = f"sqlite:///{tmp_path / 'e2e.db'}"
    upgrade_schema(create_store_engine(store))
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"], topic_names["labels"]])
    receiver = Receiver()
    httpserver.expect_request("/retrain", method="POST").respond_with_handler(receiver)
    write_reference_files(("fraud",), tmp_path / "reference", rows=3000)
    config = _config(tmp_path, store, kafka_broker.bootstrap, topic_names, httpserver.url_for("/retrain"))
    service = IngestProcess(config, tmp_path / "service.log", command="run")
    service.start()

    scenario = Scenario.model_validate({"seed": 11, "events": [
        {"kind": "error_burst", "model": "fraud", "at": f"{ERRORS[0]}s", "duration": f"{ERRORS[1] - ERRORS[0]}s",
         "rate": 0.5},
        {"kind": "concept_drift", "model": "fraud", "at": f"{CONCEPT_AT_S}s"},
    ]})
    now = time.time()
    start_s = (int(now) // 10 + 1) * 10  # on a window boundary: injections fall at window starts
    time.sleep(start_s - now)
    start = datetime.fromtimestamp(start_s, tz=UTC)
    settings = StreamSettings(models=("fraud",), rate=150, start=start, label_coverage=0.9,
                              label_delay_median=timedelta(seconds=2))
    kafka = KafkaConfig(bootstrap_servers=kafka_broker.bootstrap, predictions_topic=topic_names["predictions"],
                        labels_topic=topic_names["labels"])
    simulate(kafka, settings, scenario, duration_s=CONCEPT_AT_S + 30)
    injected_at = start_s + CONCEPT_AT_S

    concept = receiver.wait_for("fraud-concept", "firing", timeout=90)
    assert concept, (tmp_path / "service.log").read_text()[-4000:]
    time.sleep(5)  # nothing more may arrive for it
    concept = receiver.payloads("fraud-concept", "firing")
    assert len({headers["Idempotency-Key"] for _, headers, _ in concept}) == 1
    received_at, headers, payload = concept[0]
    body = next(body for _, h, body in receiver.calls if h["Idempotency-Key"] == headers["Idempotency-Key"])
    assert signature_ok(headers, body, SECRET)
    assert payload["model"] == "fraud" and payload["severity"] == "critical"
    assert datetime.fromisoformat(payload["window_start"]).timestamp() >= injected_at
    print(f"\nconcept drift: injection → webhook received {received_at - injected_at:.1f} s "
          f"(windows of 10 s, labels after ~2 s, rule delay {LABEL_WAIT})")

    # The inputs never changed: no data-drift alert at any time.
    assert receiver.payloads("fraud-data-drift") == []
    engine = create_store_engine(store)
    with engine.connect() as connection:
        rows = connection.execute(
            select(metric_values.c.window_start, metric_values.c.metric, metric_values.c.value)
            .where(metric_values.c.metric.in_(["concept_drift", "accuracy", "label_count"]),
                   metric_values.c.is_partial.is_(False))).all()
    by_window: dict[float, dict[str, float]] = {}
    for window_start, metric, value in rows:
        by_window.setdefault(window_start.timestamp(), {})[metric] = value
    before = [values for at, values in by_window.items() if at < injected_at and values.get("label_count")]
    after = [values for at, values in by_window.items() if at >= injected_at and values.get("label_count")]
    assert before and after, by_window
    assert all(values["concept_drift"] == 0 for values in before), by_window
    assert all(values["concept_drift"] == 1 for values in after), by_window
    assert min(v["accuracy"] for v in before) > max(v["accuracy"] for v in after) + 0.3, by_window

    # The error burst fired its rule in its own window, and resolved once it ended.
    errors = receiver.payloads("fraud-errors", "firing")
    resolved = receiver.payloads("fraud-errors", "resolved")
    assert len(errors) == 1 and len(resolved) == 1, [p for _, _, p in receiver.payloads("fraud-errors")]
    assert datetime.fromisoformat(errors[0][2]["window_start"]).timestamp() == start_s + ERRORS[0]
    assert datetime.fromisoformat(resolved[0][2]["window_start"]).timestamp() == start_s + ERRORS[1]
    assert service.terminate(timeout=120) == 0
