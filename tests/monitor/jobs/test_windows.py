"""Known answers for UTC-aligned tumbling windows and for the due rule."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.errors import DriftwatchError
from monitor.jobs.due import ModelTracker, due_trigger
from monitor.jobs.windows import Window, window_at, window_from_index, window_index, windows_between
from monitor.store.window_activity import WindowActivity
from monitor.store.window_state import WindowKey, WindowState

H = timedelta(hours=1)
T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "size", "start"),
    [
        (datetime(2026, 3, 2, 10, 0, tzinfo=UTC), H, datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
        (datetime(2026, 3, 2, 10, 59, 59, 999999, tzinfo=UTC), H, datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
        (datetime(2026, 3, 2, 11, 0, tzinfo=UTC), H, datetime(2026, 3, 2, 11, 0, tzinfo=UTC)),
        (datetime(2026, 3, 2, 10, 44, tzinfo=UTC), timedelta(minutes=15), datetime(2026, 3, 2, 10, 30, tzinfo=UTC)),
        (datetime(2026, 3, 2, 23, 59, tzinfo=UTC), timedelta(hours=6), datetime(2026, 3, 2, 18, 0, tzinfo=UTC)),
        (datetime(2026, 3, 2, 13, 0, tzinfo=UTC), timedelta(days=1), datetime(2026, 3, 2, tzinfo=UTC)),
        # A time in another zone lands in the UTC window: 12:30+02:00 is 10:30Z.
        (datetime(2026, 3, 2, 12, 30, tzinfo=timezone(timedelta(hours=2))), H,
         datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
        (datetime(1969, 12, 31, 23, 30, tzinfo=UTC), H, datetime(1969, 12, 31, 23, 0, tzinfo=UTC)),
    ],
)
def test_window_at_is_aligned_to_utc(moment, size, start):
    window = window_at(moment, size)
    assert window == Window(start, start + size)
    assert window.start.tzinfo == UTC
    assert window.contains(moment)
    assert window_from_index(window_index(moment, size), size) == window


def test_windows_between_covers_every_overlapping_window_once():
    windows = list(windows_between(T + timedelta(minutes=30), T + 3 * H, H))
    assert [w.start for w in windows] == [T, T + H, T + 2 * H]
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert list(windows_between(T, T, H)) == []
    assert [w.start for w in windows_between(T, T + H + timedelta(microseconds=1), H)] == [T, T + H]


def test_a_day_of_hourly_windows():
    day = list(windows_between(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC), H))
    assert len(day) == 24
    assert day[0].start.hour == 0 and day[-1].end == datetime(2026, 3, 3, tzinfo=UTC)


def test_completeness_follows_the_clock():
    window = Window(T, T + H)
    assert not window.is_complete(T + timedelta(minutes=59))
    assert window.is_complete(T + H)


def test_naive_times_and_bad_sizes_are_refused():
    with pytest.raises(DriftwatchError, match="time zone"):
        window_at(datetime(2026, 3, 2, 10), H)
    with pytest.raises(DriftwatchError, match="positive"):
        window_at(T, timedelta())


def _state(*, computed: bool = True, watermark: datetime | None = T, partial: bool = False) -> WindowState:
    return WindowState(key=WindowKey("m", "v1", T, T + H), computed_at=T + 2 * H if computed else None,
                       data_watermark=watermark, is_partial=partial, claimed_by=None, claimed_until=None)


@pytest.mark.parametrize(
    ("state", "newest", "now", "expected"),
    [
        (None, None, T + 2 * H, "schedule"),  # never computed, complete
        (None, T, T + timedelta(minutes=30), "partial"),  # the current window
        (_state(computed=False), None, T + 2 * H, "schedule"),  # claimed once, never finished
        (_state(), T, T + 2 * H, None),  # nothing new
        (_state(), T - H, T + 2 * H, None),  # older data than already seen
        (_state(), T + timedelta(seconds=1), T + 2 * H, "late-data"),  # a late label or prediction
        (_state(watermark=None), T, T + 2 * H, "late-data"),  # was empty, now has data
        (_state(partial=True), None, T + 2 * H, "schedule"),  # computed while open, now complete
        (_state(partial=True), T + timedelta(seconds=1), T + 2 * H, "schedule"),
        (_state(partial=True), T + timedelta(seconds=1), T + timedelta(minutes=30), "partial"),  # refresh
        (_state(partial=True), T, T + timedelta(minutes=30), None),  # open, nothing new
    ],
)
def test_due_trigger(state, newest, now, expected):
    assert due_trigger(Window(T, T + H), state, newest, now) == expected


def test_a_window_of_another_size_is_not_up_to_date():
    # The config's window went from 1h to 15m: the 1h state at the same start does not count.
    assert due_trigger(Window(T, T + timedelta(minutes=15)), _state(), None, T + 2 * H) == "schedule"


def test_tracker_lists_catch_up_and_empty_windows_of_the_live_version():
    tracker = ModelTracker(size=H)
    base = window_index(T, H)
    tracker.absorb([WindowActivity("v1", base, T), WindowActivity("v1", base + 2, T),
                    WindowActivity("v0", base - 3, T - 3 * H)])
    assert tracker.live_version() == "v1"
    listed = [(version, window.start) for version, window in tracker.candidates(T + 4 * H + timedelta(minutes=1))]
    # v0: only its one window; v1: from its first window up to the clock's, gaps included.
    assert listed == [("v0", T - 3 * H), ("v1", T), ("v1", T + H), ("v1", T + 2 * H), ("v1", T + 3 * H),
                      ("v1", T + 4 * H)]
    assert tracker.scanned_until == T


def test_tracker_settles_computed_windows_and_keeps_pending_activity():
    tracker = ModelTracker(size=H)
    base = window_index(T, H)
    tracker.absorb([WindowActivity("v1", base, T + H), WindowActivity("v1", base + 1, T + 2 * H)])
    done = {("v1", T): _state(), ("v1", T + H): _state()}
    tracker.resolve("v1", Window(T, T + H), T + H)
    tracker.settle(done, now=T + 3 * H)
    # The second window still has unresolved activity, so settling stops there.
    assert tracker.settled["v1"] == base + 1
    assert [w.start for _, w in tracker.candidates(T + 3 * H)] == [T + H, T + 2 * H, T + 3 * H]


def test_tracker_lists_empty_windows_only_within_the_look_back():
    tracker = ModelTracker(size=H)
    long_ago = T - timedelta(days=30)
    tracker.absorb([WindowActivity("v1", window_index(long_ago, H), long_ago)])
    listed = [window.start for _, window in tracker.candidates(T)]
    # The window with data, then the last 7 days of (empty) windows up to the clock's.
    assert listed[0] == long_ago
    assert listed[1:] == [T - h * H for h in range(167, -1, -1)]


def test_tracker_never_lists_windows_past_the_accepted_event_times():
    now = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    tracker = ModelTracker(size=H)
    far = window_index(datetime(9999, 12, 31, 23, tzinfo=UTC), H)
    tracker.absorb([WindowActivity("v1", window_index(now, H) - 1, now),
                    WindowActivity("v1", far, now), WindowActivity("v9", far, now)])
    listed = tracker.candidates(now)
    assert listed == [("v1", window_at(now - H, H)), ("v1", window_at(now, H))]
    assert tracker.live_version(now) == "v1"
    tracker.settle({}, now)  # v9's only window is past year 9999: no date for it is ever made
    assert tracker.backfill_windows(now) == [("v1", window_at(now - H, H))]
