"""Slack incoming-webhook channel: one Block Kit message per notification.

Every piece of user-controlled text (rule, model, version, feature, metric,
condition, details) is escaped with Slack's three entities (``&`` ``<`` ``>``), so a
feature named ``<!channel>`` or ``<http://evil|click>`` shows as text instead of
pinging everyone or hiding a link. mrkdwn objects are also ``verbatim`` so Slack
does not auto-link URLs or channel names inside those values. The only link in
the message is the dashboard button.
"""

from __future__ import annotations

import json
from typing import Any

from alerts.channels.base import DeliveryReceipt, check_channel_name, check_timeout
from alerts.channels.http_transport import check_http_url, post_json, redact_url
from alerts.channels.presentation import (
    colour,
    dashboard_link,
    detail_lines,
    headline,
    status_label,
    summary_fields,
)
from alerts.notification import Notification

__all__ = ["SlackChannel", "escape_slack", "slack_message"]

_HEADER_LIMIT = 150  # Slack's limit for a header block's text
_FIELD_LIMIT = 1900  # below Slack's 2000 per section field
_EMOJI = {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}


class SlackChannel:
    """Posts notifications to one Slack incoming webhook.

    ``webhook_url`` is a secret (it is the credential); it never appears in
    ``repr()`` or in error messages. ``timeout`` (seconds) bounds connect and read.
    """

    __slots__ = ("_name", "_timeout", "_webhook_url")

    def __init__(self, *, name: str, webhook_url: str, timeout: float = 10.0) -> None:
        self._name = check_channel_name(name)
        self._webhook_url = check_http_url(name, "webhook_url", webhook_url)
        self._timeout = check_timeout(name, timeout)

    @property
    def name(self) -> str:
        return self._name

    def deliver(self, notification: Notification) -> DeliveryReceipt:
        """POST the Block Kit message; Slack answers ``200 ok`` when it accepted it."""
        body = json.dumps(slack_message(notification), ensure_ascii=False).encode("utf-8")
        return post_json(
            channel=self._name,
            url=self._webhook_url,
            body=body,
            headers={},
            timeout=self._timeout,
        )

    def __repr__(self) -> str:
        return (
            f"SlackChannel(name={self._name!r}, webhook_url={redact_url(self._webhook_url)!r}, "
            f"timeout={self._timeout!r})"
        )


def slack_message(notification: Notification) -> dict[str, Any]:
    """The webhook payload: a header block, then a coloured attachment with fields,
    details and a dashboard button; ``text`` is the notification fallback."""
    n = notification
    emoji = ":white_check_mark:" if n.state == "resolved" else _EMOJI[n.severity]
    title = f"{status_label(n)}: {n.rule}"
    fields = [
        _mrkdwn(f"*{label}*\n{_fit(value, _FIELD_LIMIT)}") for label, value in summary_fields(n)
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _mrkdwn(f"*{_fit(headline(n), _FIELD_LIMIT)}*")},
        # Slack allows at most 10 fields per section.
        {"type": "section", "fields": fields[:10]},
    ]
    details = detail_lines(n)
    if details:
        text = "\n".join(f"*{escape_slack(key)}*: {escape_slack(value)}" for key, value in details)
        blocks.append({"type": "section", "text": _mrkdwn(text[:2900])})
    link = dashboard_link(n)
    if link is not None:
        blocks.append({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": "Open dashboard"},
                "url": link,
                "style": "danger" if n.state == "firing" and n.severity == "critical" else "primary",
            }],
        })
    return {
        "text": escape_slack(f"{status_label(n)}: {headline(n)}"),
        "blocks": [{
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": f"{emoji} {_fit(title, _HEADER_LIMIT - len(emoji) - 1)}",
                "emoji": True,
            },
        }],
        "attachments": [{"color": colour(n), "blocks": blocks}],
    }


def escape_slack(text: str) -> str:
    """Slack's escaping: only ``&``, ``<`` and ``>`` become entities (in that order)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fit(raw: str, limit: int) -> str:
    """Escape ``raw`` and cut it (before escaping, so no entity is split) to ``limit``."""
    escaped = escape_slack(raw)
    if len(escaped) <= limit:
        return escaped
    cut = min(len(raw), limit)
    while cut > 0 and len(escape_slack(raw[:cut])) + 1 > limit:
        cut -= 1
    return escape_slack(raw[:cut]) + "…"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}

