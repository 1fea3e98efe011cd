"""How a notification reads to a person: titles, field labels, numbers, times, colour.

Slack and email say the same things in the same words; each escapes these raw
strings for its own medium (Slack mrkdwn rules, HTML). Nothing here is escaped.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from urllib.parse import urlsplit

from alerts.notification import Notification

__all__ = [
    "colour",
    "dashboard_link",
    "detail_lines",
    "format_time",
    "format_value",
    "headline",
    "status_label",
    "subject",
    "summary_fields",
]

SEVERITY_COLOURS = {"critical": "#D92D20", "warning": "#F5A300", "info": "#1F6FEB"}
RESOLVED_COLOUR = "#2EB67D"
_DETAIL_VALUE_LIMIT = 300
_DETAIL_LINES_LIMIT = 12


def colour(notification: Notification) -> str:
    """Red/amber/blue by severity while firing; green once resolved."""
    if notification.state == "resolved":
        return RESOLVED_COLOUR
    return SEVERITY_COLOURS[notification.severity]


def status_label(notification: Notification) -> str:
    """``FIRING critical``, ``RESOLVED`` or ``TEST warning``."""
    if notification.event == "test":
        return f"TEST {notification.severity}"
    if notification.state == "resolved":
        return "RESOLVED"
    return f"FIRING {notification.severity}"


def headline(notification: Notification) -> str:
    """``fraud: dataset_drift_share > 0.3`` (with ``[feature]`` when there is one)."""
    metric = notification.metric
    if notification.feature:
        metric = f"{metric}[{notification.feature}]"
    return _one_line(f"{notification.model}: {metric} {notification.condition}")


def subject(notification: Notification) -> str:
    """``[FIRING critical] fraud: dataset_drift_share > 0.3`` — one line, no controls."""
    return f"[{status_label(notification)}] {headline(notification)}"


def summary_fields(notification: Notification) -> list[tuple[str, str]]:
    """(label, value) pairs every channel shows, in order."""
    n = notification
    value = f"{format_value(n.value)} (rule: {n.condition})"
    if n.event == "repeat":
        value += ", still firing"
    return [
        ("Metric", n.metric),
        ("Value", value),
        ("Model", f"{n.model} version {n.model_version}"),
        ("Feature", n.feature or "—"),
        ("Window", f"{format_time(n.window_start)} → {format_time(n.window_end)}"),
        ("First breach", format_time(n.first_breach_at)),
        ("Rule", n.rule),
        ("Severity", n.severity),
    ]


def detail_lines(notification: Notification) -> list[tuple[str, str]]:
    """``details`` as (key, short text) pairs, e.g. the drifted features of a model."""
    lines: list[tuple[str, str]] = []
    for key, item in list(notification.details.items())[:_DETAIL_LINES_LIMIT]:
        text = ", ".join(map(_scalar, item)) if isinstance(item, list) else _scalar(item)
        if len(text) > _DETAIL_VALUE_LIMIT:
            text = text[: _DETAIL_VALUE_LIMIT - 1] + "…"
        lines.append((key, text))
    return lines


def dashboard_link(notification: Notification) -> str | None:
    """The dashboard URL if it is a plain http(s) URL; never a ``javascript:`` link."""
    url = notification.dashboard_url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname and not any(
        char in url for char in "\r\n\t <>\"'"
    ):
        return url
    return None


def format_value(value: float) -> str:
    """Six significant digits; ``n/a`` for NaN (a window without data)."""
    if math.isnan(value):
        return "n/a"
    return f"{value:.6g}"


def format_time(moment: datetime) -> str:
    """``2026-01-01 10:00 UTC`` (seconds shown only when they are not zero)."""
    pattern = "%Y-%m-%d %H:%M:%S UTC" if moment.second else "%Y-%m-%d %H:%M UTC"
    return moment.strftime(pattern)


def _scalar(item: object) -> str:
    if isinstance(item, str):
        return _one_line(item)
    if isinstance(item, float):
        return format_value(item)
    return _one_line(json.dumps(item, ensure_ascii=False))


def _one_line(text: str) -> str:
    # Header-safe: user-controlled names must not start a new mail header or line.
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
