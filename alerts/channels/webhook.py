"""Webhook channel: a signed JSON POST, e.g. to start a retraining job.

Headers sent with every delivery::

    Content-Type: application/json
    X-Driftwatch-Timestamp: <unix seconds at this attempt>
    X-Driftwatch-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>  (with a secret)
    Idempotency-Key: <notification.idempotency_key>    (the same on every retry)

The body is ``{"type": "driftwatch.alert", **body_fields(notification)}`` (the
notification's fields plus ``value_display``) unless a
``body_template`` reshapes it for an API such as Airflow's or GitHub's (see
``webhook_templates.md``). Templates run in Jinja2's sandbox with StrictUndefined;
their output must be JSON. Receivers check requests with :func:`verify_signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from alerts.channels.base import DeliveryReceipt, check_channel_name, check_timeout
from alerts.channels.http_transport import check_http_url, post_json, redact_url
from alerts.channels.presentation import format_value, numbers_in
from alerts.errors import ChannelConfigError, PayloadError
from alerts.notification import Notification

__all__ = ["EVENT_TYPE", "WebhookChannel", "body_fields", "sign", "verify_signature"]

EVENT_TYPE = "driftwatch.alert"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 header field name
_RESERVED_HEADERS = frozenset({
    "content-type", "content-length", "host", "transfer-encoding",
    "x-driftwatch-timestamp", "x-driftwatch-signature", "idempotency-key",
})


class WebhookChannel:
    """POSTs each notification as JSON to ``url``.

    ``secret`` signs every request (HMAC-SHA256); ``headers`` are added verbatim
    (e.g. ``Authorization``) and may hold credentials, so neither appears in
    ``repr()``. ``body_template`` is a Jinja2 template whose output must be JSON;
    it sees every field of :func:`body_fields` as a variable, the whole dict as
    ``notification`` and the channel name as ``channel``.
    """

    __slots__ = ("_headers", "_name", "_secret", "_template", "_timeout", "_url")

    def __init__(
        self,
        *,
        name: str,
        url: str,
        secret: str | None = None,
        body_template: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._name = check_channel_name(name)
        self._url = check_http_url(name, "url", url)
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ChannelConfigError(
                f"channel {name!r}: secret must be a non-empty string; omit it to send unsigned"
            )
        self._secret = secret
        self._template = _compile(name, body_template) if body_template is not None else None
        self._headers = _check_headers(name, headers or {})
        self._timeout = check_timeout(name, timeout)

    @property
    def name(self) -> str:
        return self._name

    def deliver(self, notification: Notification) -> DeliveryReceipt:
        """Render, sign and POST the body once.

        Raises :class:`PayloadError` (not retryable) when the body template fails or
        its output is not JSON; nothing is sent then.
        """
        body = self.render_body(notification)
        timestamp = int(time.time())
        headers = {
            "X-Driftwatch-Timestamp": str(timestamp),
            "Idempotency-Key": notification.idempotency_key,
        }
        if self._secret is not None:
            headers["X-Driftwatch-Signature"] = sign(self._secret, timestamp, body)
        headers.update(self._headers)
        return post_json(
            channel=self._name, url=self._url, body=body, headers=headers, timeout=self._timeout
        )

    def render_body(self, notification: Notification) -> bytes:
        """The exact bytes that :meth:`deliver` sends (and signs) for ``notification``."""
        data = body_fields(notification)
        if self._template is None:
            return _dump({"type": EVENT_TYPE, **data})
        context = {**data, "notification": data, "channel": self._name}
        try:
            rendered = self._template.render(context)
        except Exception as exc:  # the template is user code: any failure is its problem
            raise PayloadError(
                f"channel {self._name!r}: body_template failed to render "
                f"({type(exc).__name__}: {exc}); variables available: "
                f"{', '.join(sorted(context))}; fix the template in the channel config",
                channel=self._name,
            ) from exc
        try:
            parsed = json.loads(rendered, parse_constant=_reject_constant)
        except ValueError as exc:
            raise PayloadError(
                f"channel {self._name!r}: body_template output is not valid JSON ({exc}); "
                f"near: {_near(rendered, exc)!r}; wrap every value in '| tojson' "
                "(it adds the quotes and escapes)",
                channel=self._name,
            ) from exc
        return _dump(parsed)

    def __repr__(self) -> str:
        return (
            f"WebhookChannel(name={self._name!r}, url={redact_url(self._url)!r}, "
            f"signed={self._secret is not None}, templated={self._template is not None}, "
            f"headers={sorted(self._headers)!r}, timeout={self._timeout!r})"
        )


def body_fields(notification: Notification) -> dict[str, Any]:
    """:meth:`Notification.to_dict` plus ``value_display``, the value as people read it.

    ``value`` stays exact (``319.93340000000006``) for programs; ``value_display``
    (``"319.9"``, ``"n/a"`` for a window without a value) is the text Slack and email show.
    """
    data: dict[str, Any] = {}
    for key, item in notification.to_dict().items():
        data[key] = item
        if key == "value":
            data["value_display"] = format_value(notification.value, unlike=numbers_in(notification.condition))
    return data


def sign(secret: str | bytes, timestamp: int | str, body: bytes | str) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    payload = body.encode("utf-8") if isinstance(body, str) else body
    digest = hmac.new(key, f"{timestamp}.".encode("ascii") + payload, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify_signature(
    secret: str | bytes,
    timestamp: str | int,
    body: bytes | str,
    signature_header: str,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """True when ``signature_header`` is driftwatch's signature of ``timestamp.body``.

    For receivers: pass the raw request body (before any JSON parsing) and the
    ``X-Driftwatch-Timestamp`` / ``X-Driftwatch-Signature`` header values. Requests
    older or newer than ``tolerance_s`` seconds are refused (replay protection).
    This function needs only the standard library; copy it as it is.
    """
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        return False
    scheme, _, received = signature_header.strip().partition("=")
    if scheme != "sha256" or not received:
        return False
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    payload = body.encode("utf-8") if isinstance(body, str) else body
    expected = hmac.new(key, f"{sent_at}.".encode("ascii") + payload, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest().encode("ascii"), received.encode("utf-8"))


def _compile(channel: str, source: object) -> Template:
    if not isinstance(source, str) or not source.strip():
        raise ChannelConfigError(
            f"channel {channel!r}: body_template must be a non-empty Jinja2 template "
            "string, or null for the default body"
        )
    environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    environment.filters["tojson"] = _tojson
    try:
        return environment.from_string(source)
    except TemplateSyntaxError as exc:
        raise ChannelConfigError(
            f"channel {channel!r}: body_template line {exc.lineno}: {exc.message}; "
            "fix the Jinja2 syntax"
        ) from exc
    except TemplateError as exc:
        raise ChannelConfigError(f"channel {channel!r}: body_template: {exc}") from exc


def _tojson(value: Any, indent: int | None = None) -> str:
    """Plain JSON (Jinja's own ``tojson`` HTML-escapes, and turns a misspelt
    variable into an unhelpful "StrictUndefined is not JSON serializable")."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError naming the variable
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=indent)


def _check_headers(channel: str, headers: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(headers, Mapping):
        raise ChannelConfigError(f"channel {channel!r}: headers must be a mapping of name to value")
    checked: dict[str, str] = {}
    for key, value in headers.items():
        if not isinstance(key, str) or not _TOKEN.match(key):
            raise ChannelConfigError(f"channel {channel!r}: header name {key!r} is not valid")
        if key.lower() in _RESERVED_HEADERS:
            raise ChannelConfigError(
                f"channel {channel!r}: header {key!r} is set by driftwatch; remove it from headers"
            )
        # The value is not echoed: it is often a credential.
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise ChannelConfigError(
                f"channel {channel!r}: header {key!r} must be a one-line string"
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ChannelConfigError(
                f"channel {channel!r}: header {key!r} has characters HTTP headers cannot carry"
            ) from None
        checked[key] = value
    return checked


def _dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _near(rendered: str, exc: ValueError) -> str:
    position = getattr(exc, "pos", None)
    if not isinstance(position, int):
        return rendered[:80]
    return rendered[max(0, position - 40) : position + 40]
