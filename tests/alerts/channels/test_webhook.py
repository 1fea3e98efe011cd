"""WebhookChannel against a real HTTP server: body, signature, idempotency, templates."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from alerts.channels import WebhookChannel, verify_signature
from alerts.errors import ChannelConfigError, PayloadError
from alerts.notification import Notification
from tests.support.webhook import Call, Receiver

from .conftest import HOSTILE

MakeNotification = Callable[..., Notification]
SECRET = "whsec-7f3a-not-for-logs"
TEMPLATES_DOC = Path(__file__).parents[3] / "alerts" / "channels" / "webhook_templates.md"


def reference_verify(secret: str, request: Call) -> bool:
    """Written from the spec, independent of driftwatch: HMAC-SHA256 of "<ts>.<body>"."""
    timestamp = request.headers["X-Driftwatch-Timestamp"]
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + request.raw, hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(), request.headers["X-Driftwatch-Signature"])


@pytest.fixture
def hook(httpserver: HTTPServer) -> Receiver:
    return Receiver(httpserver, "/hooks/retrain", default=204)


def post(hook: Receiver, notification: Notification, **kwargs: Any) -> Call:
    channel = WebhookChannel(name="retrain-fraud", url=hook.url, **kwargs)

    receipt = channel.deliver(notification)

    assert (receipt.status, receipt.summary) == (204, "HTTP 204")
    return hook.last()


def documented_template(marker: str) -> str:
    blocks: list[str] = re.findall(r"```jinja\n(.*?)```", TEMPLATES_DOC.read_text(encoding="utf-8"), re.DOTALL)
    matching = [block for block in blocks if marker in block]
    assert len(matching) == 1, f"webhook_templates.md has no single jinja block with {marker!r}"
    return matching[0]


def test_default_body_is_the_notification_plus_type(
    hook: Receiver, make_notification: MakeNotification
) -> None:
    notification = make_notification(feature="amount")
    request = post(hook, notification)

    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.raw) == {"type": "driftwatch.alert", **notification.to_dict(),
                                              "value_display": "0.42"}
    assert "X-Driftwatch-Signature" not in request.headers  # no secret configured
    assert abs(int(request.headers["X-Driftwatch-Timestamp"]) - time.time()) < 60


@pytest.mark.parametrize(("value", "condition", "shown"), [
    (319.93340000000006, "> 150", "319.9"),
    (0.30004, "> 0.3", "0.30004"),  # more digits rather than "0.3 (rule: > 0.3)"
    (6000.0, "> 5000", "6000"),
    (float("nan"), "> 0.3", "n/a"),
])
def test_the_body_keeps_the_exact_value_and_adds_value_display(
    hook: Receiver, make_notification: MakeNotification, value: float, condition: str, shown: str
) -> None:
    notification = make_notification(metric="latency_p95_ms", value=value, condition=condition,
                                     state="resolved", event="resolved")
    request = post(hook, notification, body_template='{"v": {{ value | tojson }}, '
                                                           '"shown": {{ value_display | tojson }}}')
    body = json.loads(request.raw)
    assert body == {"v": None if value != value else value, "shown": shown}  # exact, to the last bit

    default = json.loads(post(hook, notification).raw)
    assert (default["value_display"], list(default).index("value_display")) == (shown, list(default).index("value") + 1)
    assert default["value"] == body["v"]


def test_signature_verifies_with_a_reference_verifier_and_verify_signature(
    hook: Receiver, make_notification: MakeNotification
) -> None:
    request = post(hook, make_notification(), secret=SECRET)
    body = request.raw
    timestamp = request.headers["X-Driftwatch-Timestamp"]
    signature = request.headers["X-Driftwatch-Signature"]

    assert re.fullmatch(r"sha256=[0-9a-f]{64}", signature)
    assert reference_verify(SECRET, request)
    assert verify_signature(SECRET, timestamp, body, signature)
    assert verify_signature(SECRET.encode(), int(timestamp), body.decode(), signature)


def test_tampering_replay_and_wrong_secret_fail_verification(
    hook: Receiver, make_notification: MakeNotification
) -> None:
    request = post(hook, make_notification(), secret=SECRET)
    body = request.raw
    timestamp = request.headers["X-Driftwatch-Timestamp"]
    signature = request.headers["X-Driftwatch-Signature"]

    assert not verify_signature(SECRET, timestamp, body.replace(b"0.42", b"0.05"), signature)
    assert not verify_signature(SECRET, str(int(timestamp) + 1), body, signature)
    assert not verify_signature("another-secret", timestamp, body, signature)
    assert not verify_signature(SECRET, timestamp, body, signature.replace("sha256=", "sha1="))
    assert not verify_signature(SECRET, timestamp, body, "garbage")
    assert not verify_signature(SECRET, "not-a-number", body, signature)
    replayed_at = int(timestamp) + 301
    assert not verify_signature(SECRET, timestamp, body, signature, now=replayed_at)
    assert verify_signature(SECRET, timestamp, body, signature, now=replayed_at, tolerance_s=400)


def test_idempotency_key_is_the_same_on_every_delivery_of_a_notification(
    hook: Receiver, make_notification: MakeNotification
) -> None:
    notification = make_notification()
    first = post(hook, notification, secret=SECRET)
    second = post(hook, notification, secret=SECRET)

    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.headers["Idempotency-Key"] == notification.idempotency_key
    assert first.raw == second.raw


def test_custom_headers_are_sent(hook: Receiver, make_notification: MakeNotification) -> None:
    request = post(
        hook, make_notification(),
        headers={"Authorization": "Bearer ghp_token123", "X-GitHub-Api-Version": "2022-11-28"},
    )

    assert request.headers["Authorization"] == "Bearer ghp_token123"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_airflow_template_from_the_docs_renders_a_dag_run_request(
    hook: Receiver, make_notification: MakeNotification
) -> None:
    notification = make_notification(feature="amount", metric="feature_drift_score")
    request = post(hook, notification, secret=SECRET, body_template=documented_template("dag_run_id"))

    assert json.loads(request.raw) == {
        "dag_run_id": "driftwatch__fraud-data-drift.fraud.2026-03-01T10.firing",
        "conf": {
            "event": "firing",
            "model": "fraud",
            "model_version": "2026.02.1",
            "rule": "fraud-data-drift",
            "metric": "feature_drift_score",
            "feature": "amount",
            "value": 0.42,
            "condition": "> 0.3",
            "severity": "critical",
            "window_start": "2026-03-01T10:00:00Z",
            "window_end": "2026-03-01T11:00:00Z",
            "details": {"drifted_features": ["amount", "country"], "drift_share_threshold": 0.5},
            "dashboard_url": "https://driftwatch.example.com/model?name=fraud",
        },
    }
    assert reference_verify(SECRET, request)  # the signature covers the templated body


def test_github_template_from_the_docs_renders_a_repository_dispatch(
    hook: Receiver, make_notification: MakeNotification
) -> None:
    notification = make_notification()
    request = post(hook, notification, body_template=documented_template("event_type"))

    body = json.loads(request.raw)
    assert body == {
        "event_type": "driftwatch-retrain",
        "client_payload": {
            "model": "fraud",
            "model_version": "2026.02.1",
            "event": "firing",
            "idempotency_key": notification.idempotency_key,
            "alert": {**notification.to_dict(), "value_display": "0.42"},
        },
    }
    assert len(body["client_payload"]) <= 10  # GitHub's limit on top-level keys


def test_tojson_keeps_hostile_names_inside_their_strings(
    hook: Receiver, make_notification: MakeNotification
) -> None:
    nasty = HOSTILE + '", "injected": true, "x": "\\'
    request = post(
        hook, make_notification(feature=nasty),
        body_template='{"feature": {{ feature | tojson }}, "channel": {{ channel | tojson }}}',
    )

    assert json.loads(request.raw) == {"feature": nasty, "channel": "retrain-fraud"}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ('{"model": "{{ model }}", }', r"body_template output is not valid JSON .*near: .*\| tojson"),
        ('{"model": {{ modell | tojson }}}', r"failed to render \(UndefinedError: 'modell' is undefined\)"),
        ('{"x": {{ "".__class__.__mro__ | tojson }}}', r"failed to render \(SecurityError"),
        ('{"value": NaN}', "not valid JSON"),
    ],
)
def test_a_broken_template_fails_without_sending_and_is_not_retryable(
    httpserver: HTTPServer, make_notification: MakeNotification, template: str, message: str
) -> None:
    channel = WebhookChannel(name="retrain-fraud", url=httpserver.url_for("/hooks/retrain"), body_template=template)

    with pytest.raises(PayloadError, match=message) as caught:
        channel.deliver(make_notification())

    assert caught.value.retryable is False
    assert caught.value.channel == "retrain-fraud"
    assert "retrain-fraud" in str(caught.value)
    assert httpserver.log == []


def test_template_syntax_errors_are_config_errors_naming_the_line() -> None:
    with pytest.raises(ChannelConfigError, match=r"channel 'retrain-fraud': body_template line 2: .*fix the Jinja2"):
        WebhookChannel(name="retrain-fraud", url="https://ci.example.com/hook", body_template='{\n {{ model | }\n}')


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Idempotency-Key": "x"}, "header 'Idempotency-Key' is set by driftwatch"),
        ({"x-driftwatch-signature": "x"}, "is set by driftwatch"),
        ({"Bad Header": "x"}, "header name 'Bad Header' is not valid"),
        ({"X-Token": "a\r\nInjected: 1"}, "header 'X-Token' must be a one-line string"),
    ],
)
def test_invalid_headers_are_refused(headers: dict[str, str], message: str) -> None:
    with pytest.raises(ChannelConfigError, match=message):
        WebhookChannel(name="retrain-fraud", url="https://ci.example.com/hook", headers=headers)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ChannelConfigError, match="secret must be a non-empty string"):
        WebhookChannel(name="retrain-fraud", url="https://ci.example.com/hook", secret="")


def test_repr_hides_secret_header_values_and_url_path(make_notification: MakeNotification) -> None:
    channel = WebhookChannel(
        name="retrain-fraud",
        url="https://ci.example.com/hooks/retrain?token=qs-token-99",
        secret=SECRET,
        headers={"Authorization": "Bearer ghp_token123"},
        body_template='{"m": {{ model | tojson }}}',
    )
    text = repr(channel)

    assert text == (
        "WebhookChannel(name='retrain-fraud', url='https://ci.example.com/…', signed=True, "
        "templated=True, headers=['Authorization'], timeout=10.0)"
    )
    for secret in (SECRET, "ghp_token123", "qs-token-99"):
        assert secret not in text
        assert secret not in json.dumps(make_notification().to_dict())
