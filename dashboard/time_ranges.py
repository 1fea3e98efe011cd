"""Time ranges the pages show, and the deep-link parameters that choose them.

Ranges are anchored at the newest window in the store, not the wall clock, so a
store whose ingestion stopped still shows its last day (and the page says how old
it is) instead of an empty chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

__all__ = [
    "AROUND_WINDOW",
    "PRESETS",
    "TimeRange",
    "model_page_query",
    "parse_window",
    "resolve_range",
]

PRESETS: dict[str, timedelta | None] = {
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All": None,
}
AROUND_WINDOW = "Around the linked window (±1 day)"


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Windows starting in ``[start, end)``; ``start`` None means from the beginning."""

    start: datetime | None
    end: datetime


def parse_window(text: str | None) -> datetime | None:
    """The window start of a deep link (ISO 8601), as aware UTC; None if absent or bad.

    A ``+`` in a query string decodes to a space, so ``10:00:00 00:00`` is read as
    ``10:00:00+00:00``.

    >>> parse_window("2026-01-15T10:00:00+00:00")
    datetime.datetime(2026, 1, 15, 10, 0, tzinfo=datetime.timezone.utc)
    >>> parse_window("2026-01-15T10:00:00 00:00") == parse_window("2026-01-15T10:00Z")
    True
    >>> parse_window("yesterday") is None
    True
    """
    if not text:
        return None
    cleaned = text.strip()
    if len(cleaned) > 19 and cleaned[19:20] == " ":
        cleaned = cleaned[:19] + "+" + cleaned[20:]
    try:
        parsed = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def resolve_range(label: str, *, latest_end: datetime, window: datetime | None = None) -> TimeRange:
    """The range a preset label (or :data:`AROUND_WINDOW`) stands for.

    >>> end = datetime(2026, 1, 15, 12, tzinfo=UTC)
    >>> resolve_range("Last 24 hours", latest_end=end).start
    datetime.datetime(2026, 1, 14, 12, 0, tzinfo=datetime.timezone.utc)
    >>> resolve_range(AROUND_WINDOW, latest_end=end, window=datetime(2026, 1, 10, tzinfo=UTC))
    TimeRange(start=datetime.datetime(2026, 1, 9, 0, 0, tzinfo=datetime.timezone.utc), \
end=datetime.datetime(2026, 1, 11, 0, 0, tzinfo=datetime.timezone.utc))
    """
    if label == AROUND_WINDOW and window is not None:
        return TimeRange(window - timedelta(days=1), window + timedelta(days=1))
    span = PRESETS.get(label, PRESETS["Last 7 days"])
    return TimeRange(None if span is None else latest_end - span, latest_end)


def model_page_query(model: str, version: str | None = None, window: datetime | None = None) -> str:
    """The query string of a model-page deep link, as alert notifications build it.

    >>> model_page_query("fraud", "v2", datetime(2026, 1, 15, 10, tzinfo=UTC))
    'model=fraud&version=v2&window=2026-01-15T10%3A00%3A00%2B00%3A00'
    """
    params: Mapping[str, str] = {
        key: value
        for key, value in (
            ("model", model),
            ("version", version),
            ("window", window.astimezone(UTC).isoformat() if window is not None else None),
        )
        if value is not None
    }
    return urlencode(params)
