"""Tumbling event-time windows aligned to UTC, and which of them a clock says are due.

A window of size ``d`` starts at a whole multiple of ``d`` since the Unix epoch
(1970-01-01T00:00Z). The config only accepts sizes that divide a day or are whole
days, so a ``1h`` window starts on the hour and a ``15m`` window at :00, :15, :30
and :45 — in UTC, whatever the server's time zone. A window holds the events with
``start <= event_time < end``; it is *complete* once the clock reaches its end.

Pure functions of datetimes: no store, no wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.clock import iso_utc
from monitor.errors import DriftwatchError

__all__ = ["EPOCH", "Window", "window_at", "window_from_index", "window_index", "windows_between"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _check_size(size: timedelta) -> None:
    if size <= timedelta():
        raise DriftwatchError(f"window size must be positive, got {size}; set models.<model>.window, e.g. 1h")


def _check_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None:
        raise DriftwatchError(f"{what} {moment.isoformat()} has no time zone; pass an aware UTC datetime")


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    @property
    def size(self) -> timedelta:
        return self.end - self.start

    def is_complete(self, now: datetime) -> bool:
        """True once ``now`` has reached the window's end (no more on-time events)."""
        return now >= self.end

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return f"[{iso_utc(self.start)}, {iso_utc(self.end)})"


def window_index(moment: datetime, size: timedelta) -> int:
    """The number of whole windows of ``size`` between the epoch and ``moment`` (floored).

    >>> window_index(datetime(1970, 1, 1, 2, 30, tzinfo=UTC), timedelta(hours=1))
    2
    >>> window_index(datetime(1969, 12, 31, 23, 30, tzinfo=UTC), timedelta(hours=1))
    -1
    """
    _check_size(size)
    _check_aware(moment, "time")
    return (moment - EPOCH) // size


def window_from_index(index: int, size: timedelta) -> Window:
    """The window number ``index`` of ``size`` (see :func:`window_index`).

    >>> window_from_index(window_index(datetime(9999, 12, 31, 23, tzinfo=UTC), timedelta(hours=1)),
    ...                   timedelta(hours=1))
    Traceback (most recent call last):
    monitor.errors.DriftwatchError: window number 70389527 of 1:00:00 ends after year 9999, which no date can hold; \
its predictions have an impossible event time (delete them: ingestion now refuses such times)
    """
    _check_size(size)
    try:
        start = EPOCH + index * size
        return Window(start, start + size)
    except OverflowError:
        raise DriftwatchError(
            f"window number {index} of {size} ends after year 9999, which no date can hold; its predictions "
            "have an impossible event time (delete them: ingestion now refuses such times)"
        ) from None


def window_at(moment: datetime, size: timedelta) -> Window:
    """The window of ``size`` that holds ``moment``.

    >>> str(window_at(datetime(2026, 3, 1, 10, 59, 59, tzinfo=UTC), timedelta(hours=1)))
    '[2026-03-01T10:00:00Z, 2026-03-01T11:00:00Z)'
    >>> str(window_at(datetime(2026, 3, 1, 10, 7, tzinfo=UTC), timedelta(minutes=15)))
    '[2026-03-01T10:00:00Z, 2026-03-01T10:15:00Z)'
    """
    _check_aware(moment, "time")
    return window_from_index(window_index(moment.astimezone(UTC), size), size)


def windows_between(start: datetime, end: datetime, size: timedelta) -> Iterator[Window]:
    """Every window of ``size`` that overlaps ``[start, end)``, oldest first.

    >>> [w.start.hour for w in windows_between(datetime(2026, 3, 1, 10, 30, tzinfo=UTC),
    ...                                         datetime(2026, 3, 1, 13, 0, tzinfo=UTC), timedelta(hours=1))]
    [10, 11, 12]
    """
    _check_aware(end, "end")
    if end <= start:
        return
    first = window_index(start, size)
    last = window_index(end - timedelta(microseconds=1), size)
    for index in range(first, last + 1):
        yield window_from_index(index, size)
