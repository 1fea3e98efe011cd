"""The ``alerts.channels`` config schema and the factory that builds channels from it.

One pydantic model per channel type, unknown keys rejected. Every error names the
channel and the key. Values are never echoed in errors because they are often
secrets (``password``, ``secret``, ``webhook_url``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alerts.channels.base import Channel
from alerts.channels.email import EmailChannel
from alerts.channels.slack import SlackChannel
from alerts.channels.webhook import WebhookChannel
from alerts.errors import ChannelConfigError

__all__ = ["CHANNEL_TYPES", "EmailConfig", "SlackConfig", "WebhookConfig", "build_channel"]


class _ChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: float = Field(default=10.0, gt=0, le=300)


class SlackConfig(_ChannelConfig):
    """``{type: slack, webhook_url: ..., timeout: 10}``"""

    type: Literal["slack"]
    webhook_url: str


class EmailConfig(_ChannelConfig):
    """``{type: email, smtp_host, smtp_port, sender, to: [...], username, password,
    starttls, ssl, timeout}``"""

    type: Literal["email"]
    smtp_host: str
    smtp_port: int = Field(gt=0, lt=65536)
    sender: str
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False


class WebhookConfig(_ChannelConfig):
    """``{type: webhook, url, secret, body_template, headers: {...}, timeout}``"""

    type: Literal["webhook"]
    url: str
    secret: str | None = None
    body_template: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


_Factory = Callable[..., Channel]
CHANNEL_TYPES: dict[str, tuple[type[_ChannelConfig], _Factory]] = {
    "slack": (SlackConfig, SlackChannel),
    "email": (EmailConfig, EmailChannel),
    "webhook": (WebhookConfig, WebhookChannel),
}


def build_channel(name: str, config: Mapping[str, Any]) -> Channel:
    """Build the channel called ``name`` from its config mapping (``type`` decides).

    Raises :class:`ChannelConfigError` naming the channel and the offending key.
    """
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
    model, factory = CHANNEL_TYPES[kind]
    try:
        parsed = model.model_validate(dict(config))
    except ValidationError as exc:
        # `from None`: pydantic's own message repeats the input, which may be a secret.
        raise ChannelConfigError(_describe(name, kind, model, exc)) from None
    return factory(name=name, **parsed.model_dump(exclude={"type"}))


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
            problems.append(f"key {key!r}: {error['msg']}")
    return f"channel {name!r}: " + "; ".join(problems)
