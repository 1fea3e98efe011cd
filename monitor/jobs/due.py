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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.jobs.windows import Window, window_from_index, window_index
from monitor.store.window_activity import WindowActivity
from monitor.store.window_state import WindowState

__all__ = ["LISTED_LOOKBACK", "MAX_LISTED_WINDOWS", "ModelTracker", "VersionSpan", "due_trigger"]

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
    """One scheduler's knowledge of one model between ticks (see the module docstring)."""

    size: timedelta
    scanned_until: datetime | None = None
    spans: dict[str, VersionSpan] = field(default_factory=dict)
    pending: dict[tuple[str, int], datetime] = field(default_factory=dict)
    settled: dict[str, int] = field(default_factory=dict)

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

    def live_version(self) -> str | None:
        """The version with the most recent data (it gets windows up to the clock, even empty ones)."""
        if not self.spans:
            return None
        return max(self.spans, key=lambda version: (self.spans[version].last, version))

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
        live = self.live_version()
        keys = set(self.pending)
        for version, span in self.spans.items():
            last = max(current, span.last) if version == live else span.last
            for index in range(self._first_listed(version, now), last + 1):
                keys.add((version, index))
        return [(version, window_from_index(index, self.size))
                for version, index in sorted(keys, key=lambda key: (key[1], key[0]))]

    def newest(self, version: str, window: Window) -> datetime | None:
        return self.pending.get((version, window_index(window.start, self.size)))

    def resolve(self, version: str, window: Window, newest: datetime | None) -> None:
        """The window is up to date with ``newest``: forget that activity."""
        key = (version, window_index(window.start, self.size))
        if key in self.pending and (newest is None or self.pending[key] <= newest):
            del self.pending[key]

    def settle(self, states: Mapping[tuple[str, datetime], WindowState], now: datetime) -> None:
        """Advance each version's settled mark over windows computed final and quiet."""
        for version in self.spans:
            index = self._first_listed(version, now)
            while True:
                window = window_from_index(index, self.size)
                state = states.get((version, window.start))
                if (state is None or state.computed_at is None or state.is_partial or not window.is_complete(now)
                        or (version, index) in self.pending):
                    break
                index += 1
            self.settled[version] = index
