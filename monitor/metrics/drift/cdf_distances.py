"""Distances between empirical CDFs: normed Wasserstein and the energy distance.

Both are scipy's ``_cdf_distance`` (the integral of ``|U - V|**p`` over the pooled
sample): the same pooled sorted values, the same steps and the same dot product,
so the result is bit-for-bit scipy's. It is faster because each sample is sorted
once and the two sorted runs are merged (a stable sort merges two runs in linear
time); the CDF counts then come from a running count of reference values instead
of two binary searches. Where equal values follow each other the running count
is not yet final, but there the step width is 0, so the term is 0 either way.

Evidently divides the Wasserstein distance by the reference's population standard
deviation, floored at 0.001, computed the way pandas computes ``Series.std(ddof=0)``.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from monitor.metrics.drift.feature_type import FeatureType
from monitor.metrics.drift.method import DriftMethod, Statistic
from monitor.metrics.drift.sample import Sample

__all__ = ["ENERGY_DISTANCE", "WASSERSTEIN", "cdf_distance"]

_NUMERIC: Final[tuple[FeatureType, ...]] = ("numeric",)
_MIN_NORM: Final = 0.001


def cdf_distance(p: int, u_values: Sample, v_values: Sample) -> float:
    """``scipy.stats._stats_py._cdf_distance`` for unweighted samples, p in {1, 2}.

    >>> cdf_distance(1, np.array([0.0, 1.0, 3.0]), np.array([5.0, 6.0, 8.0]))
    5.0
    """
    u_sorted = np.sort(np.asarray(u_values, dtype=np.float64))
    v_sorted = np.sort(np.asarray(v_values, dtype=np.float64))
    pooled = np.concatenate((u_sorted, v_sorted))
    order = np.argsort(pooled, kind="stable")
    deltas = np.diff(pooled[order])
    u_count = np.cumsum(order < u_sorted.size)
    v_count = np.arange(1, pooled.size + 1) - u_count
    u_cdf = u_count[:-1] / u_sorted.size
    v_cdf = v_count[:-1] / v_sorted.size
    if p == 1:
        return float(np.vecdot(np.abs(u_cdf - v_cdf), deltas))
    return float(np.sqrt(np.vecdot(np.square(u_cdf - v_cdf), deltas)))


def _population_std(sample: Sample) -> float:
    # pandas nanops.nanvar(ddof=0), term for term, so the norm matches Evidently's.
    values: np.ndarray[Any, Any] = np.asarray(sample).astype(np.float64, copy=False)
    count = np.float64(values.size)
    mean = values.sum(dtype=np.float64) / count
    variance = ((mean - values) ** 2).sum(dtype=np.float64) / count
    return float(np.sqrt(variance))


def _wasserstein(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    norm = max(_population_std(reference), _MIN_NORM)
    raw = cdf_distance(1, reference, current)
    return Statistic(raw / norm, {"wasserstein_distance": raw, "norm": norm})


def _energy_distance(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    return Statistic(float(np.sqrt(2) * cdf_distance(2, reference, current)))


WASSERSTEIN: Final = DriftMethod(
    name="wasserstein",
    display_name="Wasserstein distance (normed)",
    score_kind="distance",
    feature_types=_NUMERIC,
    default_threshold=0.1,
    drift_rule=">=",
    compute=_wasserstein,
)
ENERGY_DISTANCE: Final = DriftMethod(
    name="ed",
    display_name="Energy-distance",
    score_kind="distance",
    feature_types=_NUMERIC,
    default_threshold=0.1,
    drift_rule=">",
    compute=_energy_distance,
)
