"""build_channel: channels from the ``alerts.channels`` config, strictly validated;
and the error types the channels raise."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.channels import Channel, EmailChannel, SlackChannel, WebhookChannel, build_channel
from alerts.channels.config import build_channels
from alerts.errors import (
    RESPONSE_BODY_LIMIT,
    AlertsError,
    ChannelConfigError,
    DeliveryConnectionError,
    DeliveryError,
    DeliveryRejected,
    DeliveryTimeout,
    PayloadError,
)
from monitor.config.loader import config_from_mapping
from monitor.errors import ConfigError, DriftwatchError

EMAIL: dict[str, Any] = {
    "type": "email", "smtp_host": "smtp.example.com", "smtp_port": 587, "starttls": True,
    "username": "alerts", "password": "pw-secret-42", "sender": "driftwatch@example.com",
    "to": ["ml-oncall@example.com"],
}


def test_builds_each_channel_type_from_design_md_style_config() -> None:
    slack = build_channel("ml-team", {"type": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/X"})
    email = build_channel("oncall", EMAIL)
    webhook = build_channel("retrain-fraud", {
        "type": "webhook", "url": "https://ci.example.com/hooks/retrain", "secret": "rs-1",
        "body_template": None, "headers": {"Authorization": "Bearer t"}, "timeout": 3,
    })

    assert isinstance(slack, SlackChannel) and slack.name == "ml-team"
    assert isinstance(email, EmailChannel) and email.name == "oncall"
    assert isinstance(webhook, WebhookChannel) and "timeout=3.0" in repr(webhook)
    assert all(isinstance(channel, Channel) for channel in (slack, email, webhook))


def test_builds_channels_from_the_validated_driftwatch_config() -> None:
    config = config_from_mapping(
        {"alerts": {"channels": {
            "ml-team": {"type": "slack", "webhook_url": "${SLACK_WEBHOOK_URL}", "timeout": "30s"},
            "oncall": {**EMAIL, "password": "${SMTP_PASSWORD}"},
            "retrain": {"type": "webhook", "url": "https://ci.example.com/hook", "secret": "${RETRAIN_SECRET}"},
        }}},
        environ={
            "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/SECRETPATH",
            "SMTP_PASSWORD": "pw-from-env",
            "RETRAIN_SECRET": "rs-from-env",
        },
    )

    channels = build_channels(config.alerts)

    assert sorted(channels) == ["ml-team", "oncall", "retrain"]
    assert isinstance(channels["ml-team"], SlackChannel) and "timeout=30.0" in repr(channels["ml-team"])
    assert isinstance(channels["oncall"], EmailChannel) and isinstance(channels["retrain"], WebhookChannel)
    # The SecretStr values reach the channels (unwrapped) but never their repr.
    shown = " ".join(repr(channel) for channel in channels.values())
    assert "SECRETPATH" not in shown and "pw-from-env" not in shown and "rs-from-env" not in shown
    assert "signed=True" in repr(channels["retrain"]) and "password='***'" in repr(channels["oncall"])
    assert build_channel("ml-team", config.alerts.channels["ml-team"]).name == "ml-team"


def test_string_values_from_the_environment_are_coerced() -> None:
    channel = build_channel("oncall", {**EMAIL, "smtp_port": "587", "starttls": "true"})

    assert "smtp_port=587" in repr(channel) and "starttls=True" in repr(channel)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"webhook_url": "https://x"}, r"channel 'c': missing key 'type' \(one of slack, email, webhook\)"),
        ({"type": "teams"}, r"channel 'c': type 'teams' is unknown; use one of slack, email, webhook"),
        (
            {"type": "slack", "webhook_url": "https://x", "channel": "#ml"},
            r"channel 'c': unknown key 'channel' \(a slack channel takes: timeout, type, webhook_url\)",
        ),
        ({"type": "slack"}, r"channel 'c': missing key 'webhook_url'"),
        ({**EMAIL, "smtp_hots": "x"}, r"unknown key 'smtp_hots'"),
        ({**EMAIL, "to": "ml-oncall@example.com"}, r"key 'to': Input should be a valid list"),
        ({**EMAIL, "timeout": -1}, r"key 'timeout': a duration must be positive, got -1"),
        ({"type": "webhook", "url": "https://x", "headers": {"A": 1}}, r"key 'headers.A'"),
        ({"type": "webhook", "url": "https://x", "body_template": "{{ x"}, r"body_template line 1"),
        ({**EMAIL, "starttls": False}, r"need starttls: true or ssl: true"),
        ("slack", r"channel 'c': expected a mapping with a 'type' key, got str"),
    ],
)
def test_bad_config_names_the_channel_and_the_key(config: Any, message: str) -> None:
    with pytest.raises(ChannelConfigError, match=message):
        build_channel("c", config)


def test_config_errors_never_echo_secret_values() -> None:
    with pytest.raises(ChannelConfigError) as caught:
        build_channel("oncall", {**EMAIL, "password": 123456789, "to": "x"})

    assert "123456789" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_error_hierarchy() -> None:
    assert issubclass(AlertsError, DriftwatchError)
    assert issubclass(ChannelConfigError, AlertsError) and issubclass(ChannelConfigError, ConfigError)
    for error_type in (DeliveryTimeout, DeliveryConnectionError, DeliveryRejected, PayloadError):
        assert issubclass(error_type, DeliveryError)
    assert DeliveryTimeout("t", channel="c").retryable is True
    assert DeliveryConnectionError("t", channel="c").retryable is True
    assert PayloadError("t", channel="c").retryable is False


def test_response_body_is_cut_to_2_kb_on_a_character_boundary() -> None:
    error = DeliveryRejected("x", channel="c", retryable=False, status=400, response_body="ü" * 3000)

    assert error.response_body is not None
    assert len(error.response_body.encode("utf-8")) <= RESPONSE_BODY_LIMIT
    assert error.response_body.endswith("…[truncated]")
    assert DeliveryRejected("x", channel="c", retryable=False, response_body="short").response_body == "short"
