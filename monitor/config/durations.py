"""Human durations in the config file: ``500ms``, ``30s``, ``5m``, ``1h``, ``7d``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["parse_duration", "format_duration", "Duration", "Offset"]

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: object, *, allow_zero: bool = False) -> timedelta:
    """Parse ``1h30m``-style text (or a timedelta, or seconds as a number).

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_duration("250ms").total_seconds()
    0.25
    """
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 5m, 1h, 7d")
    if isinstance(text, int | float):
        if text < 0 or (text == 0 and not allow_zero):
            raise ValueError(f"a duration must be positive, got {text}")
        return timedelta(seconds=float(text))
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 5m, 1h, 7d")
    compact = text.strip().replace(" ", "")
    if not compact or _PART.sub("", compact):
        raise ValueError(f"{text!r} is not a duration; write a number and a unit (ms, s, m, h, d, w), e.g. 5m or 1h30m")
    total = timedelta()
    for number, unit in _PART.findall(compact):
        total += float(number) * _UNITS[unit]
    if total < timedelta() or (total == timedelta() and not allow_zero):
        raise ValueError(f"a duration must be positive, got {text!r}")
    return total


def format_duration(value: timedelta) -> str:
    """The shortest exact text for ``value`` (``timedelta(hours=1)`` → ``1h``)."""
    ms = round(value.total_seconds() * 1000)
    for unit, size in (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _validate(value: Any) -> timedelta:
    return parse_duration(value)


def _validate_offset(value: Any) -> timedelta:
    return parse_duration(value, allow_zero=True)


Offset = Annotated[
    timedelta,
    BeforeValidator(_validate_offset),
    PlainSerializer(format_duration, return_type=str),
]
"""Like :data:`Duration` but zero is allowed (an offset from a start)."""

Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str),
]
