"""P-value tests on per-category counts: chi-square, two-proportion Z, Fisher's exact
and the G-test, computed as Evidently 0.7.23 computes them.

The counts come from one hashing pass per sample (:func:`count_categories`);
Evidently gets them from pandas ``value_counts`` and Python loops. The scipy calls
and the arithmetic around them are Evidently's, including its quirks:

* chi-square expects the reference counts scaled to the current size, so a
  category unseen in the reference gives an infinite statistic and p = 0;
* the G-test compares *raw* counts, which scipy refuses unless both samples have
  the same size;
* Fisher's exact test needs two samples of equal size with at most two values each.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import stats

from monitor.metrics.drift.category_counts import count_categories
from monitor.metrics.drift.feature_type import FeatureType
from monitor.metrics.drift.method import DriftMethod, Statistic, captured_warnings, undefined
from monitor.metrics.drift.sample import Sample

__all__ = ["CHISQUARE", "FISHER_EXACT", "G_TEST", "Z_TEST"]

_CATEGORICAL: Final[tuple[FeatureType, ...]] = ("categorical",)


def _chisquare(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    counts = count_categories(reference, current)
    expected = counts.reference * (len(current) / len(reference))
    notes: dict[str, Any] = {}
    with captured_warnings(notes), np.errstate(divide="ignore", invalid="ignore"):
        result = stats.chisquare(counts.current, expected)
    if len(counts.keys) == 1:
        notes["reason"] = "chi-square needs at least two categories; both samples hold one and the same value"
    return Statistic(float(result.pvalue), {"statistic": float(result.statistic), **notes})


def _z_test(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    counts = count_categories(reference, current)
    if len(counts.keys) == 1:
        return Statistic(1.0, {"statistic": 0.0})
    # Evidently codes the smallest key as 0 and every other key as 1.
    first = counts.keys.index(_smallest(counts.keys))
    n1, n2 = len(reference), len(current)
    p1 = float(n1 - int(counts.reference[first])) / n1
    p2 = float(n2 - int(counts.current[first])) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    p_value = 2 * (1 - stats.norm.cdf(np.abs(z)))
    return Statistic(float(p_value), {"statistic": float(z)})


def _smallest(keys: list[Any]) -> Any:
    try:
        return min(keys)
    except TypeError:  # mixed types (e.g. 1 and "1"): Evidently fails; order by type, then text
        return min(keys, key=lambda key: (type(key).__name__, str(key)))


def _fisher_exact(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    if len(reference) != len(current):
        return undefined(
            "Fisher's exact test (as Evidently builds its table) needs reference and current samples "
            f"of equal size, got {len(reference)} and {len(current)}"
        )
    reference_uniques = _unique_values(reference)
    current_uniques = _unique_values(current)
    if len(reference_uniques) > 2 or len(current_uniques) > 2:
        return undefined("Fisher's exact test needs binary data: a sample holds more than two distinct values")
    # Evidently maps the first element of this set to 0 and counts everything else as 1.
    categories: set[Any] = set(reference_uniques + current_uniques)
    if len(categories) != 2:
        categories.add("placeholder")
    zero = next(iter(categories))
    zero_reference = int(np.count_nonzero(reference == zero)) if zero in reference_uniques else 0
    zero_current = int(np.count_nonzero(current == zero)) if zero in current_uniques else 0
    table = np.array([[len(current) - zero_current, zero_current], [len(reference) - zero_reference, zero_reference]])
    result = stats.fisher_exact(table)
    return Statistic(float(result.pvalue), {"statistic": float(result.statistic)})


def _unique_values(sample: Sample) -> list[Any]:
    # In order of first appearance, like Evidently's ``Series.unique().tolist()``.
    return list(pd.unique(sample).tolist())


def _g_test(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    counts = count_categories(reference, current)
    notes: dict[str, Any] = {}
    try:
        with captured_warnings(notes), np.errstate(divide="ignore", invalid="ignore"):
            result = stats.power_divergence(counts.current, counts.reference, lambda_="log-likelihood")
    except ValueError as exc:  # scipy: the count totals differ
        first_line = str(exc).splitlines()[0]
        return undefined(
            "the G-test (Evidently compares raw counts) needs reference and current samples of equal size; "
            f"scipy: {first_line}"
        )
    if len(counts.keys) == 1:
        notes["reason"] = "the G-test needs at least two categories; both samples hold one and the same value"
    return Statistic(float(result.pvalue), {"statistic": float(result.statistic), **notes})


CHISQUARE: Final = DriftMethod(
    name="chisquare",
    display_name="chi-square p_value",
    score_kind="p_value",
    feature_types=_CATEGORICAL,
    default_threshold=0.05,
    drift_rule="<",
    compute=_chisquare,
    counts_categories=True,
)
Z_TEST: Final = DriftMethod(
    name="z",
    display_name="Z-test p_value",
    score_kind="p_value",
    feature_types=_CATEGORICAL,
    default_threshold=0.05,
    drift_rule="<",
    compute=_z_test,
    counts_categories=True,
)
FISHER_EXACT: Final = DriftMethod(
    name="fisher_exact",
    display_name="Fisher's Exact test",
    score_kind="p_value",
    feature_types=_CATEGORICAL,
    default_threshold=0.1,
    drift_rule="<",
    compute=_fisher_exact,
)
G_TEST: Final = DriftMethod(
    name="g_test",
    display_name="g_test",
    score_kind="p_value",
    feature_types=_CATEGORICAL,
    default_threshold=0.1,
    drift_rule="<",
    compute=_g_test,
    counts_categories=True,
)
