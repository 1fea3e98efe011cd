"""How Slack and webhook deliveries classify failures, against a real HTTP server
that misbehaves on purpose (status codes, Retry-After, slowness) or a closed port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from alerts.channels import SlackChannel, WebhookChannel
from alerts.channels.base import Channel
from alerts.channels.http_transport import parse_retry_after
from alerts.errors import (
    RESPONSE_BODY_LIMIT,
    DeliveryConnectionError,
    DeliveryError,
    DeliveryRejected,
    DeliveryTimeout,
)
from alerts.notification import Notification

MakeNotification = Callable[..., Notification]
PATH = "/services/T0/B0/pathSECRET"
BuildChannel = Callable[[str, float], Channel]


def slack(url: str, timeout: float) -> Channel:
    return SlackChannel(name="ml-team", webhook_url=url, timeout=timeout)


def webhook(url: str, timeout: float) -> Channel:
    return WebhookChannel(name="ml-team", url=url, secret="s3cr3t", timeout=timeout)


@pytest.fixture(params=[slack, webhook], ids=["slack", "webhook"])
def build(request: pytest.FixtureRequest) -> BuildChannel:
    builder: BuildChannel = request.param
    return builder


def fail(
    httpserver: HTTPServer, build: BuildChannel, notification: Notification, timeout: float = 5.0
) -> DeliveryError:
    channel = build(httpserver.url_for(PATH), timeout)
    with pytest.raises(DeliveryError) as caught:
        channel.deliver(notification)
    error = caught.value
    assert error.channel == "ml-team"
    assert "'ml-team'" in str(error)
    assert "pathSECRET" not in str(error)  # the URL path may be the credential
    return error


def test_server_error_is_retryable(
    httpserver: HTTPServer, build: BuildChannel, make_notification: MakeNotification
) -> None:
    httpserver.expect_request(PATH).respond_with_data("upstream broke", status=500)

    error = fail(httpserver, build, make_notification())

    assert isinstance(error, DeliveryRejected)
    assert (error.retryable, error.status, error.retry_after) == (True, 500, None)
    assert error.response_body == "upstream broke"
    assert "HTTP 500" in str(error) and "retry later" in str(error)


def test_429_is_retryable_after_the_servers_delay(
    httpserver: HTTPServer, build: BuildChannel, make_notification: MakeNotification
) -> None:
    httpserver.expect_request(PATH).respond_with_data("rate_limited", status=429, headers={"Retry-After": "7"})

    error = fail(httpserver, build, make_notification())

    assert (error.retryable, error.status, error.retry_after) == (True, 429, 7.0)
    assert "rate-limiting; retry after 7 s" in str(error)


def test_503_with_an_http_date_retry_after(
    httpserver: HTTPServer, build: BuildChannel, make_notification: MakeNotification
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    httpserver.expect_request(PATH).respond_with_data("maintenance", status=503, headers={"Retry-After": when})

    error = fail(httpserver, build, make_notification())

    assert error.retryable and error.status == 503
    assert error.retry_after is not None and 110 <= error.retry_after <= 120


def test_400_is_not_retryable_and_keeps_the_response_body(
    httpserver: HTTPServer, build: BuildChannel, make_notification: MakeNotification
) -> None:
    httpserver.expect_request(PATH).respond_with_data("invalid_blocks", status=400)

    error = fail(httpserver, build, make_notification())

    assert isinstance(error, DeliveryRejected)
    assert (error.retryable, error.status) == (False, 400)
    assert error.response_body == "invalid_blocks"
    assert "invalid_blocks" in str(error)


def test_404_says_the_url_is_gone(
    httpserver: HTTPServer, build: BuildChannel, make_notification: MakeNotification
) -> None:
    httpserver.expect_request(PATH).respond_with_data("no_service", status=404)

    error = fail(httpserver, build, make_notification())

    assert (error.retryable, error.status) == (False, 404)
    assert "does not exist" in str(error)


def test_a_long_response_body_is_truncated_to_2_kb(
    httpserver: HTTPServer, build: BuildChannel, make_notification: MakeNotification
) -> None:
    httpserver.expect_request(PATH).respond_with_data("é" * 5000, status=422)

    error = fail(httpserver, build, make_notification())

    assert error.response_body is not None
    assert len(error.response_body.encode("utf-8")) <= RESPONSE_BODY_LIMIT
    assert error.response_body.startswith("éééé") and error.response_body.endswith("…[truncated]")


def test_redirects_are_not_followed(
    httpserver: HTTPServer, build: BuildChannel, make_notification: MakeNotification
) -> None:
    httpserver.expect_request(PATH).respond_with_data("", status=302, headers={"Location": "/elsewhere?t=1"})
    httpserver.expect_request("/elsewhere").respond_with_data("ok")

    error = fail(httpserver, build, make_notification())

    assert (error.retryable, error.status) == (False, 302)
    assert "configure the final URL" in str(error)
    assert [request.path for request, _ in httpserver.log] == [PATH]


def test_a_server_slower_than_the_timeout_is_a_retryable_timeout(
    httpserver: HTTPServer, build: BuildChannel, make_notification: MakeNotification
) -> None:
    release = threading.Event()

    def stall(request: Request) -> Response:
        release.wait(10)
        return Response("ok")

    httpserver.expect_request(PATH).respond_with_handler(stall)
    started = time.monotonic()
    try:
        error = fail(httpserver, build, make_notification(), timeout=0.5)
    finally:
        release.set()

    assert isinstance(error, DeliveryTimeout)
    assert error.retryable and error.status is None
    assert "did not answer within 0.5 s" in str(error)
    assert time.monotonic() - started < 5


def test_connection_refused_is_retryable(
    closed_port: int, build: BuildChannel, make_notification: MakeNotification
) -> None:
    channel = build(f"http://127.0.0.1:{closed_port}{PATH}", 5.0)

    with pytest.raises(DeliveryConnectionError) as caught:
        channel.deliver(make_notification())

    assert caught.value.retryable and caught.value.status is None
    assert "could not reach http://127.0.0.1:" in str(caught.value)
    assert "pathSECRET" not in str(caught.value)


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now=now) == 0.0  # past: now
    for unreadable in (None, "", "-5", "soon", "inf", "nan"):
        assert parse_retry_after(unreadable, now=now) is None
