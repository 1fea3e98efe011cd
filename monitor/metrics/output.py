"""The model's output in one window (no labels needed).

- ``positive_rate`` (binary): share of predictions equal to ``positive_label``,
  compared as canonical strings (:mod:`monitor.metrics.categories`), so ``1``,
  ``1.0`` and ``"1"`` match.
- ``class_share`` (binary and multiclass): one point per class, ``feature`` =
  the class's canonical string. Classes listed in ``classes`` (e.g. the
  reference's classes) and the positive class always get a point, 0.0 when
  absent, so a class that disappears is visible; of the other classes, the
  ``max_classes`` most frequent (default 100) get one. ``details["n_classes"]``
  counts the distinct classes in the window.
- ``prediction_mean`` (regression): mean of the numeric predictions.
- ``score_mean``: mean of the non-null scores; omitted when the window has no
  score at all (models that do not send scores produce no point).

Missing predictions are left out of every share (``details["n_missing"]``).
An empty window (or no usable prediction) gives NaN with ``details["reason"]``
for positive_rate, prediction_mean and each known class's class_share; with no
known classes an empty window has no class_share point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from monitor.errors import MetricError
from monitor.metrics.categories import category_keys
from monitor.metrics.column import Column, to_float, to_series
from monitor.metrics.point import MetricPoint
from monitor.metrics.task import check_positive_label, check_task, is_classification

__all__ = ["compute_output"]

_EMPTY_WINDOW = "empty window: no predictions"


def _class_points(
    keys: pd.Series[Any], known: Sequence[str], n_missing: int, n_rows: int, max_classes: int
) -> list[MetricPoint]:
    present = keys.dropna()
    counts = present.value_counts()  # most frequent first
    n_classes = len(counts)
    top = sorted(counts.index[:max_classes])
    classes = list(dict.fromkeys([*known, *top]))
    if len(present) == 0:
        reason = _EMPTY_WINDOW if n_rows == 0 else "no non-missing prediction in the window"
        return [MetricPoint("class_share", math.nan, feature=c, details={"reason": reason}) for c in classes]
    by_class = dict(zip(classes, counts.reindex(classes, fill_value=0).astype(int).tolist(), strict=True))
    return [
        MetricPoint(
            "class_share",
            by_class[c] / len(present),
            feature=c,
            details={"n_class": by_class[c], "n": len(present), "n_missing": n_missing,
                     "n_classes": n_classes},
        )
        for c in classes
    ]


def compute_output(
    predictions: Column,
    *,
    task: str,
    positive_label: object = None,
    scores: Column | None = None,
    classes: Sequence[object] = (),
    max_classes: int = 100,
) -> list[MetricPoint]:
    """Return the output points of one window.

    ``task`` is ``models.<model>.task``; ``positive_label`` is required for
    binary classification and ignored otherwise. ``scores`` is the window's
    score column (None if the model sends none). ``classes`` are classes to
    report even when absent from the window. Of the other classes only the
    ``max_classes`` most frequent get a point (a regression model configured as
    a classifier would otherwise emit one point per distinct value).

    >>> points = compute_output([1, 0, "1", 1], task="binary_classification", positive_label=1)
    >>> [(p.metric, p.feature, p.value) for p in points]
    [('positive_rate', None, 0.75), ('class_share', '1', 0.75), ('class_share', '0', 0.25)]
    """
    checked_task = check_task(task)
    if isinstance(max_classes, bool) or not isinstance(max_classes, int) or max_classes < 1:
        raise MetricError(f"max_classes must be a positive integer, got {max_classes!r}; use e.g. 100")
    positive = check_positive_label(checked_task, positive_label)
    column = to_series(predictions, name="predictions")
    n_rows = len(column)
    points: list[MetricPoint] = []
    if is_classification(checked_task):
        keys = category_keys(column, name="predictions")
        n_missing = int(keys.isna().sum())
        n_present = n_rows - n_missing
        if positive is not None:
            if n_present == 0:
                reason = _EMPTY_WINDOW if n_rows == 0 else "no non-missing prediction in the window"
                points.append(MetricPoint("positive_rate", math.nan, details={"reason": reason}))
            else:
                n_positive = int((keys == positive).sum())
                points.append(MetricPoint(
                    "positive_rate", n_positive / n_present,
                    details={"positive_label": positive, "n_positive": n_positive,
                             "n": n_present, "n_missing": n_missing},
                ))
        known = [k for k in category_keys(list(classes), name="classes") if k is not None]
        if positive is not None:
            known.insert(0, positive)
        points.extend(_class_points(keys, known, n_missing, n_rows, max_classes))
    else:
        values = to_float(column)
        usable = values[np.isfinite(values)]
        if usable.size == 0:
            reason = _EMPTY_WINDOW if n_rows == 0 else "no numeric prediction in the window"
            points.append(MetricPoint("prediction_mean", math.nan, details={"reason": reason}))
        else:
            points.append(MetricPoint(
                "prediction_mean", float(usable.mean()),
                details={"n": int(usable.size), "n_unusable": n_rows - int(usable.size)},
            ))
    if scores is not None:
        score_values = to_float(to_series(scores, name="scores"))
        score_values = score_values[np.isfinite(score_values)]
        if score_values.size > 0:
            points.append(MetricPoint("score_mean", float(score_values.mean()),
                                      details={"n": int(score_values.size)}))
    return points
