"""The event times driftwatch accepts: a range around the clock (``ingest.max_event_age``
back, ``ingest.max_event_lead`` ahead).

A timestamp far outside it is a bug upstream (seconds sent as milliseconds, a
placeholder such as ``9999-12-31``, an unset clock at 1970), never a real event:
ingestion dead-letters it, and window enumeration skips windows outside it, so one
such row can neither make the scheduler walk millennia of windows nor overflow a date.

>>> from datetime import UTC, datetime
>>> now = datetime(2026, 12, 3, tzinfo=UTC)
>>> EventTimeRange().problem(datetime(2026, 12, 2, tzinfo=UTC), now) is None
True
>>> print(EventTimeRange().problem(datetime(9999, 12, 31, tzinfo=UTC), now))
is 7972 years ahead of now (2026-12-03T00:00:00Z); event times are accepted from 365 days back to 1 day \
ahead: fix the sender's clock or timestamp, or raise ingest.max_event_lead
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["DEFAULT_MAX_EVENT_AGE", "DEFAULT_MAX_EVENT_LEAD", "EventTimeRange"]

DEFAULT_MAX_EVENT_AGE = timedelta(days=365)
DEFAULT_MAX_EVENT_LEAD = timedelta(days=1)


def _span(delta: timedelta) -> str:
    """``delta`` in the largest whole unit that is at least 1 (years, days, hours, minutes, seconds)."""
    seconds = abs(delta.total_seconds())
    for unit, size in (("year", 365.25 * 86400), ("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class EventTimeRange:
    """Event times from ``max_age`` before the clock to ``max_lead`` after it."""

    max_age: timedelta = DEFAULT_MAX_EVENT_AGE
    max_lead: timedelta = DEFAULT_MAX_EVENT_LEAD

    def earliest(self, now: datetime) -> datetime:
        try:
            return now - self.max_age
        except OverflowError:
            return datetime.min.replace(tzinfo=UTC)

    def latest(self, now: datetime) -> datetime:
        try:
            return now + self.max_lead
        except OverflowError:
            return datetime.max.replace(tzinfo=UTC)

    def describe(self) -> str:
        return f"from {_span(self.max_age)} back to {_span(self.max_lead)} ahead"

    def problem(self, moment: datetime, now: datetime) -> str | None:
        """Why ``moment`` is not a plausible event time at ``now`` (None when it is)."""
        if moment > self.latest(now):
            return (f"is {_span(moment - now)} ahead of now ({_iso(now)}); event times are accepted "
                    f"{self.describe()}: fix the sender's clock or timestamp, or raise ingest.max_event_lead")
        if moment < self.earliest(now):
            return (f"is {_span(now - moment)} before now ({_iso(now)}); event times are accepted "
                    f"{self.describe()}: fix the sender's clock or timestamp (seconds sent as milliseconds?), "
                    "or raise ingest.max_event_age to load older data")
        return None
