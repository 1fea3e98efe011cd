"""Notification channels: deliver ONE notification ONE time, and classify failures.

Retries, backoff and the outbox belong to the dispatcher; a channel only says, via
:class:`~alerts.errors.DeliveryError`, whether a failure is worth retrying.

>>> channel = build_channel("ml-team", {"type": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/X"})
>>> channel
SlackChannel(name='ml-team', webhook_url='https://hooks.slack.com/…', timeout=10.0)
"""

from alerts.channels.base import Channel, DeliveryReceipt
from alerts.channels.config import build_channel, build_channels
from alerts.channels.email import EmailChannel
from alerts.channels.slack import SlackChannel
from alerts.channels.webhook import WebhookChannel, verify_signature

__all__ = [
    "Channel",
    "DeliveryReceipt",
    "EmailChannel",
    "SlackChannel",
    "WebhookChannel",
    "build_channel",
    "build_channels",
    "verify_signature",
]
