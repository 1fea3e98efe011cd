"""The alert service loop on the real clock, and the outbox's lease fencing."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import Engine

from alerts.channels.config import build_channels
from alerts.dispatcher import Dispatcher
from alerts.evaluation import evaluate_window
from alerts.outbox import Delivered, Retry, claim_due, settle
from alerts.service import AlertService
from alerts.transactions import write_transaction
from tests.alerts.support import drift, drift_rule, make_config, notification_rows
from tests.support.webhook import Receiver


def test_service_catches_up_and_delivers_until_stopped(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule()], channels={"hook": {"type": "webhook", "url": receiver.url}})
    drift(engine, 0, 0.7)
    drift(engine, 1, 0.8)  # saved by a scheduler while the alert service was down
    dispatcher = Dispatcher(engine, config, build_channels(config.alerts), poll_interval=0.05)
    service = AlertService(engine, config, evaluate_every=timedelta(milliseconds=100), dispatcher=dispatcher)
    stop = threading.Event()
    runner = threading.Thread(target=service.run, args=(stop,))
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while not receiver.delivered() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a few more rounds: nothing else may arrive
    finally:
        stop.set()
        runner.join(timeout=30)

    assert not runner.is_alive()
    assert [call.event for call in receiver.delivered()] == ["firing"]
    assert [row.status for row in notification_rows(engine)] == ["delivered"]


def test_only_the_current_claimer_can_reschedule_a_notification(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule(**{"for": 1})], channels={"hook": {"type": "webhook", "url": receiver.url}})
    start, end = drift(engine, 0, 0.9)
    evaluate_window(engine, config, model="fraud", model_version="v1", window_start=start, window_end=end, now=end)
    lease = timedelta(minutes=5)

    with write_transaction(engine, "claim") as connection:
        [stale] = claim_due(connection, now=end, limit=10, lease=lease)
        assert claim_due(connection, now=end + timedelta(minutes=1), limit=10, lease=lease) == []
    with write_transaction(engine, "claim again") as connection:
        [current] = claim_due(connection, now=end + lease, limit=10, lease=lease)

    assert (stale.attempts, current.attempts) == (1, 2)
    with write_transaction(engine, "settle") as connection:
        assert not settle(connection, stale, Retry(end + timedelta(hours=1), "late"), now=end + lease)
        assert settle(connection, current, Delivered("HTTP 200"), now=end + lease)
    row = notification_rows(engine)[0]
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)
