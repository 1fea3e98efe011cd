"""SlackChannel against a real HTTP server standing in for Slack's webhook endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from alerts.channels import SlackChannel
from alerts.errors import ChannelConfigError
from alerts.notification import Notification
from tests.support.webhook import Receiver

from .conftest import HOSTILE

MakeNotification = Callable[..., Notification]
HOOK_PATH = "/services/T000/B000/XXXXsecretTOKEN"


@pytest.fixture
def slack(httpserver: HTTPServer) -> Receiver:
    """Slack's incoming-webhook endpoint."""
    return Receiver(httpserver, HOOK_PATH)


def deliver(slack: Receiver, notification: Notification) -> dict[str, Any]:
    channel = SlackChannel(name="ml-team", webhook_url=slack.url)

    receipt = channel.deliver(notification)

    assert (receipt.channel, receipt.status, receipt.summary) == ("ml-team", 200, "HTTP 200")
    request = slack.last()
    assert request.headers["Content-Type"] == "application/json"
    payload: dict[str, Any] = json.loads(request.raw)
    return payload


def strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (key, string) pair anywhere in a JSON document."""
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield from strings(child, child_key)
    elif isinstance(node, list):
        for child in node:
            yield from strings(child, key)
    elif isinstance(node, str):
        yield key, node


def test_block_kit_payload_has_header_colour_fields_and_dashboard_button(
    slack: Receiver, make_notification: MakeNotification
) -> None:
    payload = deliver(slack, make_notification(feature="amount", metric="feature_drift_score"))

    header = payload["blocks"][0]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert header["text"]["text"] == ":rotating_light: FIRING critical: fraud-data-drift"
    attachment = payload["attachments"][0]
    assert attachment["color"] == "#D92D20"
    blocks = attachment["blocks"]
    assert blocks[0]["text"]["text"] == "*fraud: feature_drift_score[amount] &gt; 0.3*"
    fields = [field["text"] for field in blocks[1]["fields"]]
    assert fields[:6] == [
        "*Metric*\nfeature_drift_score",
        "*Value*\n0.42 (rule: &gt; 0.3)",
        "*Model*\nfraud version 2026.02.1",
        "*Feature*\namount",
        "*Window*\n2026-03-01 10:00 UTC → 2026-03-01 11:00 UTC",
        "*First breach*\n2026-03-01 09:00 UTC",
    ]
    assert "*drifted_features*: amount, country" in blocks[2]["text"]["text"]
    button = blocks[3]["elements"][0]
    assert button["type"] == "button"
    assert button["url"] == "https://driftwatch.example.com/model?name=fraud"
    assert payload["text"] == "FIRING critical: fraud: feature_drift_score[amount] &gt; 0.3"


def test_people_see_rounded_values_without_float_noise(
    slack: Receiver, make_notification: MakeNotification
) -> None:
    payload = deliver(slack, make_notification(
        metric="latency_p95_ms", value=319.93340000000006, condition="> 150",
        details={"band": {"low": 0.30000000000000004, "high": 412.77770000000004}, "p_value": 0.012345678}))

    blocks = payload["attachments"][0]["blocks"]
    assert "*Value*\n319.9 (rule: &gt; 150)" in [field["text"] for field in blocks[1]["fields"]]
    assert blocks[2]["text"]["text"] == '*band*: {"low": 0.3, "high": 412.8}\n*p_value*: 0.01235'
    assert "0000000" not in json.dumps(payload)


@pytest.mark.parametrize(
    ("severity", "state", "event", "colour", "header_start"),
    [
        ("critical", "firing", "firing", "#D92D20", ":rotating_light: FIRING critical"),
        ("warning", "firing", "repeat", "#F5A300", ":warning: FIRING warning"),
        ("info", "firing", "firing", "#1F6FEB", ":information_source: FIRING info"),
        ("critical", "resolved", "resolved", "#2EB67D", ":white_check_mark: RESOLVED"),
        ("warning", "firing", "test", "#F5A300", ":warning: TEST warning"),
    ],
)
def test_colour_and_header_follow_severity_and_state(
    slack: Receiver,
    make_notification: MakeNotification,
    severity: str, state: str, event: str, colour: str, header_start: str,
) -> None:
    payload = deliver(slack, make_notification(severity=severity, state=state, event=event))

    assert payload["attachments"][0]["color"] == colour
    assert payload["blocks"][0]["text"]["text"].startswith(header_start)


def test_hostile_names_cannot_inject_mentions_or_links(
    slack: Receiver, make_notification: MakeNotification
) -> None:
    notification = make_notification(
        rule=f"rule {HOSTILE}",
        model=f"fraud{HOSTILE}",
        model_version=HOSTILE,
        feature=HOSTILE,
        metric=f"m{HOSTILE}",
        condition="> 0.3 <!here>",
        details={HOSTILE: [HOSTILE], "note": "a & b"},
    )
    payload = deliver(slack, notification)

    texts = [(key, value) for key, value in strings(payload) if key != "url"]
    assert texts, "payload carries no text at all"
    for key, value in texts:
        assert "<" not in value and ">" not in value, f"raw angle bracket in {key}: {value!r}"
    escaped = "&lt;!channel&gt; &lt;@U1&gt; &lt;http://evil|click&gt;"
    feature_field = payload["attachments"][0]["blocks"][1]["fields"][3]["text"]
    assert feature_field == f"*Feature*\n{escaped}"
    assert escaped in payload["text"]
    assert "a &amp; b" in payload["attachments"][0]["blocks"][2]["text"]["text"]
    mrkdwn = [
        node for node in _walk(payload) if isinstance(node, dict) and node.get("type") == "mrkdwn"
    ]
    assert mrkdwn and all(node["verbatim"] is True for node in mrkdwn)


def test_long_names_are_cut_to_slack_limits_without_splitting_entities(
    slack: Receiver, make_notification: MakeNotification
) -> None:
    payload = deliver(slack, make_notification(rule="<" * 400))

    header = payload["blocks"][0]["text"]["text"]
    assert len(header) <= 150
    assert header.endswith("&lt;…")


def test_a_non_http_dashboard_url_gets_no_button(
    slack: Receiver, make_notification: MakeNotification
) -> None:
    payload = deliver(slack, make_notification(dashboard_url="javascript:alert(1)"))

    assert all(block["type"] != "actions" for block in payload["attachments"][0]["blocks"])
    assert "javascript" not in json.dumps(payload)


def test_repr_hides_the_webhook_url_path() -> None:
    channel = SlackChannel(name="ml-team", webhook_url="https://hooks.slack.com" + HOOK_PATH, timeout=3)

    assert repr(channel) == (
        "SlackChannel(name='ml-team', webhook_url='https://hooks.slack.com/…', timeout=3.0)"
    )
    assert "secretTOKEN" not in repr(channel)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"webhook_url": "hooks.slack.com/services/x"}, "webhook_url must be an absolute http"),
        ({"webhook_url": "ftp://hooks.slack.com/x"}, "webhook_url must be an absolute http"),
        ({"timeout": 0}, r"timeout must be a number of seconds in \(0, 300\]"),
        ({"name": ""}, "channel name must be a non-empty string"),
    ],
)
def test_invalid_config_is_refused(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"name": "ml-team", "webhook_url": "https://hooks.slack.com/x"}
    with pytest.raises(ChannelConfigError, match=message):
        SlackChannel(**{**arguments, **kwargs})


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for child in node.values():
            yield from _walk(child)
    elif isinstance(node, list):
        for child in node:
            yield from _walk(child)
