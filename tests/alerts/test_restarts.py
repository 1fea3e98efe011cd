"""No notification lost or sent twice across restarts: the dispatcher SIGKILLed in a
child process mid-retry and restarted, a crash between the receiver's 200 and the
commit, and the evaluator resuming from the stored state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine

from alerts.channels.config import build_channels
from alerts.dispatcher import Dispatcher
from alerts.evaluation import evaluate_due, evaluate_window
from monitor.store.engine import create_store_engine
from tests.alerts.support import (
    DASHBOARD,
    MODELS,
    alert_rows,
    drift,
    drift_rule,
    iso,
    make_config,
    notification_rows,
    window,
)
from tests.support.webhook import Receiver

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("dispatcher_process.py")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    # Generous: the machine running the tests may be busy (child start-up is ~1 s when idle).
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[[str, dict[str, Any]], subprocess.Popen[bytes]]]:
    """Start dispatcher processes; any still running at the end is killed."""
    children: list[subprocess.Popen[bytes]] = []

    def start(store_url: str, config: dict[str, Any]) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"dispatcher-{len(children)}.log", "wb")  # noqa: SIM115 - closed with the process
        child = subprocess.Popen(
            [sys.executable, str(CHILD), store_url, json.dumps(config)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1,localhost"},
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)


def config_data(channels: dict[str, Any], **alerts: Any) -> dict[str, Any]:
    return {
        "models": MODELS,
        "alerts": {"rules": [drift_rule(**{"for": 1}, channels=list(channels))], "channels": channels, **alerts},
        "dashboard": {"base_url": DASHBOARD},
    }


def fire_now(engine: Engine, data: dict[str, Any]) -> None:
    """A breached window evaluated on the real clock (the child dispatches on it too)."""
    config = make_config(rules=data["alerts"]["rules"], channels=data["alerts"]["channels"])
    start, end = drift(engine, 0, 0.9)
    evaluate_window(engine, config, model="fraud", model_version="v1", window_start=start, window_end=end,
                    now=datetime.now(UTC))


@pytest.mark.slow
def test_dispatcher_killed_mid_retry_delivers_exactly_once_after_restart(
    store_url: str, engine: Engine, httpserver: HTTPServer, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    first, second = Receiver(httpserver, "/a"), Receiver(httpserver, "/b")
    first.default = second.default = 500
    data = config_data({"hook-a": {"type": "webhook", "url": first.url},
                        "hook-b": {"type": "webhook", "url": second.url}})
    fire_now(engine, data)

    child = spawn(store_url, data)
    wait_for(lambda: len(first.calls) >= 3 and len(second.calls) >= 3, "three failed attempts each")
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=10) == -signal.SIGKILL
    # A request the dead process already sent must still get its 500, not the 200 below.
    wait_for(lambda: first.arrivals == len(first.calls) and second.arrivals == len(second.calls), "quiet")
    time.sleep(1.0)
    failed_before = len(first.calls) + len(second.calls)
    first.default = second.default = 200

    restarted = spawn(store_url, data)
    wait_for(lambda: {row.status for row in notification_rows(engine)} == {"delivered"}, "both delivered")
    time.sleep(0.5)  # any duplicate would arrive now
    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(timeout=10) == 0

    rows = notification_rows(engine)
    assert len(rows) == 2
    for receiver, row in zip((first, second), rows, strict=True):
        assert receiver.accepted_per_key() == {row.idempotency_key: 1}
        assert set(receiver.attempts_per_key()) == {row.idempotency_key}
        assert row.attempts == len(receiver.calls) >= 4
    assert failed_before >= 6


@pytest.mark.slow
def test_a_crash_between_the_receivers_ok_and_the_commit_resends_once_with_the_same_key(
    store_url: str, engine: Engine, httpserver: HTTPServer, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    receiver = Receiver(httpserver, "/hook")
    receiver.answer(200, delay=2.0)  # accepts, but answers slowly: the dispatcher dies meanwhile
    data = config_data({"hook": {"type": "webhook", "url": receiver.url}})
    fire_now(engine, data)

    child = spawn(store_url, data)
    wait_for(lambda: receiver.arrivals == 1, "the first request")
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    wait_for(lambda: len(receiver.calls) == 1, "the receiver to finish the first request")

    restarted = spawn(store_url, data)
    wait_for(lambda: notification_rows(engine)[0].status == "delivered", "delivery after the lease ran out")
    restarted.send_signal(signal.SIGTERM)
    restarted.wait(timeout=10)

    row = notification_rows(engine)[0]
    # At least once, with a key: the receiver saw it twice, under one Idempotency-Key.
    assert receiver.accepted_per_key() == {row.idempotency_key: 2}
    assert row.attempts == 2


def test_restarted_evaluator_and_dispatcher_neither_refire_nor_lose_the_resolution(
    store_url: str, engine: Engine, receiver: Receiver
) -> None:
    config = make_config(rules=[drift_rule()], channels={"hook": {"type": "webhook", "url": receiver.url}})
    step = timedelta(minutes=5)
    for hour in (0, 1):
        start, end = drift(engine, hour, 0.8)
        evaluate_window(engine, config, model="fraud", model_version="v1", window_start=start, window_end=end,
                        now=end + step)
    Dispatcher(engine, config, build_channels(config.alerts)).dispatch_once(window(1)[1] + step)
    assert receiver.events() == [("firing", iso(window(1)[0]))]
    # The service goes down; the scheduler keeps saving windows (2 still in breach, 3 calm).
    drift(engine, 2, 0.9)
    drift(engine, 3, 0.1)
    engine.dispose()

    restarted = create_store_engine(store_url)
    try:
        now = window(3)[1] + step
        replay = evaluate_window(restarted, config, model="fraud", model_version="v1",
                                 window_start=window(1)[0], window_end=window(1)[1], now=now)
        caught_up = evaluate_due(restarted, config, now)
        Dispatcher(restarted, config, build_channels(config.alerts)).dispatch_once(now)
        again = evaluate_due(restarted, config, now)
    finally:
        restarted.dispose()

    assert (replay.windows, replay.notifications) == (0, 0)
    assert (caught_up.windows, caught_up.notifications) == (2, 1)
    assert (again.windows, again.notifications) == (0, 0)
    assert receiver.events() == [("firing", iso(window(1)[0])), ("resolved", iso(window(3)[0]))]
    assert [(row.state, row.resolved_at) for row in alert_rows(engine)] == [("resolved", window(3)[1])]


def test_queued_notifications_survive_a_restart(store_url: str, engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule(**{"for": 1})], channels={"hook": {"type": "webhook", "url": receiver.url}})
    start, end = drift(engine, 0, 0.9)
    evaluate_window(engine, config, model="fraud", model_version="v1", window_start=start, window_end=end, now=end)
    engine.dispose()  # stopped before any dispatch

    restarted = create_store_engine(store_url)
    try:
        Dispatcher(restarted, config, build_channels(config.alerts)).dispatch_once(end + timedelta(hours=3))
    finally:
        restarted.dispose()

    assert receiver.events() == [("firing", iso(start))]


def test_catch_up_evaluates_missed_windows_in_order(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule()], channels={"hook": {"type": "webhook", "url": receiver.url}})
    evaluate_due(engine, config, window(0)[0])  # the service starts before any window exists
    for hour, share in enumerate([0.5, 0.6, 0.7, 0.1, 0.9]):
        drift(engine, hour, share)
    now = window(4)[1] + timedelta(minutes=1)

    report = evaluate_due(engine, config, now)
    Dispatcher(engine, config, build_channels(config.alerts)).dispatch_once(now)

    assert report.windows == 5
    assert receiver.events() == [("firing", iso(window(1)[0])), ("resolved", iso(window(3)[0]))]
    assert [row.state for row in alert_rows(engine)] == ["resolved", "pending"]


def test_a_new_rule_judges_the_present_not_the_whole_history(engine: Engine, receiver: Receiver) -> None:
    history = [0.9, 0.9, 0.1, 0.9, 0.9, 0.1, 0.9, 0.1, 0.9, 0.9]  # alerts came and went before the rule
    for hour, share in enumerate(history):
        drift(engine, hour, share)
    config = make_config(rules=[drift_rule()], channels={"hook": {"type": "webhook", "url": receiver.url}})
    now = window(9)[1] + timedelta(minutes=1)

    report = evaluate_due(engine, config, now)
    Dispatcher(engine, config, build_channels(config.alerts)).dispatch_once(now)

    assert report.windows == 2  # `for: 2`: the newest two windows decide
    assert receiver.events() == [("firing", iso(window(9)[0]))]
    assert [(row.state, row.started_at) for row in alert_rows(engine)] == [("firing", window(8)[0])]


def test_removing_a_rule_closes_its_open_alerts_quietly(engine: Engine, receiver: Receiver) -> None:
    channels = {"hook": {"type": "webhook", "url": receiver.url}}
    config = make_config(rules=[drift_rule(**{"for": 1})], channels=channels)
    start, end = drift(engine, 0, 0.9)
    evaluate_window(engine, config, model="fraud", model_version="v1", window_start=start, window_end=end, now=end)

    evaluate_due(engine, make_config(rules=[], channels=channels), end + timedelta(hours=1))

    assert [(row.state, row.resolved_at) for row in alert_rows(engine)] == [("resolved", end + timedelta(hours=1))]
    assert [row.event for row in notification_rows(engine)] == ["firing"]
