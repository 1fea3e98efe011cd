"""Significance tests for the difference between two versions of a model (pure, no I/O).

Each test compares a *champion* sample with a *challenger* sample drawn from the same
window (independent rows: every prediction is served by one version) and returns a
:class:`TestResult`: the difference challenger − champion, its two-sided p-value and
what was tested. A sample too small to test gives a NaN p-value with a reason, never
a p-value of 1 ("no difference") that was not measured.

- :func:`two_proportion_test` — shares (error rate, accuracy): the pooled two-proportion
  z-test (= Pearson's chi-square test of the 2×2 table without continuity correction).
- :func:`welch_test` — means (mean absolute error): Welch's unequal-variance t-test.
- :func:`mann_whitney_test` — distributions (latency): the Mann-Whitney U test, normal
  approximation with tie and continuity correction (as scipy's ``method="asymptotic"``).
- :func:`delong_test` — ROC AUC of two independent samples: DeLong's variance of each
  AUC from its placement values (DeLong, DeLong & Clarke-Pearson 1988; fast midrank
  form of Sun & Xu 2014); the two variances add, since the samples are independent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["TestResult", "delong_test", "mann_whitney_test", "two_proportion_test", "welch_test"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TestResult:
    """The outcome of one test; ``reason`` says why ``p_value`` is NaN."""

    test: str
    difference: float
    p_value: float
    statistic: float = math.nan
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    __test__ = False  # not a pytest class


def _two_sided_normal(z: float) -> float:
    return float(min(1.0, 2.0 * stats.norm.sf(abs(z))))


def two_proportion_test(champion_hits: int, champion_n: int, challenger_hits: int, challenger_n: int) -> TestResult:
    """Pooled two-proportion z-test of ``challenger_hits/challenger_n − champion_hits/champion_n``.

    >>> result = two_proportion_test(50, 100, 60, 100)
    >>> round(result.difference, 3), round(result.statistic, 4), round(result.p_value, 4)
    (0.1, 1.4213, 0.1552)
    """
    test = "two-proportion z-test"
    if champion_n <= 0 or challenger_n <= 0:
        return TestResult(test, math.nan, math.nan, reason="a version has no rows to count")
    first, second = champion_hits / champion_n, challenger_hits / challenger_n
    difference = second - first
    pooled = (champion_hits + challenger_hits) / (champion_n + challenger_n)
    variance = pooled * (1.0 - pooled) * (1.0 / champion_n + 1.0 / challenger_n)
    if variance == 0.0:  # both shares 0 or both 1: identical, nothing varies
        return TestResult(test, difference, 1.0, statistic=0.0)
    z = difference / math.sqrt(variance)
    return TestResult(test, difference, _two_sided_normal(z), statistic=z)


def welch_test(champion: FloatArray, challenger: FloatArray) -> TestResult:
    """Welch's t-test of ``mean(challenger) − mean(champion)``.

    >>> result = welch_test(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0, 8.0, 10.0]))
    >>> round(result.difference, 2), round(result.statistic, 4), round(result.p_value, 4)
    (3.5, 2.2514, 0.0691)
    """
    test = "Welch t-test"
    a, b = np.asarray(champion, dtype=np.float64), np.asarray(challenger, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return TestResult(test, math.nan if a.size == 0 or b.size == 0 else float(b.mean() - a.mean()), math.nan,
                          reason="each version needs at least 2 values")
    difference = float(b.mean() - a.mean())
    va, vb = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
    if va + vb == 0.0:
        return TestResult(test, difference, 1.0 if difference == 0 else 0.0,
                          statistic=0.0 if difference == 0 else math.copysign(math.inf, difference))
    t = difference / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return TestResult(test, difference, float(min(1.0, 2.0 * stats.t.sf(abs(t), df))), statistic=t,
                      details={"df": df})


def mann_whitney_test(champion: FloatArray, challenger: FloatArray, *, difference: float) -> TestResult:
    """Mann-Whitney U test (two-sided) of challenger vs champion; ``statistic`` is the
    challenger's U. ``difference`` is the reported effect (e.g. a percentile difference).

    >>> result = mann_whitney_test(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([3.0, 4.0, 5.0, 6.0, 7.0, 8.0]),
    ...                            difference=3.0)
    >>> result.statistic, round(result.p_value, 4)
    (25.5, 0.066)
    """
    test = "Mann-Whitney U test"
    a, b = np.asarray(champion, dtype=np.float64), np.asarray(challenger, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return TestResult(test, difference, math.nan, reason="a version has no values")
    n1, n2 = b.size, a.size
    n = n1 + n2
    ranks = stats.rankdata(np.concatenate([b, a]))
    u_challenger = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2.0
    u = max(u_challenger, n1 * n2 - u_challenger)
    _, counts = np.unique(ranks, return_counts=True)
    ties = float(((counts.astype(np.float64) ** 3) - counts).sum())
    variance = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0.0:
        return TestResult(test, difference, 1.0, statistic=u_challenger)  # every value equal
    z = (u - n1 * n2 / 2.0 - 0.5) / math.sqrt(variance)
    return TestResult(test, difference, _two_sided_normal(z), statistic=u_challenger)


def _placements(positive: npt.NDArray[np.bool_], scores: FloatArray) -> tuple[float, float, int, int]:
    """AUC and DeLong's variance of it, from the midrank placement values."""
    x, y = scores[positive], scores[~positive]
    m, n = x.size, y.size
    combined = stats.rankdata(np.concatenate([x, y]))
    v10 = (combined[:m] - stats.rankdata(x)) / n  # share of negatives below each positive (ties: 1/2)
    v01 = 1.0 - (combined[m:] - stats.rankdata(y)) / m  # share of positives above each negative
    auc = float(v10.mean())
    variance = float(v10.var(ddof=1)) / m + float(v01.var(ddof=1)) / n
    return auc, variance, m, n


def delong_test(
    champion_positive: npt.NDArray[np.bool_], champion_scores: FloatArray,
    challenger_positive: npt.NDArray[np.bool_], challenger_scores: FloatArray,
) -> TestResult:
    """DeLong's test of ``AUC(challenger) − AUC(champion)`` on two independent samples.

    >>> result = delong_test(np.array([True, True, False, False, True, False]),
    ...                      np.array([0.9, 0.8, 0.3, 0.4, 0.35, 0.1]),
    ...                      np.array([True, False, True, False, False, True]),
    ...                      np.array([0.6, 0.7, 0.5, 0.2, 0.4, 0.3]))
    >>> round(result.difference, 4), round(result.p_value, 4)
    (-0.3333, 0.3428)
    """
    test = "DeLong test (independent samples)"
    sides = []
    for name, positive, scores in (("champion", champion_positive, champion_scores),
                                   ("challenger", challenger_positive, challenger_scores)):
        n_positive = int(positive.sum())
        if n_positive < 2 or positive.size - n_positive < 2:
            return TestResult(test, math.nan, math.nan,
                              reason=f"the {name} needs at least 2 positive and 2 negative labelled rows with a score")
        sides.append(_placements(positive, scores))
    (auc_a, var_a, _, _), (auc_b, var_b, _, _) = sides
    difference = auc_b - auc_a
    details = {"champion_auc": auc_a, "challenger_auc": auc_b, "champion_variance": var_a,
               "challenger_variance": var_b}
    if var_a + var_b == 0.0:
        return TestResult(test, difference, 1.0 if difference == 0 else 0.0, details=details)
    z = difference / math.sqrt(var_a + var_b)
    return TestResult(test, difference, _two_sided_normal(z), statistic=z, details=details)
