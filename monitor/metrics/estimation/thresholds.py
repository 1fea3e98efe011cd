"""Alert thresholds learned from the reference: mean ± k standard deviations over its chunks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from monitor.errors import MetricError

__all__ = [
    "DEFAULT_STD_MULTIPLIER",
    "SAMPLING_ERROR_RANGE",
    "chunk_spread",
    "count_thresholds",
    "outside",
    "reference_thresholds",
]

DEFAULT_STD_MULTIPLIER = 3.0
SAMPLING_ERROR_RANGE = 3.0  # the band is the estimate ± this many standard errors


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
    data = np.asarray(values, dtype=float)
    if not np.isfinite(data).any():
        raise MetricError(f"no reference chunk gives a value for {name} (e.g. every chunk holds a single class), "
                          "so no threshold can be learned; use bigger chunks or leave the metric out")
    with np.errstate(all="ignore"):
        mean, std = float(np.nanmean(data)), float(np.nanstd(data))
    lower: float | None = mean - multiplier * std
    upper: float | None = mean + multiplier * std
    if lower_limit is not None and lower is not None and lower <= lower_limit:
        lower = None if drop_at_limit else lower_limit
    if upper_limit is not None and upper is not None and upper >= upper_limit:
        upper = None if drop_at_limit else upper_limit
    return lower, upper


def outside(value: float, lower: float | None, upper: float | None) -> bool:
    """True when ``value`` is below ``lower`` or above ``upper`` (a missing bound never alerts);
    a value that could not be computed (NaN) alerts: it cannot be called all clear.

    >>> outside(0.5, 0.6, None), outside(0.5, 0.4, 0.6), outside(0.7, None, 0.6), outside(float("nan"), 0, 1)
    (True, False, True, True)
    """
    if math.isnan(value):
        return True
    return (lower is not None and value < lower) or (upper is not None and value > upper)


def chunk_spread(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """(mean, std) of the reference chunks' values, missing values ignored, as
    :func:`reference_thresholds` computes them (NaN when no chunk gives a value).

    >>> chunk_spread([1.0, 2.0, float("nan"), 3.0])
    (2.0, 0.816496580927726)
    """
    data = np.asarray(values, dtype=float)
    if not np.isfinite(data).any():
        return math.nan, math.nan
    return float(np.nanmean(data)), float(np.nanstd(data))


def count_thresholds(mean: float, std: float, *, chunk_size: int, rows: int,
                     multiplier: float = DEFAULT_STD_MULTIPLIER) -> tuple[float | None, float | None]:
    """The thresholds of a *count* (a confusion-matrix cell) for a window of ``rows`` rows, learned as
    ``mean`` and ``std`` of the count over reference chunks of ``chunk_size`` rows.

    A count grows with the rows it is taken over, so thresholds learned on chunks are only
    right for a window of about the chunk's size. For ``rows = r · chunk_size`` the count of
    rows drawn like the reference's has mean ``r · mean`` and, summing independent rows, standard
    deviation ``sqrt(r) · std``: the thresholds are ``r · mean ± multiplier · sqrt(r) · std``, the
    lower one clipped at 0 like :func:`reference_thresholds`. For a window of exactly
    ``chunk_size`` rows they are the chunks' own thresholds (as ``driftwatch estimate``'s).

    >>> count_thresholds(100.0, 10.0, chunk_size=1000, rows=1000)
    (70.0, 130.0)
    >>> count_thresholds(100.0, 10.0, chunk_size=1000, rows=250)  # a quarter: 25 ± 3 · 5
    (10.0, 40.0)
    >>> count_thresholds(100.0, 10.0, chunk_size=1000, rows=4000)  # four times: 400 ± 3 · 20
    (340.0, 460.0)
    >>> count_thresholds(4.0, 2.0, chunk_size=300, rows=300)  # 4 - 6 is below 0: clipped
    (0.0, 10.0)
    >>> count_thresholds(float("nan"), float("nan"), chunk_size=300, rows=300)
    (None, None)
    """
    if not (math.isfinite(mean) and math.isfinite(std)) or chunk_size <= 0:
        return None, None
    share = rows / chunk_size
    centre, half_width = mean * share, multiplier * std * math.sqrt(share)
    return max(centre - half_width, 0.0), centre + half_width
