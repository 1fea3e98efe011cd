"""End to end: concept drift and a serving-error burst, live through the real broker
into ``driftwatch run`` with a real webhook receiver.

Concept drift changes how the truth relates to the inputs, not the inputs: no
data-drift alert may fire, but once the late labels are in, the concept-drift rule
(with a ``delay`` for the labels) fires. The error burst fires its rule and resolves
when it ends. On both stores. The covariate-drift and latency scenario is in
``test_detection.py``; missing values, malformed messages and a new version in
``test_data_faults.py``.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from monitor.store.engine import create_store_engine
from monitor.store.tables import metric_values
from tests.e2e.live import BACKENDS, SECRET, e2e_store, start_live_service
from tests.support.webhook import the_signed_call

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ERRORS = (10, 20)  # seconds after the start: a burst of serving errors
CONCEPT_AT_S = 30
LABEL_WAIT = "15s"


@pytest.mark.parametrize("backend", BACKENDS)
def test_concept_drift_fires_on_late_labels_and_an_error_burst_fires_and_resolves(
        backend, kafka_broker, request, topic_names, tmp_path, httpserver: HTTPServer, record_property):
    live = start_live_service(store=e2e_store(backend, request, tmp_path, topic_names),
                              bootstrap=kafka_broker.bootstrap,
                              topics=topic_names, tmp_path=tmp_path, httpserver=httpserver, rules=[
        {"name": "fraud-data-drift", "metric": "dataset_drift_share", "when": "> 0.3", "for": 2,
         "severity": "critical"},
        {"name": "fraud-concept", "metric": "concept_drift", "when": "== 1", "delay": LABEL_WAIT,
         "severity": "critical"},
        {"name": "fraud-errors", "metric": "error_rate", "when": "> 0.2", "severity": "warning"},
    ])
    receiver = live.receiver
    start_s = live.stream({"seed": 11, "events": [
        {"kind": "error_burst", "model": "fraud", "at": f"{ERRORS[0]}s", "duration": f"{ERRORS[1] - ERRORS[0]}s",
         "rate": 0.5},
        {"kind": "concept_drift", "model": "fraud", "at": f"{CONCEPT_AT_S}s"},
    ]}, duration_s=CONCEPT_AT_S + 30, label_coverage=0.9, label_delay_s=2)
    injected_at = start_s + CONCEPT_AT_S

    concept = receiver.wait_for("fraud-concept", "firing", timeout=90)
    assert concept, live.log_tail()
    time.sleep(5)  # nothing more may arrive for it
    received_at, payload = the_signed_call(receiver, "fraud-concept", "firing", SECRET)
    assert payload["model"] == "fraud" and payload["severity"] == "critical"
    assert datetime.fromisoformat(payload["window_start"]).timestamp() >= injected_at
    measured = (f"[{backend}] concept drift: injection → webhook received {received_at - injected_at:.1f} s "
                f"(windows of 10 s, labels after ~2 s, rule delay {LABEL_WAIT})")
    print(f"\n{measured}")
    record_property("measured", measured)

    # The inputs never changed: no data-drift alert at any time.
    assert receiver.payloads("fraud-data-drift") == []
    engine = create_store_engine(live.store)
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
    assert len(errors) == 1 and len(resolved) == 1, [call.body for call in receiver.payloads("fraud-errors")]
    assert datetime.fromisoformat(errors[0].body["window_start"]).timestamp() == start_s + ERRORS[0]
    assert datetime.fromisoformat(resolved[0].body["window_start"]).timestamp() == start_s + ERRORS[1]
    assert live.process.terminate(timeout=120) == 0
