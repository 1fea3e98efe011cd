"""POST one JSON body once and turn the outcome into a receipt or a DeliveryError.

Shared by the Slack and webhook channels. Classification (as Alertmanager's
``Retrier``): 2xx is delivered; timeouts, connection errors, 408, 429 and 5xx are
retryable (with the receiver's ``Retry-After``); redirects and other 4xx need a
person and carry the response body. Redirects are not followed: urllib would
re-send a redirected POST as a body-less GET, which is never what a webhook wants.

URLs are shown as ``scheme://host[:port]/…`` in messages because a Slack webhook
URL, or a token in a query string, is a secret.
"""

from __future__ import annotations

import http.client
import math
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import IO
from urllib.parse import urlsplit

from alerts.channels.base import DeliveryReceipt
from alerts.errors import (
    ChannelConfigError,
    DeliveryConnectionError,
    DeliveryError,
    DeliveryRejected,
    DeliveryTimeout,
)
from monitor import __version__
from monitor.clock import utc_now

__all__ = ["USER_AGENT", "check_http_url", "parse_retry_after", "post_json", "redact_url"]

USER_AGENT = f"driftwatch/{__version__}"
_READ_LIMIT = 64 * 1024
_RETRYABLE_STATUSES = frozenset({408, 429})


def post_json(
    *,
    channel: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
) -> DeliveryReceipt:
    """POST ``body`` (JSON) to ``url`` once; return a receipt on 2xx.

    ``timeout`` bounds the connect and every read. Raises :class:`DeliveryTimeout`,
    :class:`DeliveryConnectionError` or :class:`DeliveryRejected`.
    """
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", USER_AGENT)
    for key, value in headers.items():
        request.add_header(key, value)
    target = redact_url(url)
    # Built per call so that proxy settings (HTTPS_PROXY, NO_PROXY) are read now.
    opener = urllib.request.build_opener(_RefuseRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(_READ_LIMIT)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        try:
            error = _status_error(channel, target, exc.code, exc.headers, exc.fp)
        finally:
            exc.close()
        raise error from exc
    except urllib.error.URLError as exc:
        raise _transport_error(channel, target, exc.reason, timeout) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _transport_error(channel, target, exc, timeout) from exc
    return DeliveryReceipt(channel=channel, status=status, summary=f"HTTP {status}")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date).

    Returns ``None`` when the header is absent or unreadable, and never a negative
    number (a date in the past means "now").
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # RFC 9110 dates are GMT
    delta = (when - (now or utc_now())).total_seconds()
    return max(0.0, delta)


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: enough to find the receiver, no path or query secrets."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    hidden = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{netloc}{hidden}"


def check_http_url(channel: str, key: str, url: object) -> str:
    """Return ``url`` if it is an absolute http(s) URL, else raise ChannelConfigError."""
    if not isinstance(url, str) or not url:
        raise ChannelConfigError(f"channel {channel!r}: {key} must be a non-empty URL string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelConfigError(
            f"channel {channel!r}: {key} must be an absolute http:// or https:// URL, "
            f"got {redact_url(url)!r}"
        )
    if any(char in url for char in "\r\n\t "):
        raise ChannelConfigError(f"channel {channel!r}: {key} contains whitespace")
    try:
        _ = parts.port  # urlsplit only validates the port when asked
    except ValueError as exc:
        raise ChannelConfigError(f"channel {channel!r}: {key} has an invalid port") from exc
    return url


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


def _status_error(
    channel: str, target: str, status: int, headers: Message, body_file: IO[bytes] | None
) -> DeliveryError:
    body = _read_body(body_file)
    retry_after = parse_retry_after(headers.get("Retry-After")) if headers else None
    shown = f": {body[:200]!r}" if body else ""
    prefix = f"channel {channel!r}: {target} answered HTTP {status}{shown}"
    if status == 429:
        wait = f"after {retry_after:g} s" if retry_after is not None else "later"
        retryable, advice = True, f"the receiver is rate-limiting; retry {wait}"
    elif status in _RETRYABLE_STATUSES or status >= 500:
        retryable, advice = True, "the receiver failed or is unavailable; retry later"
    elif 300 <= status < 400:
        location = headers.get("Location") if headers else None
        moved = f" to {redact_url(location)}" if location else ""
        retryable = False
        advice = f"the URL redirects{moved}; configure the final URL (redirects are not followed)"
    elif status in (401, 403):
        retryable, advice = False, "the receiver refused the credentials; check the URL, token or secret"
    elif status in (404, 410):
        retryable = False
        advice = "the URL does not exist (for Slack: the webhook was revoked or its channel archived)"
    else:
        retryable, advice = False, "the receiver rejected the request; fix the channel or template"
    return DeliveryRejected(
        f"{prefix}; {advice}",
        channel=channel,
        retryable=retryable,
        retry_after=retry_after,
        status=status,
        response_body=body,
    )


def _transport_error(
    channel: str, target: str, reason: object, timeout: float
) -> DeliveryError:
    if isinstance(reason, TimeoutError):
        return DeliveryTimeout(
            f"channel {channel!r}: {target} did not answer within {timeout:g} s; "
            "retry later, or raise the channel's timeout if the receiver is slow",
            channel=channel,
        )
    if isinstance(reason, ssl.SSLCertVerificationError):
        return DeliveryConnectionError(
            f"channel {channel!r}: TLS certificate of {target} is not trusted "
            f"({reason.verify_message}); fix the server certificate or the CA bundle",
            channel=channel,
            retryable=False,
        )
    return DeliveryConnectionError(
        f"channel {channel!r}: could not reach {target} ({reason}); "
        "check that the host is up and reachable, then retry",
        channel=channel,
    )


def _read_body(body_file: IO[bytes] | None) -> str | None:
    if body_file is None:
        return None
    try:
        raw = body_file.read(_READ_LIMIT)
    except (OSError, http.client.HTTPException):
        return None
    return raw.decode("utf-8", errors="replace")
