"""How a notification reads to a person: titles, field labels, numbers, times, colour.

Slack and email say the same things in the same words; each escapes these raw
strings for its own medium (Slack mrkdwn rules, HTML). Nothing here is escaped.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from alerts.notification import Notification
from monitor.clock import format_time

__all__ = [
    "colour",
    "dashboard_link",
    "detail_lines",
    "format_time",
    "format_value",
    "headline",
    "numbers_in",
    "status_label",
    "subject",
    "summary_fields",
]

SEVERITY_COLOURS = {"critical": "#D92D20", "warning": "#F5A300", "info": "#1F6FEB"}
RESOLVED_COLOUR = "#2EB67D"
_DETAIL_VALUE_LIMIT = 300
_DETAIL_LINES_LIMIT = 12
_FIRST_DETAILS = frozenset({"look_first"})
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


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
    """``fraud: dataset_drift_share > 0.3`` (with ``[feature]`` when there is one, and
    ``fraud country=DE: ...`` for a segment)."""
    metric = notification.metric
    if notification.feature:
        metric = f"{metric}[{notification.feature}]"
    model = f"{notification.model} {notification.segment}" if notification.segment else notification.model
    return _one_line(f"{model}: {metric} {notification.condition}")


def subject(notification: Notification) -> str:
    """``[FIRING critical] fraud: dataset_drift_share > 0.3`` — one line, no controls."""
    return f"[{status_label(notification)}] {headline(notification)}"


def summary_fields(notification: Notification) -> list[tuple[str, str]]:
    """(label, value) pairs every channel shows, in order."""
    n = notification
    value = f"{format_value(n.value, unlike=numbers_in(n.condition))} (rule: {n.condition})"
    if n.event == "repeat":
        value += ", still firing"
    segment = [("Segment", n.segment)] if n.segment else []
    return [
        ("Metric", n.metric),
        ("Value", value),
        ("Model", _versions(n)),
        *segment,
        ("Feature", n.feature or "—"),
        ("Window", f"{format_time(n.window_start)} → {format_time(n.window_end)}"),
        ("First breach", format_time(n.first_breach_at)),
        ("Rule", n.rule),
        ("Severity", n.severity),
    ]


def _versions(n: Notification) -> str:
    """``fraud version v1``; a comparison names both: ``fraud version v2 (challenger) vs v1 (champion)``."""
    champion = n.details.get("champion")
    if n.metric.startswith("compare_") and isinstance(champion, str):
        return f"{n.model} version {n.model_version} (challenger) vs {champion} (champion)"
    return f"{n.model} version {n.model_version}"


def detail_lines(notification: Notification) -> list[tuple[str, str]]:
    """``details`` as (key, short text) pairs, e.g. the drifted features of a model."""
    lines: list[tuple[str, str]] = []
    # Where to look first leads (a JSONB store does not keep the order of keys).
    items = sorted(notification.details.items(), key=lambda pair: pair[0] not in _FIRST_DETAILS)
    for key, item in items[:_DETAIL_LINES_LIMIT]:
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


def format_value(value: float, *, unlike: Iterable[float] = ()) -> str:
    """A metric value for people: whole numbers as they are, others to four significant
    digits (no float noise such as ``319.93340000000006``); ``n/a`` for NaN (a window
    without data). The exact value stays in the data (the webhook's ``value``).

    More digits are shown when four would make the value look equal to a number it is
    compared with (``unlike``, e.g. the rule's threshold) without being equal to it.

    >>> format_value(319.93340000000006), format_value(6000.0), format_value(0.30000000000000004)
    ('319.9', '6000', '0.3')
    >>> format_value(1234.5678), format_value(0.000012345), format_value(-0.5), format_value(float("nan"))
    ('1235', '1.234e-05', '-0.5', 'n/a')
    >>> format_value(0.30004, unlike=[0.3]), format_value(0.3, unlike=[0.3])
    ('0.30004', '0.3')
    """
    if math.isnan(value):
        return "n/a"
    thresholds = set(unlike)
    text = _significant(value, 4)
    digits = 4
    while digits < 17 and float(text) != value and float(text) in thresholds:
        digits += 1
        text = _significant(value, digits)
    return text


def numbers_in(condition: str) -> list[float]:
    """The numbers written in a rule's condition, e.g. ``[0.3]`` for ``> 0.3``.

    >>> numbers_in("> 0.3"), numbers_in("outside [1e-3, 2]"), numbers_in("outside reference")
    ([0.3], [0.001, 2.0], [])
    """
    return [float(match) for match in _NUMBER.findall(condition)]


def _significant(value: float, digits: int) -> str:
    if math.isinf(value) or abs(value) >= 1e15:
        return f"{value:.{digits}g}"
    if value == int(value):
        return str(int(value))
    if abs(value) >= 10 ** (digits - 1):  # as many digits would need an exponent
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def _scalar(item: object) -> str:
    if isinstance(item, str):
        return _one_line(item)
    if isinstance(item, float):
        return format_value(item)
    return _one_line(json.dumps(_rounded(item), ensure_ascii=False))


def _rounded(item: object) -> object:
    """``item`` with every float inside it cut to four significant digits (for display).

    >>> _rounded({"band": [0.30000000000000004, 1234567.8], "n": 3})
    {'band': [0.3, 1235000], 'n': 3}
    """
    if isinstance(item, float):
        if not math.isfinite(item):
            return item
        short = float(f"{item:.4g}")
        return int(short) if short == int(short) and abs(short) < 1e15 else short
    if isinstance(item, dict):
        return {key: _rounded(value) for key, value in item.items()}
    if isinstance(item, list | tuple):
        return [_rounded(value) for value in item]
    return item


def _one_line(text: str) -> str:
    # Header-safe: user-controlled names must not start a new mail header or line.
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
