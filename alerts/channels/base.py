"""What every notification channel is: a name and one ``deliver`` call.

A channel delivers ONE notification ONE time. It does not retry, sleep or queue:
on failure it raises :class:`~alerts.errors.DeliveryError` whose ``retryable`` and
``retry_after`` tell the dispatcher what to do next (as Alertmanager's notifiers
do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from alerts.errors import ChannelConfigError
from alerts.notification import Notification

__all__ = ["Channel", "DeliveryReceipt", "check_channel_name", "check_timeout"]

MAX_TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """Proof that the receiver accepted a notification.

    ``status`` is the HTTP status or SMTP reply code; ``summary`` is what the
    dispatcher records, e.g. ``"HTTP 200"`` or ``"250 OK to 2 recipients"``.
    """

    channel: str
    status: int
    summary: str


@runtime_checkable
class Channel(Protocol):
    """A configured destination for notifications (Slack, email, webhook, ...)."""

    @property
    def name(self) -> str:
        """The channel's name from the ``alerts.channels`` config."""
        ...

    def deliver(self, notification: Notification) -> DeliveryReceipt:
        """Send ``notification`` once.

        Raises :class:`~alerts.errors.DeliveryError` (never a third-party
        exception) when the receiver did not accept it.
        """
        ...


def check_channel_name(name: object) -> str:
    """Return ``name`` if it is a usable channel name, else raise ChannelConfigError."""
    if not isinstance(name, str) or not name.strip():
        raise ChannelConfigError(f"channel name must be a non-empty string, got {name!r}")
    return name


def check_timeout(channel: str, timeout: object) -> float:
    """Return ``timeout`` as float seconds if it is in (0, MAX_TIMEOUT_S]."""
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_TIMEOUT_S
    ):
        raise ChannelConfigError(
            f"channel {channel!r}: timeout must be a number of seconds in "
            f"(0, {MAX_TIMEOUT_S:g}], got {timeout!r}"
        )
    return float(timeout)
