"""End to end: missing values, malformed messages and a new model version, live through
the real broker into ``driftwatch run`` with a real webhook receiver.

Missing values in one feature fire that feature's ``missing_share`` rule in their own
window and resolve when they end. Malformed messages end in ``dead_letters``, each
with a reason, and are counted in the model's windows. The new version gets windows
of its own from the moment it starts serving. Nothing of this is data drift. On both
stores.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from monitor.store.engine import create_store_engine
from monitor.store.tables import dead_letters, metric_values
from tests.e2e.live import BACKENDS, e2e_store, start_live_service

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MALFORMED = (0, 10)  # seconds after the start: 5% of messages broken
MISSING = (10, 20)  # country missing in 60% of fraud's messages
NEW_VERSION_AT_S = 30


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_values_malformed_messages_and_a_new_version(
        backend, kafka_broker, request, topic_names, tmp_path, httpserver: HTTPServer):
    live = start_live_service(store=e2e_store(backend, request, tmp_path, topic_names),
                              bootstrap=kafka_broker.bootstrap,
                              topics=topic_names, tmp_path=tmp_path, httpserver=httpserver, rules=[
        {"name": "fraud-data-drift", "metric": "dataset_drift_share", "when": "> 0.3", "for": 2,
         "severity": "critical"},
        {"name": "fraud-missing", "metric": "missing_share", "feature": "country", "when": "> 0.3",
         "severity": "warning"},
    ])
    receiver = live.receiver
    start_s = live.stream({"seed": 23, "events": [
        {"kind": "malformed", "at": f"{MALFORMED[0]}s", "duration": f"{MALFORMED[1] - MALFORMED[0]}s",
         "rate": 0.05},
        {"kind": "missing_values", "model": "fraud", "at": f"{MISSING[0]}s", "duration": f"{MISSING[1] - MISSING[0]}s",
         "features": ["country"], "share": 0.6},
        {"kind": "new_version", "model": "fraud", "at": f"{NEW_VERSION_AT_S}s", "version": "v2"},
    ]}, duration_s=NEW_VERSION_AT_S + 20)

    # Missing values: the per-feature rule fires for country in its window, and resolves.
    assert receiver.wait_for("fraud-missing", "resolved", timeout=90), live.log_tail()
    missing = [call.body for call in receiver.payloads("fraud-missing")]
    assert [(p["event"], p["feature"], datetime.fromisoformat(p["window_start"]).timestamp() - start_s)
            for p in missing] == [("firing", "country", MISSING[0]), ("resolved", "country", MISSING[1])], missing

    engine = create_store_engine(live.store)
    with engine.connect() as connection:
        letters = connection.execute(select(dead_letters.c.reason, dead_letters.c.model)).all()
        counted = connection.execute(
            select(func.sum(metric_values.c.value)).where(metric_values.c.metric == "dead_letter_count")).scalar()
        versions = connection.execute(
            select(metric_values.c.model_version, func.min(metric_values.c.window_start),
                   func.max(metric_values.c.window_start))
            .where(metric_values.c.metric == "prediction_count", metric_values.c.value > 0)
            .group_by(metric_values.c.model_version)).all()
    # Malformed messages (5% of 10 s at 150/s, about 75): each stored with a reason; those
    # whose model can still be read are counted in that model's dead_letter_count.
    assert 20 <= len(letters) <= 200 and all(reason for reason, _ in letters), letters[:5]
    attributed = sum(model == "fraud" for _, model in letters)
    assert counted is not None and 0 < counted <= attributed, (counted, attributed, len(letters))
    # The new version serves from its start on, in windows of its own.
    spans = {version: (first.timestamp() - start_s, last.timestamp() - start_s) for version, first, last in versions}
    assert spans["v1"][1] < NEW_VERSION_AT_S <= spans["v2"][0], spans
    # None of it is data drift.
    assert receiver.payloads("fraud-data-drift") == []
    assert live.process.terminate(timeout=120) == 0
