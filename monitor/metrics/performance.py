"""Model performance in one window, from the predictions that have labels.

Always: ``label_count`` (predictions in the window with a label) and
``label_coverage`` (label_count / predictions).

Classification (classes compared as canonical strings):

- ``accuracy``: share of labelled predictions equal to their label.
- binary: ``precision``, ``recall``, ``f1`` of the positive class (every other
  class is negative). f1 = 2TP / (2TP + FP + FN), defined whenever a positive
  appears among predictions or labels. precision is NaN when nothing was
  predicted positive, recall NaN when no label is positive (reason in details).
- multiclass: macro averages over the classes seen in the labels or the
  predictions of the labelled rows; a class never predicted has precision 0 and
  a class never in the labels recall 0 (scikit-learn's ``zero_division=0``;
  details name the first 20 such classes), and per-class f1 is
  2TP / (2TP + FP + FN).
- ``roc_auc`` (binary only): rank-based AUC of the scores (the Mann-Whitney U
  statistic / (n_pos * n_neg)); tied scores get their average rank, i.e. a
  tied positive/negative pair counts one half.

Regression (rows whose prediction and label are finite numbers): ``mae``,
``rmse``, ``mape`` (a fraction, not a percent; rows with a zero label are left
out and counted in details), ``r2`` (1 - SS_res / SS_tot).

Degenerate input never raises: an empty window, no labels, a single class, no
scores, constant labels — the metric is NaN with ``details["reason"]``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.errors import MetricError
from monitor.metrics.column import Column, to_float, to_series
from monitor.metrics.pairs import ClassPairs, aligned, class_pairs, value_pairs
from monitor.metrics.point import MetricPoint
from monitor.metrics.task import Task, check_positive_label, check_task, is_classification

__all__ = ["compute_performance", "rank_auc"]

_CLASSIFICATION = ("accuracy", "precision", "recall", "f1")
_REGRESSION = ("mae", "rmse", "mape", "r2")
_LISTED_CLASSES = 20  # at most this many class names per list in details


def _nan(metric: str, reason: str, **details: Any) -> MetricPoint:
    return MetricPoint(metric, math.nan, details={"reason": reason, **details})


def _ratio(metric: str, part: float, whole: float, reason: str, details: dict[str, Any]) -> MetricPoint:
    if whole == 0:
        return _nan(metric, reason, **details)
    return MetricPoint(metric, part / whole, details=details)


def rank_auc(positive: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64]) -> float:
    """Return the ROC AUC of ``scores`` for the ``positive`` mask (NaN if one class).

    Ties get their average rank, so a tied positive/negative pair counts 1/2.
    ``scores`` must be finite (drop rows without a score first).

    >>> rank_auc(np.array([False, True, False, True]), np.array([0.1, 0.4, 0.4, 0.8]))
    0.875
    """
    if positive.shape != scores.shape or positive.ndim != 1:
        raise MetricError(
            f"positive and scores must be 1-D and of equal length, got shapes {positive.shape} and "
            f"{scores.shape}; pass one score per labelled prediction"
        )
    if not np.isfinite(scores).all():
        raise MetricError("scores must be finite; drop the rows without a score before computing the AUC")
    n_positive = int(positive.sum())
    n_negative = int(positive.size) - n_positive
    if n_positive == 0 or n_negative == 0:
        return math.nan
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # Rank of a group of equal scores = mean of the 1-based ranks it occupies.
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0
    positive_rank_sum = float(average_rank[inverse][positive].sum())
    u_statistic = positive_rank_sum - n_positive * (n_positive + 1) / 2.0
    return u_statistic / (n_positive * n_negative)


def _binary(pairs: ClassPairs, positive: str) -> list[MetricPoint]:
    predicted_positive = pairs.predicted == positive
    actual_positive = pairs.actual == positive
    tp = int((predicted_positive & actual_positive).sum())
    fp = int((predicted_positive & ~actual_positive).sum())
    fn = int((~predicted_positive & actual_positive).sum())
    tn = int(pairs.predicted.size) - tp - fp - fn
    details: dict[str, Any] = {"positive_label": positive, "tp": tp, "fp": fp, "fn": fn, "tn": tn}
    return [
        _ratio("precision", tp, tp + fp, "no positive prediction among the labelled rows", details),
        _ratio("recall", tp, tp + fn, "no positive label in the window", details),
        _ratio("f1", 2 * tp, 2 * tp + fp + fn, "no positive among predictions or labels", details),
    ]


def _multiclass(pairs: ClassPairs) -> list[MetricPoint]:
    # Hash-based codes (the keys are all str, so no 1/True/1.0 merging): linear time
    # even when a misconfigured regression model makes every value a class.
    codes, uniques = pd.factorize(np.concatenate([pairs.predicted, pairs.actual]))
    classes = np.asarray(uniques, dtype=object)
    predicted, actual = codes[: pairs.predicted.size], codes[pairs.predicted.size :]
    hits = predicted == actual
    tp = np.bincount(actual[hits], minlength=classes.size).astype(np.float64)
    n_predicted = np.bincount(predicted, minlength=classes.size).astype(np.float64)
    n_actual = np.bincount(actual, minlength=classes.size).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_predicted > 0, tp / n_predicted, 0.0)
        recall = np.where(n_actual > 0, tp / n_actual, 0.0)
    f1 = 2 * tp / (n_predicted + n_actual)  # = 2TP / (2TP + FP + FN), never 0/0 here
    details: dict[str, Any] = {
        "average": "macro",
        "n_classes": int(classes.size),
        "n_never_predicted": int((n_predicted == 0).sum()),
        "n_never_labelled": int((n_actual == 0).sum()),
        "never_predicted": sorted(map(str, classes[n_predicted == 0]))[:_LISTED_CLASSES],
        "never_labelled": sorted(map(str, classes[n_actual == 0]))[:_LISTED_CLASSES],
    }
    return [
        MetricPoint("precision", float(precision.mean()), details=details),
        MetricPoint("recall", float(recall.mean()), details=details),
        MetricPoint("f1", float(f1.mean()), details=details),
    ]


def _roc_auc(pairs: ClassPairs, positive: str, scores: Column | None) -> MetricPoint:
    if scores is None:
        return _nan("roc_auc", "no scores: the model sends no score")
    score_column = to_series(scores, name="scores")
    if len(score_column) != pairs.n_rows:
        raise MetricError(
            f"predictions and scores must be row-aligned: got {pairs.n_rows} and {len(score_column)} rows; "
            "pass one score per prediction (None where there is none)"
        )
    score_values = to_float(score_column)[pairs.scored]
    has_score = np.isfinite(score_values)
    positive_mask = pairs.actual[has_score] == positive
    details = {"n": int(has_score.sum()), "n_positive": int(positive_mask.sum()),
               "n_negative": int((~positive_mask).sum()), "ties": "average rank"}
    if details["n"] == 0:
        return _nan("roc_auc", "no scores on the labelled predictions", **details)
    if details["n_positive"] == 0 or details["n_negative"] == 0:
        return _nan("roc_auc", "only one class among the labelled predictions with scores", **details)
    return MetricPoint("roc_auc", rank_auc(positive_mask, score_values[has_score]), details=details)


def _classification(task: Task, pairs: ClassPairs, positive: str | None, scores: Column | None) -> list[MetricPoint]:
    names = _CLASSIFICATION + (("roc_auc",) if task == "binary_classification" else ())
    n = int(pairs.predicted.size)
    if n == 0:
        reason = "no labels in the window" if pairs.n_labels == 0 else "no labelled prediction with a class"
        return [_nan(name, reason, n=0) for name in names]
    correct = int((pairs.predicted == pairs.actual).sum())
    points = [MetricPoint("accuracy", correct / n, details={"n": n, "n_correct": correct})]
    if positive is not None:
        points.extend(_binary(pairs, positive))
        points.append(_roc_auc(pairs, positive, scores))
    else:
        points.extend(_multiclass(pairs))
    return points


def _regression(predictions: Column, labels: Column) -> list[MetricPoint]:
    pairs = value_pairs(predictions, labels)
    n = int(pairs.actual.size)
    if n == 0:
        reason = "no labels in the window" if pairs.n_labels == 0 else "no labelled prediction with numeric values"
        return [_nan(name, reason, n=0, n_unusable=pairs.n_unusable) for name in _REGRESSION]
    errors = pairs.predicted - pairs.actual
    details = {"n": n, "n_unusable": pairs.n_unusable}
    nonzero = pairs.actual != 0
    mape_details = {**details, "n": int(nonzero.sum()), "n_zero_labels_ignored": int(n - nonzero.sum()),
                    "unit": "fraction"}
    if nonzero.any():
        mape = MetricPoint("mape", float(np.mean(np.abs(errors[nonzero] / pairs.actual[nonzero]))),
                           details=mape_details)
    else:
        mape = _nan("mape", "every label is zero; MAPE ignores zero labels", **mape_details)
    total = float(np.sum((pairs.actual - pairs.actual.mean()) ** 2))
    if total == 0:
        r2 = _nan("r2", "labels are constant (or a single row): R² is undefined", **details)
    else:
        r2 = MetricPoint("r2", 1.0 - float(np.sum(errors**2)) / total, details=details)
    return [
        MetricPoint("mae", float(np.mean(np.abs(errors))), details=details),
        MetricPoint("rmse", math.sqrt(float(np.mean(errors**2))), details=details),
        mape,
        r2,
    ]


def compute_performance(
    predictions: Column,
    labels: Column,
    *,
    task: str,
    positive_label: object = None,
    scores: Column | None = None,
) -> list[MetricPoint]:
    """Return the performance points of one window.

    ``labels`` is row-aligned with ``predictions`` (None where a prediction has
    no label); ``scores`` too (binary: the positive-class probability; None when
    the model sends none). ``positive_label`` is required for binary tasks.

    >>> points = compute_performance([1, 1, 0, 0, 1], [1, 0, 0, 1, None],
    ...                              task="binary_classification", positive_label=1)
    >>> [(p.metric, p.value) for p in points][:6]
    [('label_count', 4.0), ('label_coverage', 0.8), ('accuracy', 0.5), ('precision', 0.5), ('recall', 0.5), ('f1', 0.5)]
    """
    checked_task = check_task(task)
    positive = check_positive_label(checked_task, positive_label)
    predicted, actual = aligned(predictions, labels, names=("predictions", "labels"))
    n_rows = len(predicted)
    n_labels = int(actual.notna().sum())
    points = [
        MetricPoint("label_count", float(n_labels), details={"n_predictions": n_rows}),
        _ratio("label_coverage", n_labels, n_rows, "empty window: no predictions",
               {"n_labels": n_labels, "n_predictions": n_rows}),
    ]
    if is_classification(checked_task):
        points.extend(_classification(checked_task, class_pairs(predicted, actual), positive, scores))
    else:
        points.extend(_regression(predicted, actual))
    return points
