"""Concept drift in one window: has the relation between inputs and labels moved?

- ``label_drift_score``: p-value of a test of the window's labels against the
  reference's labels — a chi-square test of homogeneity on the 2 x K table of
  class counts (classification, no continuity correction) or the two-sample
  Kolmogorov-Smirnov test (regression). ``threshold`` = ``alpha``;
  ``is_breach`` when p < alpha.
- ``performance_drop``: how much worse the main metric is in the window than in
  the reference, positive = worse. Classification: reference accuracy minus
  window accuracy. Regression: window RMSE minus reference RMSE (the sign is
  flipped because a higher RMSE is worse).
- ``concept_drift`` (0/1): the drop is statistically significant and larger
  than ``min_drop`` (in the main metric's unit). Classification: one-sided
  two-proportion z-test that the window accuracy is lower than the reference's
  (pooled standard error). Regression: one-sided Mann-Whitney U test that the
  window's absolute errors are larger than the reference's (robust to the
  heavy tails absolute errors have). ``threshold`` = ``alpha`` on
  ``details["p_value"]``.

Every point's details carry the test, statistic, p-value, sample sizes and,
for the drop, the reference and window values. Nothing to compare (no labels in
the window, a reference without labels or predictions) gives NaN with
``details["reason"]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from monitor.errors import MetricError
from monitor.metrics.categories import category_keys
from monitor.metrics.column import Column, to_float, to_series
from monitor.metrics.pairs import class_pairs, value_pairs
from monitor.metrics.point import MetricPoint
from monitor.metrics.task import check_task, is_classification

__all__ = ["compute_concept_drift", "two_proportion_z_test"]

_NO_REFERENCE = "the reference has no {what}: add a {what} column to the model's reference data"


def _nan(metric: str, reason: str, **details: Any) -> MetricPoint:
    return MetricPoint(metric, math.nan, details={"reason": reason, **details})


def two_proportion_z_test(
    successes_reference: int, n_reference: int, successes_window: int, n_window: int
) -> tuple[float, float]:
    """Return (z, one-sided p) for "the window's proportion is lower".

    z = (p_ref - p_win) / sqrt(p (1 - p) (1/n_ref + 1/n_win)) with the pooled
    proportion p. When p is 0 or 1 both proportions are equal and z = 0, p = 1.

    >>> z, p = two_proportion_z_test(90, 100, 70, 100)
    >>> round(z, 4), round(p, 6)
    (3.5355, 0.000203)
    """
    for successes, n, side in ((successes_reference, n_reference, "reference"),
                               (successes_window, n_window, "window")):
        if not 0 <= successes <= n or n < 1:
            raise MetricError(
                f"the {side} needs 0 <= successes <= n and n >= 1, got {successes} of {n}; "
                "count correct predictions out of labelled predictions"
            )
    pooled = (successes_reference + successes_window) / (n_reference + n_window)
    variance = pooled * (1.0 - pooled) * (1.0 / n_reference + 1.0 / n_window)
    if variance == 0.0:
        return 0.0, 1.0
    z = (successes_reference / n_reference - successes_window / n_window) / math.sqrt(variance)
    return z, float(stats.norm.sf(z))


def _label_drift(classification: bool, window: Column, reference: Column | None, alpha: float) -> MetricPoint:
    if reference is None:
        return _nan("label_drift_score", _NO_REFERENCE.format(what="label"))
    details: dict[str, Any]
    if classification:
        window_keys = category_keys(window, name="window_labels").dropna()
        reference_keys = category_keys(reference, name="reference_labels").dropna()
        details = {"test": "chi2_contingency", "n_reference": len(reference_keys), "n_window": len(window_keys)}
        if len(window_keys) == 0 or len(reference_keys) == 0:
            where = "window" if len(window_keys) == 0 else "reference"
            return _nan("label_drift_score", f"no labels in the {where}", **details)
        reference_counts = reference_keys.value_counts()
        window_counts = window_keys.value_counts()
        classes = sorted(set(reference_counts.index) | set(window_counts.index))
        details["n_classes"] = len(classes)
        if len(classes) == 1:
            statistic, p_value = 0.0, 1.0
            details["note"] = "a single class in both: the distributions are identical"
        else:
            table = np.array([[reference_counts.get(c, 0) for c in classes],
                              [window_counts.get(c, 0) for c in classes]])
            result = stats.chi2_contingency(table, correction=False)
            statistic, p_value = float(result.statistic), float(result.pvalue)
    else:
        window_values = to_float(to_series(window, name="window_labels"))
        reference_values = to_float(to_series(reference, name="reference_labels"))
        window_values = window_values[np.isfinite(window_values)]
        reference_values = reference_values[np.isfinite(reference_values)]
        details = {"test": "ks_2samp", "n_reference": int(reference_values.size), "n_window": int(window_values.size)}
        if window_values.size == 0 or reference_values.size == 0:
            where = "window" if window_values.size == 0 else "reference"
            return _nan("label_drift_score", f"no numeric labels in the {where}", **details)
        result = stats.ks_2samp(reference_values, window_values)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    details.update(statistic=statistic, p_value=p_value)
    return MetricPoint("label_drift_score", p_value, threshold=alpha, is_breach=p_value < alpha, details=details)


@dataclass(frozen=True, slots=True)
class _Comparison:
    """The main metric in reference and window, and the one-sided test between them."""

    test: str
    reference_value: float
    window_value: float
    n_reference: int
    n_window: int
    statistic: float
    p_value: float


def _compare_accuracy(window_predictions: Column, window_labels: Column,
                      reference_predictions: Column, reference_labels: Column) -> _Comparison:
    window = class_pairs(window_predictions, window_labels)
    reference = class_pairs(reference_predictions, reference_labels)
    n_window, n_reference = int(window.actual.size), int(reference.actual.size)
    if n_window == 0 or n_reference == 0:
        return _Comparison("two_proportion_z_one_sided", math.nan, math.nan, n_reference, n_window,
                           math.nan, math.nan)
    correct_window = int((window.predicted == window.actual).sum())
    correct_reference = int((reference.predicted == reference.actual).sum())
    statistic, p_value = two_proportion_z_test(correct_reference, n_reference, correct_window, n_window)
    return _Comparison("two_proportion_z_one_sided", correct_reference / n_reference,
                       correct_window / n_window, n_reference, n_window, statistic, p_value)


def _rmse(errors: npt.NDArray[np.float64]) -> float:
    return math.sqrt(float(np.mean(errors**2)))


def _compare_rmse(window_predictions: Column, window_labels: Column,
                  reference_predictions: Column, reference_labels: Column) -> _Comparison:
    window = value_pairs(window_predictions, window_labels)
    reference = value_pairs(reference_predictions, reference_labels)
    window_errors = np.abs(window.predicted - window.actual)
    reference_errors = np.abs(reference.predicted - reference.actual)
    n_window, n_reference = int(window_errors.size), int(reference_errors.size)
    if n_window == 0 or n_reference == 0:
        return _Comparison("mannwhitneyu_abs_error_greater", math.nan, math.nan, n_reference, n_window,
                           math.nan, math.nan)
    result = stats.mannwhitneyu(window_errors, reference_errors, alternative="greater")
    p_value = float(result.pvalue)
    # Every absolute error equal leaves no evidence of a difference.
    return _Comparison("mannwhitneyu_abs_error_greater", _rmse(reference_errors), _rmse(window_errors),
                       n_reference, n_window, float(result.statistic), 1.0 if math.isnan(p_value) else p_value)


def compute_concept_drift(
    *,
    task: str,
    window_predictions: Column,
    window_labels: Column,
    reference_predictions: Column | None,
    reference_labels: Column | None,
    alpha: float = 0.05,
    min_drop: float = 0.0,
) -> list[MetricPoint]:
    """Return ``label_drift_score``, ``performance_drop`` and ``concept_drift``.

    Labels are row-aligned with their predictions (None where unlabelled), in
    the window and in the reference. ``alpha`` is the significance level of both
    tests; ``min_drop`` the smallest drop (accuracy points, or RMSE units) that
    counts as concept drift.

    >>> points = compute_concept_drift(
    ...     task="binary_classification",
    ...     window_predictions=[1] * 100, window_labels=[1] * 60 + [0] * 40,
    ...     reference_predictions=[1] * 100, reference_labels=[1] * 90 + [0] * 10)
    >>> [(p.metric, round(p.value, 4)) for p in points]
    [('label_drift_score', 0.0), ('performance_drop', 0.3), ('concept_drift', 1.0)]
    """
    checked_task = check_task(task)
    if isinstance(alpha, bool) or not 0.0 < alpha < 1.0:
        raise MetricError(f"alpha must be between 0 and 1 (exclusive), got {alpha!r}; use e.g. 0.05")
    if isinstance(min_drop, bool) or not (math.isfinite(min_drop) and min_drop >= 0.0):
        raise MetricError(f"min_drop must be a finite number >= 0, got {min_drop!r}; use 0.0 for any drop")
    classification = is_classification(checked_task)
    points = [_label_drift(classification, window_labels, reference_labels, alpha)]

    main_metric = "accuracy" if classification else "rmse"
    if reference_labels is None or reference_predictions is None:
        what = "label" if reference_labels is None else "prediction"
        reason = _NO_REFERENCE.format(what=what)
        return [*points, _nan("performance_drop", reason, main_metric=main_metric),
                _nan("concept_drift", reason, main_metric=main_metric)]
    compare = _compare_accuracy if classification else _compare_rmse
    comparison = compare(window_predictions, window_labels, reference_predictions, reference_labels)
    details: dict[str, Any] = {
        "main_metric": main_metric, "n_reference": comparison.n_reference, "n_window": comparison.n_window,
    }
    if comparison.n_window == 0 or comparison.n_reference == 0:
        where = "window" if comparison.n_window == 0 else "reference"
        reason = f"no labelled predictions in the {where}"
        return [*points, _nan("performance_drop", reason, **details), _nan("concept_drift", reason, **details)]
    if classification:
        drop = comparison.reference_value - comparison.window_value
        details["direction"] = "reference accuracy minus window accuracy"
    else:
        drop = comparison.window_value - comparison.reference_value
        details["direction"] = "window rmse minus reference rmse"
    details.update(reference_value=comparison.reference_value, window_value=comparison.window_value)
    drifted = comparison.p_value < alpha and drop > min_drop
    points.append(MetricPoint("performance_drop", drop, details=details))
    points.append(MetricPoint(
        "concept_drift", 1.0 if drifted else 0.0, threshold=alpha, is_breach=drifted,
        details={**details, "test": comparison.test, "statistic": comparison.statistic,
                 "p_value": comparison.p_value,
                 "alpha": alpha, "drop": drop, "min_drop": min_drop},
    ))
    return points
