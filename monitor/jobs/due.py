"""Which windows are due, from what the store says about them (pure: no I/O, no clock).

A window is due when

- it was never computed: ``schedule`` once complete, ``partial`` while the clock is
  still inside it (the current window, refreshed as data arrives);
- it was computed while incomplete and is complete now: ``schedule``;
- its data changed since it was computed — a prediction or a label ingested after
  the newest one the computation saw (its ``data_watermark``): ``late-data`` (or
  ``partial`` for the current window).

:class:`ModelTracker` remembers, between ticks, what one scheduler has learnt about
a model: the windows each version has data in, activity not yet dealt with, and how
far every window is settled, so a tick looks only at what may have changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.clock import iso_utc
from monitor.errors import DriftwatchError
from monitor.event_time import EventTimeRange
from monitor.jobs.windows import Window, window_from_index, window_index, windows_between
from monitor.logs import fields
from monitor.store.window_activity import WindowActivity
from monitor.store.window_state import WindowState

__all__ = ["LISTED_LOOKBACK", "MAX_LISTED_WINDOWS", "ModelTracker", "VersionSpan", "due_trigger"]

log = logging.getLogger(__name__)

# Empty windows (no data, e.g. a traffic stop) are computed this far back at most.
LISTED_LOOKBACK = timedelta(days=7)
MAX_LISTED_WINDOWS = 1000


def due_trigger(window: Window, state: WindowState | None, newest: datetime | None, now: datetime) -> str | None:
    """Why ``window`` must be computed now, or None if it is up to date.

    ``newest`` is the newest ingested_at seen for the window's data (None: unknown
    or no data).

    >>> from datetime import UTC
    >>> w = Window(datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC))
    >>> due_trigger(w, None, None, now=datetime(2026, 1, 1, 12, tzinfo=UTC))
    'schedule'
    >>> due_trigger(w, None, None, now=datetime(2026, 1, 1, 10, 30, tzinfo=UTC))
    'partial'
    """
    complete = window.is_complete(now)
    # A state with another end is a window of a size the config no longer uses.
    if state is None or state.computed_at is None or state.key.end != window.end:
        return "schedule" if complete else "partial"
    changed = newest is not None and (state.data_watermark is None or newest > state.data_watermark)
    if changed:
        if not complete:
            return "partial"
        return "schedule" if state.is_partial else "late-data"
    if complete and state.is_partial:
        return "schedule"
    return None


@dataclass(slots=True)
class VersionSpan:
    """The first and last window (numbers) a model version has data in."""

    first: int
    last: int

    def widen(self, index: int) -> None:
        self.first = min(self.first, index)
        self.last = max(self.last, index)


@dataclass(slots=True)
class ModelTracker:
    """One scheduler's knowledge of one model between ticks (see the module docstring).

    Windows that start after ``event_range``'s latest accepted event time are never
    listed (rows stored there before ingestion refused such times, or by hand): they
    are skipped with a logged note, so one row dated 9999 cannot make a tick walk
    every window up to it.
    """

    size: timedelta
    model: str = ""
    event_range: EventTimeRange = field(default_factory=EventTimeRange)
    scanned_until: datetime | None = None
    spans: dict[str, VersionSpan] = field(default_factory=dict)
    pending: dict[tuple[str, int], datetime] = field(default_factory=dict)
    settled: dict[str, int] = field(default_factory=dict)
    skipped: set[tuple[str, int]] = field(default_factory=set)

    def absorb(self, activity: Iterable[WindowActivity]) -> None:
        """Take in a scan: new windows with data, and data newer than seen before."""
        for item in activity:
            key = (item.model_version, item.index)
            if key not in self.pending or item.newest > self.pending[key]:
                self.pending[key] = item.newest
            span = self.spans.get(item.model_version)
            if span is None:
                self.spans[item.model_version] = VersionSpan(item.index, item.index)
            else:
                span.widen(item.index)
            if self.scanned_until is None or item.newest > self.scanned_until:
                self.scanned_until = item.newest

    def live_version(self, now: datetime | None = None) -> str | None:
        """The version with the most recent data (it gets windows up to the clock, even empty ones).

        With ``now``, data in windows past the accepted event times does not count.
        """
        cap = self._last_allowed(now) if now is not None else None
        versions = [version for version, span in self.spans.items() if cap is None or span.first <= cap]
        if not versions:
            return None
        return max(versions, key=lambda version: (
            self.spans[version].last if cap is None else min(self.spans[version].last, cap), version))

    def _last_allowed(self, now: datetime) -> int:
        """The number of the last window that may hold an accepted event time."""
        return window_index(self.event_range.latest(now), self.size)

    def _skip(self, version: str, indexes: Iterable[int], now: datetime) -> None:
        """Log (once each) windows past the accepted event times, and forget their activity."""
        new = sorted(index for index in indexes if (version, index) not in self.skipped)
        for index in new:
            self.skipped.add((version, index))
            self.pending.pop((version, index), None)
        if new:
            log.warning(
                "windows skipped: their predictions have event times past the accepted range; delete those rows "
                "(or raise ingest.max_event_lead) to have them computed",
                extra=fields(model=self.model, version=version, windows=len(new),
                             first_skipped=_start_text(new[0], self.size),
                             latest_allowed=iso_utc(self.event_range.latest(now))))

    def _lookback_start(self, now: datetime) -> int:
        windows = max(1, min(MAX_LISTED_WINDOWS, LISTED_LOOKBACK // self.size))
        return window_index(now, self.size) - windows + 1

    def _first_listed(self, version: str, now: datetime) -> int:
        return max(self.settled.get(version, self.spans[version].first), self._lookback_start(now))

    def candidates(self, now: datetime) -> list[tuple[str, Window]]:
        """Windows that may be due: with new activity, or recent and not known to be settled.

        Every window with data is listed through its activity; empty windows only
        within the look-back (:data:`LISTED_LOOKBACK`, at most
        :data:`MAX_LISTED_WINDOWS`), so a model silent for months does not produce
        months of empty windows.
        """
        current = window_index(now, self.size)
        cap = max(current, self._last_allowed(now))
        live = self.live_version(now)
        for version in {version for version, index in self.pending if index > cap}:
            self._skip(version, (index for v, index in self.pending if v == version and index > cap), now)
        keys = set(self.pending)
        for version, span in self.spans.items():
            # Empty windows up to the clock at most; windows ahead of it are listed by their data.
            last = current if version == live else min(span.last, current)
            for index in range(self._first_listed(version, now), last + 1):
                keys.add((version, index))
        return [(version, window_from_index(index, self.size))
                for version, index in sorted(keys, key=lambda key: (key[1], key[0]))]

    def backfill_windows(self, now: datetime, start: datetime | None = None,
                         end: datetime | None = None) -> list[tuple[str, Window]]:
        """Every window of :meth:`absorb`'s activity (a full scan) to recompute, oldest first.

        The windows with data, and the empty ones between a version's first and last
        data window within the accepted event-time range: a stray row from 1970 adds
        its one window, not decades of empty ones, and rows past the range none.
        ``start``/``end`` narrow it further.
        """
        cap = max(window_index(now, self.size), self._last_allowed(now))
        floor = window_index(self.event_range.earliest(now), self.size)
        keys: set[tuple[str, int]] = set()
        for version in self.spans:
            data = [index for v, index in self.pending if v == version]
            self._skip(version, (index for index in data if index > cap), now)
            keys.update((version, index) for index in data if index <= cap)
            inside = [index for index in data if floor <= index <= cap]
            if inside:
                for window in windows_between(window_from_index(min(inside), self.size).start,
                                              window_from_index(max(inside), self.size).end, self.size):
                    keys.add((version, window_index(window.start, self.size)))
        listed = [(version, window_from_index(index, self.size)) for version, index in keys]
        return sorted(((version, window) for version, window in listed
                       if (start is None or window.end > start) and (end is None or window.start < end)),
                      key=lambda item: (item[1].start, item[0]))

    def newest(self, version: str, window: Window) -> datetime | None:
        return self.pending.get((version, window_index(window.start, self.size)))

    def resolve(self, version: str, window: Window, newest: datetime | None) -> None:
        """The window is up to date with ``newest``: forget that activity."""
        key = (version, window_index(window.start, self.size))
        if key in self.pending and (newest is None or self.pending[key] <= newest):
            del self.pending[key]

    def settle(self, states: Mapping[tuple[str, datetime], WindowState], now: datetime) -> None:
        """Advance each version's settled mark over windows computed final and quiet."""
        current = window_index(now, self.size)
        for version in self.spans:
            index = self._first_listed(version, now)
            while index <= current:  # (a window past the clock is never complete)
                window = window_from_index(index, self.size)
                state = states.get((version, window.start))
                if (state is None or state.computed_at is None or state.is_partial or not window.is_complete(now)
                        or (version, index) in self.pending):
                    break
                index += 1
            self.settled[version] = index


def _start_text(index: int, size: timedelta) -> str:
    try:
        return iso_utc(window_from_index(index, size).start)
    except DriftwatchError:  # a window past year 9999 has no datetime
        return f"window number {index} of {size} (past year 9999)"
