"""Channels from the ``alerts.channels`` config: one factory for every channel type.

The config schema itself lives in :mod:`monitor.config.models` (``monitor`` owns the
config and must not import ``alerts``), so this module only turns those validated
models into channel objects. A plain mapping is accepted too (tests, ``alerts
test`` on an ad-hoc channel): it is validated with the same pydantic models, and
every error names the channel and the key. Values are never echoed in errors
because they are often secrets (``password``, ``secret``, ``webhook_url``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from alerts.channels.base import Channel
from alerts.channels.email import EmailChannel
from alerts.channels.slack import SlackChannel
from alerts.channels.webhook import WebhookChannel
from alerts.errors import ChannelConfigError
from monitor.config.models import (
    AlertsConfig,
    EmailChannelConfig,
    SlackChannelConfig,
    WebhookChannelConfig,
)

__all__ = ["CHANNEL_TYPES", "ChannelSettings", "build_channel", "build_channels"]

ChannelSettings = SlackChannelConfig | EmailChannelConfig | WebhookChannelConfig
"""One validated entry of ``alerts.channels`` (the pydantic models of monitor.config)."""

CHANNEL_TYPES: dict[str, type[BaseModel]] = {
    "slack": SlackChannelConfig,
    "email": EmailChannelConfig,
    "webhook": WebhookChannelConfig,
}


def build_channel(name: str, config: ChannelSettings | Mapping[str, Any]) -> Channel:
    """Build the channel called ``name`` from its config (``type`` decides the kind).

    ``config`` is a validated :mod:`monitor.config.models` channel model, or a mapping
    validated here. Raises :class:`ChannelConfigError` naming the channel and the
    offending key.
    """
    settings = config if isinstance(config, BaseModel) else _parse(name, config)
    if isinstance(settings, SlackChannelConfig):
        return SlackChannel(
            name=name,
            webhook_url=settings.webhook_url.get_secret_value(),
            timeout=settings.timeout.total_seconds(),
        )
    if isinstance(settings, EmailChannelConfig):
        return EmailChannel(
            name=name,
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            sender=settings.sender,
            to=list(settings.to),
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password is not None else None,
            starttls=settings.starttls,
            ssl=settings.ssl,
            timeout=settings.timeout.total_seconds(),
        )
    if isinstance(settings, WebhookChannelConfig):
        return WebhookChannel(
            name=name,
            url=settings.url,
            secret=settings.secret.get_secret_value() if settings.secret is not None else None,
            body_template=settings.body_template,
            headers=dict(settings.headers),
            timeout=settings.timeout.total_seconds(),
        )
    raise ChannelConfigError(
        f"channel {name!r}: {type(settings).__name__} is not a channel config; "
        f"use one of {', '.join(CHANNEL_TYPES)}"
    )


def build_channels(config: AlertsConfig) -> dict[str, Channel]:
    """Every channel of ``alerts.channels``, by name."""
    return {name: build_channel(name, settings) for name, settings in config.channels.items()}


def _parse(name: str, config: Mapping[str, Any]) -> ChannelSettings:
    if not isinstance(config, Mapping):
        raise ChannelConfigError(
            f"channel {name!r}: expected a mapping with a 'type' key, got {type(config).__name__}"
        )
    kinds = ", ".join(CHANNEL_TYPES)
    if "type" not in config:
        raise ChannelConfigError(f"channel {name!r}: missing key 'type' (one of {kinds})")
    kind = config["type"]
    if not isinstance(kind, str) or kind not in CHANNEL_TYPES:
        raise ChannelConfigError(f"channel {name!r}: type {kind!r} is unknown; use one of {kinds}")
    model = CHANNEL_TYPES[kind]
    try:
        parsed = model.model_validate(dict(config))
    except ValidationError as exc:
        # `from None`: pydantic's own message repeats the input, which may be a secret.
        raise ChannelConfigError(_describe(name, kind, model, exc)) from None
    assert isinstance(parsed, SlackChannelConfig | EmailChannelConfig | WebhookChannelConfig)
    return parsed


def _describe(name: str, kind: str, model: type[BaseModel], exc: ValidationError) -> str:
    allowed = ", ".join(sorted(model.model_fields))
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key {key!r} (a {kind} channel takes: {allowed})")
        elif error["type"] == "missing":
            problems.append(f"missing key {key!r}")
        else:
            problems.append(f"key {key!r}: {error['msg'].removeprefix('Value error, ')}")
    return f"channel {name!r}: " + "; ".join(problems)
