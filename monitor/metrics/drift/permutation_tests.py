"""Permutation tests: total variation distance (TVD) and empirical MMD.

Both p-values depend on random permutations, so matching Evidently 0.7.23 means
drawing the very same permutations:

* ``TVD`` calls ``np.random.seed(0)`` and then ``np.random.choice(pooled, n_ref,
  replace=False)`` 1000 times, which is ``permutation(n)[:n_ref]`` of the legacy
  Mersenne-Twister stream. We draw from a private ``RandomState(0)`` (no global
  state touched) and get the same permutations; the statistic is summed over the
  categories in the same order as Evidently's, so ties with the observed value
  resolve identically. Cost: 1000 permutations of the pooled sample.
* ``empirical_mmd`` calls ``np.random.permutation`` 100 times *without seeding*,
  so Evidently's own p-value changes from run to run. We use ``RandomState(0)``:
  our p-value is reproducible and equals Evidently's after ``np.random.seed(0)``.
  The test holds an (n_reference + n_current)**2 kernel matrix, so above
  :data:`EMPIRICAL_MMD_MAX_OBSERVATIONS` pooled values the score is NaN with a
  reason (Evidently would try and exhaust memory).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from monitor.metrics.drift.category_counts import count_categories
from monitor.metrics.drift.feature_type import FeatureType
from monitor.metrics.drift.method import DriftMethod, Statistic, undefined
from monitor.metrics.drift.sample import Sample

__all__ = ["EMPIRICAL_MMD", "EMPIRICAL_MMD_MAX_OBSERVATIONS", "TVD"]

EMPIRICAL_MMD_MAX_OBSERVATIONS: Final = 3_000
_TVD_PERMUTATIONS: Final = 1_000
_MMD_PERMUTATIONS: Final = 100
_SEED: Final = 0

Matrix = np.ndarray[Any, Any]


def _total_variation(reference_counts: Matrix, current_counts: Matrix) -> float:
    # Summed in the order of the counts, which callers give in Evidently's key order.
    return float(
        0.5 * np.sum(np.abs(reference_counts / reference_counts.sum() - current_counts / current_counts.sum()))
    )


def _tvd(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    counts = count_categories(reference, current)
    observed = _total_variation(counts.reference, counts.current)

    codes, uniques = pd.factorize(np.concatenate((reference, current)))
    values = list(np.asarray(uniques))  # value of each code; codes follow first appearance
    code_of = {value: code for code, value in enumerate(values)}
    totals = np.bincount(codes, minlength=len(values))
    rng = np.random.RandomState(_SEED)
    permuted = np.empty(_TVD_PERMUTATIONS)
    for i in range(_TVD_PERMUTATIONS):
        chosen = codes[rng.permutation(codes.size)[: len(reference)]]
        reference_counts = np.bincount(chosen, minlength=len(values))
        current_counts = totals - reference_counts
        # Evidently's keys for the permuted samples: values in order of first
        # appearance in the drawn reference, then what remains of the pooled sample.
        keys = list(
            {values[code] for code in pd.unique(chosen)} | {values[code] for code in np.flatnonzero(current_counts)}
        )
        order = [code_of[key] for key in keys]
        permuted[i] = _total_variation(reference_counts[order], current_counts[order])
    p_value = np.count_nonzero(observed <= np.abs(permuted)) / _TVD_PERMUTATIONS
    return Statistic(float(p_value), {"statistic": observed, "permutations": _TVD_PERMUTATIONS})


def _empirical_mmd(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    pooled = len(reference) + len(current)
    if pooled > EMPIRICAL_MMD_MAX_OBSERVATIONS:
        return undefined(
            f"empirical_mmd builds a {pooled} x {pooled} kernel matrix; more than "
            f"{EMPIRICAL_MMD_MAX_OBSERVATIONS} pooled values is too much memory: subsample or choose another method"
        )
    if len(reference) < 2 or len(current) < 2:
        return undefined("empirical_mmd needs at least two values in each sample")
    x = reference.reshape(-1, 1)
    y = current.reshape(-1, 1)
    kernel = _kernel_matrix(x, y)
    kernel = kernel - np.diag(np.diagonal(kernel))
    rng = np.random.RandomState(_SEED)
    observed = _mmd(kernel, len(current), None)
    permuted = np.array([_mmd(kernel, len(current), rng) for _ in range(_MMD_PERMUTATIONS)])
    p_value = (observed <= permuted).mean()
    return Statistic(float(p_value), {"statistic": float(observed), "permutations": _MMD_PERMUTATIONS})


def _kernel_matrix(x: Matrix, y: Matrix) -> Matrix:
    # RBF kernel; sigma from the median pairwise distance within the reference.
    distances_xx = _squared_distances(x, x)
    sigma = (0.5 * np.percentile(a=distances_xx.flatten(), q=50, method="nearest")) ** 0.5
    if sigma == 0:
        sigma = (0.5 * 1) ** 0.5
    gamma = 1.0 / (2.0 * float(sigma) ** 2)
    kxx = np.exp(-gamma * distances_xx)
    kxy = np.exp(-gamma * _squared_distances(x, y))
    kyy = np.exp(-gamma * _squared_distances(y, y))
    return np.concatenate((np.concatenate((kxx, kxy), axis=1), np.concatenate((kxy.T, kyy), axis=1)), axis=0)


def _squared_distances(x: Matrix, y: Matrix) -> Matrix:
    distances: Matrix = (y**2).T - 2 * np.dot(x, y.T) + x**2
    return distances


def _mmd(kernel: Matrix, n_current: int, rng: np.random.RandomState | None) -> float:
    n_reference = kernel.shape[0] - n_current
    if rng is not None:
        index = rng.permutation(kernel.shape[0])
        kernel = kernel[index][:, index]
    kxx = kernel[:-n_current, :-n_current]
    kyy = kernel[-n_current:, -n_current:]
    kxy = kernel[-n_current:, :-n_current]
    a = 1 / (n_reference * (n_reference - 1))
    b = 1 / (n_current * (n_current - 1))
    return float(a * kxx.sum() + b * kyy.sum() - 2.0 * kxy.mean())


TVD: Final = DriftMethod(
    name="TVD",
    display_name="Total-Variation-Distance",
    score_kind="p_value",
    feature_types=("categorical",),
    default_threshold=0.1,
    drift_rule="<",
    compute=_tvd,
)
EMPIRICAL_MMD: Final = DriftMethod(
    name="empirical_mmd",
    display_name="empirical_mmd",
    score_kind="p_value",
    feature_types=("numeric",),
    default_threshold=0.1,
    drift_rule="<",
    compute=_empirical_mmd,
)
