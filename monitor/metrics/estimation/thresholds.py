"""Alert thresholds learned from the reference: mean ± k standard deviations over its chunks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from monitor.errors import MetricError

__all__ = ["DEFAULT_STD_MULTIPLIER", "SAMPLING_ERROR_RANGE", "reference_thresholds", "outside"]

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
