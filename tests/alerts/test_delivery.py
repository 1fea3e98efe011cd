"""The dispatcher against a real HTTP receiver that fails on purpose: retries with
backoff until delivered exactly once, Retry-After honoured, 4xx failed at once and
recorded, the delivery deadline, unknown channels, and concurrent dispatchers."""

from __future__ import annotations

import logging
import random
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, select, update

from alerts.backoff import Backoff
from alerts.channels.config import build_channels
from alerts.dispatcher import Dispatcher
from alerts.evaluation import evaluate_window
from monitor.config.models import DriftwatchConfig
from monitor.store.tables import notifications
from tests.alerts.support import drift, drift_rule, make_config, notification_rows
from tests.support.webhook import Receiver


def fire(engine: Engine, config: DriftwatchConfig, hour: int = 0, *, model: str = "fraud") -> datetime:
    """One breached window of a `for: 1` rule: one firing notification per channel, queued."""
    start, end = drift(engine, hour, 0.9, model=model)
    now = end + timedelta(minutes=1)
    evaluate_window(engine, config, model=model, model_version="v1", window_start=start, window_end=end, now=now)
    return now


def calm(engine: Engine, config: DriftwatchConfig, hour: int) -> datetime:
    """A window without breach, evaluated: resolves the alert."""
    start, end = drift(engine, hour, 0.0)
    now = end + timedelta(minutes=1)
    evaluate_window(engine, config, model="fraud", model_version="v1", window_start=start, window_end=end, now=now)
    return now


def config_for(receiver: Receiver, **alerts: Any) -> DriftwatchConfig:
    return make_config(rules=[drift_rule(**{"for": 1})],
                       channels={"hook": {"type": "webhook", "url": receiver.url, "timeout": "1s"}}, **alerts)


def dispatcher(engine: Engine, config: DriftwatchConfig, **kwargs: Any) -> Dispatcher:
    return Dispatcher(engine, config, build_channels(config.alerts), rng=random.Random(7), **kwargs)


def only_row(engine: Engine) -> Any:
    rows = notification_rows(engine)
    assert len(rows) == 1
    return rows[0]


def test_server_errors_then_success_deliver_exactly_once_with_growing_backoff(
    engine: Engine, receiver: Receiver
) -> None:
    config = config_for(receiver)
    now = fire(engine, config)
    receiver.answer(500, 502, 503)
    post = dispatcher(engine, config)
    waits = []

    for _ in range(10):
        post.dispatch_once(now)
        row = only_row(engine)
        if row.status != "pending":
            break
        post.dispatch_once(row.next_attempt_at - timedelta(milliseconds=1))  # not yet due: nothing sent
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at

    row = only_row(engine)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 4, now)
    assert [call.status for call in receiver.calls] == [500, 502, 503, 200]
    assert len(receiver.attempts_per_key()) == 1  # the same Idempotency-Key on every attempt
    assert receiver.accepted_per_key() == {row.idempotency_key: 1}
    # base 2 s, factor 2, up to half taken off by jitter
    assert [low <= wait <= high for wait, (low, high) in zip(waits, [(1, 2), (2, 4), (4, 8)], strict=True)] == [
        True, True, True]
    assert "attempt 3" in row.last_error and "HTTP 503" in row.last_error


def test_timeouts_are_retried(engine: Engine, receiver: Receiver) -> None:
    config = config_for(receiver)
    now = fire(engine, config)
    receiver.answer(504, delay=1.5)  # slower than the channel's 1 s timeout

    post = dispatcher(engine, config)
    post.dispatch_once(now)
    row = only_row(engine)
    assert row.status == "pending" and "did not answer within 1 s" in row.last_error

    post.dispatch_once(row.next_attempt_at)
    assert only_row(engine).status == "delivered"
    assert receiver.accepted_per_key() == {row.idempotency_key: 1}


def test_429_retry_after_is_honoured(engine: Engine, receiver: Receiver) -> None:
    config = config_for(receiver)
    now = fire(engine, config)
    receiver.answer(429, headers={"Retry-After": "120"})
    post = dispatcher(engine, config)

    post.dispatch_once(now)
    row = only_row(engine)
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at >= now + timedelta(seconds=120)
    assert "HTTP 429" in row.last_error

    post.dispatch_once(now + timedelta(seconds=119))
    assert len(receiver.calls) == 1
    post.dispatch_once(row.next_attempt_at)
    assert only_row(engine).status == "delivered" and len(receiver.calls) == 2


def test_a_4xx_fails_at_once_with_the_response_recorded(engine: Engine, receiver: Receiver) -> None:
    config = config_for(receiver)
    now = fire(engine, config)
    receiver.answer(400)
    post = dispatcher(engine, config)

    post.dispatch_once(now)
    for later in (timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)):
        post.dispatch_once(now + later)

    row = only_row(engine)
    assert (row.status, row.attempts, row.next_attempt_at, row.delivered_at) == ("failed", 1, None, None)
    assert "HTTP 400" in row.last_error and "failure 400" in row.last_error and "not retried" in row.last_error
    assert len(receiver.calls) == 1


def test_gives_up_after_max_delivery_time(engine: Engine, receiver: Receiver) -> None:
    config = config_for(receiver, max_delivery_time="1m")
    now = fire(engine, config)
    receiver.default = 500
    post = dispatcher(engine, config)

    start = now
    while only_row(engine).status == "pending":
        post.dispatch_once(now)
        row = only_row(engine)
        if row.next_attempt_at is not None:
            assert row.next_attempt_at <= start + timedelta(minutes=1)
            now = row.next_attempt_at
    row = only_row(engine)
    assert row.status == "failed" and "gave up after" in row.last_error and "max_delivery_time" in row.last_error
    assert row.attempts == len(receiver.calls) >= 3


def test_a_channel_removed_from_the_config_fails_its_notifications(engine: Engine, receiver: Receiver) -> None:
    config = config_for(receiver)
    now = fire(engine, config)

    Dispatcher(engine, config, {}).dispatch_once(now)

    row = only_row(engine)
    assert row.status == "failed" and "'hook'" in row.last_error and "not configured" in row.last_error
    assert receiver.calls == []


def test_payload_holds_no_secret_and_the_webhook_is_signed(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule(**{"for": 1})],
                         channels={"hook": {"type": "webhook", "url": receiver.url, "secret": "s3cr3t-Hk",
                                            "headers": {"Authorization": "Bearer tok-123"}}})
    now = fire(engine, config)

    dispatcher(engine, config).dispatch_once(now)

    row = only_row(engine)
    assert "s3cr3t-Hk" not in str(row.payload) and "tok-123" not in str(row.payload)
    call = receiver.delivered()[0]
    assert call.headers["Idempotency-Key"] == row.idempotency_key == row.payload["idempotency_key"]
    assert call.headers["X-Driftwatch-Signature"].startswith("sha256=")


def test_no_secret_reaches_the_log_or_the_outbox_through_failures_and_success(
    engine: Engine, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = ["T9/B9/slack-path-Zk2", "s3cr3t-Hk", "tok-123"]
    slack = Receiver(httpserver, "/services/T9/B9/slack-path-Zk2")
    hook = Receiver(httpserver, "/hooks/retrain")
    config = make_config(rules=[drift_rule(**{"for": 1}, channels=["ml-team", "retrain"])], channels={
        "ml-team": {"type": "slack", "webhook_url": slack.url},
        "retrain": {"type": "webhook", "url": hook.url, "secret": "s3cr3t-Hk",
                    "headers": {"Authorization": "Bearer tok-123"}},
    })
    slack.answer(500, 404)  # a retry, then a refusal that is recorded with its response
    hook.answer(503)
    now = fire(engine, config)
    post = dispatcher(engine, config)

    with caplog.at_level(logging.DEBUG):
        for minutes in range(0, 30, 5):
            post.dispatch_once(now + timedelta(minutes=minutes))

    assert [row.status for row in notification_rows(engine)] == ["failed", "delivered"]
    # Everything logged in this process except the test's own HTTP server (werkzeug).
    logged = "\n".join(f"{record.name} {record.getMessage()} {record.__dict__}" for record in caplog.records
                       if not record.name.startswith("werkzeug"))
    assert "notification not delivered" in logged
    recorded = " ".join(f"{row.last_error} {row.payload}" for row in notification_rows(engine))
    for secret in secrets:
        assert secret not in logged and secret not in recorded, secret


def test_a_crashed_claim_is_retried_after_its_lease(engine: Engine, receiver: Receiver) -> None:
    config = config_for(receiver)
    now = fire(engine, config)
    with engine.begin() as connection:  # as if a dispatcher claimed the row and died
        connection.execute(update(notifications).values(attempts=1, next_attempt_at=now + timedelta(minutes=5)))
    post = dispatcher(engine, config)

    post.dispatch_once(now + timedelta(minutes=4))
    assert receiver.calls == []
    post.dispatch_once(now + timedelta(minutes=5))
    row = only_row(engine)
    assert (row.status, row.attempts) == ("delivered", 2)


def test_concurrent_dispatchers_deliver_each_notification_once(engine: Engine, receiver: Receiver) -> None:
    config = config_for(receiver)
    now = datetime.min
    for hour in range(0, 24, 2):  # 12 alerts fire and resolve → 24 notifications
        fire(engine, config, hour)
        now = calm(engine, config, hour + 1)
    receiver.answer(*([200] * 40), delay=0.02)
    workers = [dispatcher(engine, config, batch_size=3) for _ in range(3)]
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def work(post: Dispatcher) -> None:
        try:
            barrier.wait()
            while post.dispatch_once(now).claimed:
                pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(post,)) for post in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    rows = notification_rows(engine)
    assert len(rows) == 24 and {row.status for row in rows} == {"delivered"}
    assert set(receiver.attempts_per_key().values()) == {1}
    assert set(receiver.accepted_per_key()) == {row.idempotency_key for row in rows}


@pytest.mark.parametrize("attempt", [1, 5, 30])
def test_backoff_delays_stay_within_bounds(attempt: int) -> None:
    backoff = Backoff()
    expected = min(300.0, 2.0 * 2 ** (attempt - 1))
    delays = [backoff.delay(attempt, random.Random(seed)) for seed in range(50)]
    assert all(expected / 2 <= delay <= expected for delay in delays)
    assert len(set(delays)) > 1  # jittered


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"base": 0}, "base must be > 0"), ({"factor": 0.5}, "factor must be >= 1"),
    ({"cap": 1}, "cap"), ({"jitter": 1}, "jitter must be in"),
])
def test_backoff_rejects_bad_parameters(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)


def test_rows_are_claimed_oldest_first(engine: Engine, receiver: Receiver) -> None:
    config = config_for(receiver)
    fire(engine, config, 0)
    now = calm(engine, config, 1)

    dispatcher(engine, config, batch_size=1).dispatch_once(now)

    with engine.connect() as connection:
        statuses = connection.execute(select(notifications.c.status).order_by(notifications.c.id)).scalars().all()
    assert statuses == ["delivered", "pending"]
