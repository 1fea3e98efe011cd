"""Alert thresholds learned from the reference: mean ± k standard deviations over its chunks.

A :class:`Spread` keeps what the chunks taught (the metric's mean and std over them, its
bounds, and whether it is a count), so the thresholds can be drawn for a window of any
size: a window of ``r`` chunks' rows sees a mean-like metric (a rate, an average error)
with ``1/√r`` times the chunks' spread around the same mean, and a count around ``r``
times the chunks' mean with ``√r`` times their spread. For ``r = 1`` (and offline, where
every chunk is a reference chunk's size) they are NannyML's mean ± k·std.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, t

from monitor.errors import MetricError

__all__ = [
    "DEFAULT_STD_MULTIPLIER",
    "SAMPLING_ERROR_RANGE",
    "Spread",
    "chunk_spread",
    "few_chunk_multiplier",
    "outside",
    "reference_thresholds",
]

DEFAULT_STD_MULTIPLIER = 3.0
SAMPLING_ERROR_RANGE = 3.0  # the band is the estimate ± this many standard errors


@dataclass(frozen=True)
class Spread:
    """A metric over the reference chunks: the mean and (population) std of its ``chunks``
    defined values, the values it cannot leave (a threshold at or beyond one is clipped to it,
    or dropped with ``drop_at_limit``), and whether it is a count (grows with the rows)."""

    mean: float
    std: float
    chunks: int
    lower_limit: float | None = None
    upper_limit: float | None = None
    drop_at_limit: bool = False
    count: bool = False

    def thresholds(self, multiplier: float, *, share: float = 1.0) -> tuple[float | None, float | None]:
        """``mean ± multiplier · std`` for a window of ``share`` chunks' rows (see the module docstring).

        >>> Spread(0.8, 0.05, 10, 0.0, 1.0).thresholds(3.0)
        (0.65, 0.9500000000000001)
        >>> lower, upper = Spread(0.8, 0.05, 10, 0.0, 1.0).thresholds(3.0, share=0.25)  # ± 3 · 0.05 · 2
        >>> round(lower, 6), upper
        (0.5, 1.0)
        >>> Spread(100.0, 10.0, 10, 0.0, count=True).thresholds(3.0, share=4.0)  # 400 ± 3 · 10 · 2
        (340.0, 460.0)
        >>> Spread(4.0, 2.0, 10, 0.0, count=True).thresholds(3.0)  # 4 - 6 is below 0: clipped
        (0.0, 10.0)
        >>> Spread(2.0, 1.0, 10, 0.0, drop_at_limit=True).thresholds(3.0)  # dropped instead
        (None, 5.0)
        >>> Spread(math.nan, math.nan, 0).thresholds(3.0)
        (None, None)
        """
        if not (math.isfinite(self.mean) and math.isfinite(self.std)) or share <= 0:
            return None, None
        if self.count:
            centre, half_width = self.mean * share, multiplier * self.std * math.sqrt(share)
        else:
            centre, half_width = self.mean, multiplier * self.std / math.sqrt(share)
        lower: float | None = centre - half_width
        upper: float | None = centre + half_width
        if self.lower_limit is not None and lower is not None and lower <= self.lower_limit:
            lower = None if self.drop_at_limit else self.lower_limit
        if self.upper_limit is not None and upper is not None and upper >= self.upper_limit:
            upper = None if self.drop_at_limit else self.upper_limit
        return lower, upper


def chunk_spread(values: Sequence[float] | np.ndarray, *, lower_limit: float | None = None,
                 upper_limit: float | None = None, drop_at_limit: bool = False, count: bool = False) -> Spread:
    """The :class:`Spread` of the reference chunks' ``values`` (missing values ignored; NaN mean and
    std when none is defined).

    >>> spread = chunk_spread([1.0, 2.0, float("nan"), 3.0], lower_limit=0.0)
    >>> spread.mean, round(spread.std, 6), spread.chunks, spread.lower_limit
    (2.0, 0.816497, 3, 0.0)
    """
    data = np.asarray(values, dtype=float)
    defined = int(np.isfinite(data).sum())
    mean = std = math.nan
    if defined:
        with np.errstate(all="ignore"):
            mean, std = float(np.nanmean(data)), float(np.nanstd(data))
    return Spread(mean, std, defined, lower_limit, upper_limit, drop_at_limit, count)


def reference_thresholds(
    values: Sequence[float] | np.ndarray,
    *,
    multiplier: float = DEFAULT_STD_MULTIPLIER,
    lower_limit: float | None = None,
    upper_limit: float | None = None,
    drop_at_limit: bool = False,
    name: str = "the metric",
) -> tuple[float | None, float | None]:
    """``mean ± multiplier · std`` of the reference chunks' values (missing values ignored).

    A threshold at or beyond a metric's bound (``lower_limit``/``upper_limit``) is clipped
    to the bound, or dropped (``None``: no threshold on that side) with ``drop_at_limit``.

    >>> lower, upper = reference_thresholds([0.8, 0.9, 1.0], lower_limit=0.0, upper_limit=1.0)
    >>> round(lower, 6), upper
    (0.655051, 1.0)
    >>> lower, upper = reference_thresholds([1.0, 2.0, 3.0], lower_limit=0.0, drop_at_limit=True)
    >>> lower, round(upper, 6)
    (None, 4.44949)
    """
    spread = chunk_spread(values, lower_limit=lower_limit, upper_limit=upper_limit, drop_at_limit=drop_at_limit)
    if spread.chunks == 0:
        raise MetricError(f"no reference chunk gives a value for {name} (e.g. every chunk holds a single class), "
                          "so no threshold can be learned; use bigger chunks or leave the metric out")
    return spread.thresholds(multiplier)


def few_chunk_multiplier(multiplier: float, chunks: int) -> float:
    """The std multiplier (on the population std of ``chunks`` values) whose interval holds a
    new value as often as ``multiplier`` std would if the mean and std were known exactly.

    >>> round(few_chunk_multiplier(3.0, 10), 2), round(few_chunk_multiplier(3.0, 50), 2)
    (4.53, 3.22)
    """
    if chunks < 2:
        return math.inf
    quantile = float(t.ppf(norm.cdf(multiplier), df=chunks - 1))
    return quantile * math.sqrt(1 + 1 / chunks) * math.sqrt(chunks / (chunks - 1))


def outside(value: float, lower: float | None, upper: float | None) -> bool:
    """True when ``value`` is below ``lower`` or above ``upper`` (a missing bound never alerts);
    a value that could not be computed (NaN) alerts: it cannot be called all clear.

    >>> outside(0.5, 0.6, None), outside(0.5, 0.4, 0.6), outside(float("nan"), 0, 1)
    (True, False, True)
    """
    if math.isnan(value):
        return True
    return (lower is not None and value < lower) or (upper is not None and value > upper)
