"""The exception hierarchy of the ``alerts`` package.

::

    DriftwatchError
    └── AlertsError
        ├── NotificationError        a Notification was built or loaded with bad fields
        ├── ChannelConfigError       a channel's config is invalid (also a ConfigError)
        ├── SilenceError             a silence was asked for with bad values, or is unknown
        └── DeliveryError            one delivery attempt failed; ``retryable`` says
            ├── DeliveryTimeout          whether the dispatcher may try again
            ├── DeliveryConnectionError
            ├── DeliveryRejected     the receiver answered with an error status/reply
            └── PayloadError         the message could not be built (body_template)

Like Alertmanager's notifiers, a channel never retries by itself: it classifies the
failure (``retryable``, ``retry_after``) and the dispatcher decides.
"""

from __future__ import annotations

from monitor.errors import ConfigError, DriftwatchError

__all__ = [
    "RESPONSE_BODY_LIMIT",
    "AlertsError",
    "ChannelConfigError",
    "DeliveryConnectionError",
    "DeliveryError",
    "DeliveryRejected",
    "DeliveryTimeout",
    "NotificationError",
    "PayloadError",
    "SilenceError",
]

RESPONSE_BODY_LIMIT = 2048
"""Bytes of a receiver's response kept on a DeliveryError (UTF-8, marker included)."""

_TRUNCATION_MARKER = "…[truncated]"


class AlertsError(DriftwatchError):
    """Root of every error the alerts package raises on purpose."""


class NotificationError(AlertsError):
    """A Notification was built, or loaded from the outbox, with invalid fields."""


class ChannelConfigError(AlertsError, ConfigError):
    """A notification channel is configured wrongly; the message names channel and key."""


class SilenceError(AlertsError):
    """A silence was created with invalid values, or the silence asked for does not exist."""


class DeliveryError(AlertsError):
    """One attempt to deliver one notification through one channel failed.

    ``retryable`` tells the dispatcher whether the same attempt may succeed later
    (timeouts, connection errors, HTTP 429/5xx, SMTP 4xx) or needs a person
    (other HTTP 4xx, SMTP 5xx, bad credentials, a broken template).
    ``retry_after`` is the receiver's requested delay in seconds, when it sent one.
    ``status`` is the HTTP status or SMTP reply code, when there was one.
    ``response_body`` is the receiver's answer, truncated to 2 KB.
    """

    def __init__(
        self,
        message: str,
        *,
        channel: str,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
        response_body: str | None = None,
    ) -> None:
        super().__init__(message)
        self.channel = channel
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.response_body = _truncate(response_body)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self)!r}, channel={self.channel!r}, "
            f"retryable={self.retryable}, retry_after={self.retry_after!r}, "
            f"status={self.status!r})"
        )


class DeliveryTimeout(DeliveryError):
    """The receiver did not answer within the channel's timeout; always retryable."""

    def __init__(self, message: str, *, channel: str) -> None:
        super().__init__(message, channel=channel, retryable=True)


class DeliveryConnectionError(DeliveryError):
    """The receiver could not be reached or dropped the connection; retryable."""

    def __init__(self, message: str, *, channel: str, retryable: bool = True) -> None:
        super().__init__(message, channel=channel, retryable=retryable)


class DeliveryRejected(DeliveryError):
    """The receiver answered with an error status (HTTP) or reply code (SMTP)."""


class PayloadError(DeliveryError):
    """The message for this channel could not be built; never retryable."""

    def __init__(self, message: str, *, channel: str) -> None:
        super().__init__(message, channel=channel, retryable=False)


def _truncate(body: str | None) -> str | None:
    if body is None:
        return None
    encoded = body.encode("utf-8")
    if len(encoded) <= RESPONSE_BODY_LIMIT:
        return body
    keep = RESPONSE_BODY_LIMIT - len(_TRUNCATION_MARKER.encode("utf-8"))
    # errors="ignore" drops a multi-byte character cut in half at the boundary.
    return encoded[:keep].decode("utf-8", errors="ignore") + _TRUNCATION_MARKER
