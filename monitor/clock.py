"""The one wall clock and the two ways a moment is written, shared by the jobs, the
alerts and the CLI.

- :func:`utc_now`: the wall clock, an aware UTC datetime (pass a ``clock`` callable
  where a test needs another time; every default is this one).
- :func:`iso_utc`: ISO-8601 in UTC with a ``Z`` (``2026-01-01T10:00:00Z``): what is
  stored or sent (notification payloads, deep links, idempotency keys), logged and
  quoted in messages.
- :func:`format_time`: for people (``2026-01-01 10:00 UTC``): notifications' text,
  CLI tables.

The store writes its own column format (``monitor.store``); this module is not it.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_time", "iso_utc", "utc_now"]


def utc_now() -> datetime:
    """The wall clock, as an aware UTC datetime.

    >>> utc_now().tzinfo is UTC
    True
    """
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC, ``Z`` for the zone; a naive moment is taken as UTC.

    >>> iso_utc(datetime(2026, 1, 1, 10, tzinfo=UTC))
    '2026-01-01T10:00:00Z'
    >>> from datetime import timedelta, timezone
    >>> iso_utc(datetime(2026, 1, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))))
    '2026-01-01T10:30:00Z'
    >>> iso_utc(datetime(2026, 1, 1, 10, 0, 5, 250000))
    '2026-01-01T10:00:05.250000Z'
    """
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def format_time(moment: datetime) -> str:
    """For people: ``2026-01-01 10:00 UTC`` (seconds only when not zero); naive is UTC.

    >>> format_time(datetime(2026, 1, 1, 10, tzinfo=UTC))
    '2026-01-01 10:00 UTC'
    >>> format_time(datetime(2026, 1, 1, 10, 0, 30))
    '2026-01-01 10:00:30 UTC'
    >>> from datetime import timedelta, timezone
    >>> format_time(datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))))
    '2026-01-01 10:00 UTC'
    """
    moment = moment if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if moment.second else "%Y-%m-%d %H:%M UTC")
