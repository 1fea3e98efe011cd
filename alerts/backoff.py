"""Exponential backoff with jitter, for the dispatcher's retry stage (pure).

The n-th retry waits ``min(cap, base * factor ** (n - 1))`` seconds, shortened by
a random share of up to ``jitter`` so that notifications that failed together do
not all come back at the same instant. (tenacity's wait strategies compute the
same thing, but need a live ``Retrying`` loop; here the retry state lives in the
outbox row, between processes.)

>>> import random
>>> backoff = Backoff(jitter=0.0)
>>> [backoff.delay(n, random.Random(0)) for n in (1, 2, 3, 9, 10)]
[2.0, 4.0, 8.0, 300.0, 300.0]
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """``base`` seconds, times ``factor`` per attempt, at most ``cap`` seconds;
    ``jitter`` in [0, 1) is the largest share taken off at random."""

    base: float = 2.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        for name in ("base", "factor", "cap", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"Backoff.{name} must be a finite number, got {value!r}")
        if self.base <= 0:
            raise ValueError(f"Backoff.base must be > 0 seconds, got {self.base}; e.g. 2")
        if self.factor < 1:
            raise ValueError(f"Backoff.factor must be >= 1 (1 = constant delay), got {self.factor}")
        if self.cap < self.base:
            raise ValueError(f"Backoff.cap ({self.cap}) must be >= base ({self.base})")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"Backoff.jitter must be in [0, 1), got {self.jitter}; e.g. 0.5")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 = the first)."""
        if attempt < 1:
            raise ValueError(f"attempt counts from 1, got {attempt}")
        exponent = min(attempt - 1, 64)  # past this the cap rules anyway; avoids overflow
        raw = min(self.cap, self.base * self.factor**exponent)
        return raw * (1.0 - self.jitter * rng.random())
