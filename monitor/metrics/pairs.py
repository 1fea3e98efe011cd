"""Prediction/label pairs: the rows of a window that can be scored.

Labels are joined to predictions upstream; here ``labels`` is row-aligned with
``predictions`` and holds None where a prediction has no label (yet).
Classification pairs compare canonical class strings
(:mod:`monitor.metrics.categories`); regression pairs compare numbers, and a
row whose prediction or label is not a number (or is missing) is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.errors import MetricError
from monitor.metrics.categories import category_keys
from monitor.metrics.column import Column, to_float, to_series

__all__ = ["ClassPairs", "ValuePairs", "aligned", "class_pairs", "value_pairs"]


def aligned(first: Column, second: Column, *, names: tuple[str, str]) -> tuple[pd.Series[Any], pd.Series[Any]]:
    """Return both columns as Series, raising MetricError if their lengths differ."""
    left = to_series(first, name=names[0])
    right = to_series(second, name=names[1])
    if len(left) != len(right):
        raise MetricError(
            f"{names[0]} and {names[1]} must be row-aligned: got {len(left)} and {len(right)} rows; "
            f"pass one {names[1]} value per prediction (None where there is none)"
        )
    return left, right


@dataclass(frozen=True, slots=True)
class ClassPairs:
    """Canonical predicted and true classes of the labelled rows.

    ``scored`` marks, per window row, whether the row is in ``predicted``/``actual``.
    """

    predicted: npt.NDArray[np.object_]
    actual: npt.NDArray[np.object_]
    scored: npt.NDArray[np.bool_]
    n_rows: int
    n_labels: int


@dataclass(frozen=True, slots=True)
class ValuePairs:
    """Numeric predictions and labels of the labelled rows.

    ``n_unusable`` counts labelled rows left out because the prediction or the
    label is not a finite number.
    """

    predicted: npt.NDArray[np.float64]
    actual: npt.NDArray[np.float64]
    n_rows: int
    n_labels: int
    n_unusable: int


def class_pairs(predictions: Column, labels: Column) -> ClassPairs:
    """Pair canonical classes of rows that have both a prediction and a label.

    >>> pairs = class_pairs([1, 0, "1", 1], ["1", None, 1.0, 0])
    >>> pairs.predicted.tolist(), pairs.actual.tolist(), pairs.n_labels
    (['1', '1', '1'], ['1', '1', '0'], 3)
    """
    predicted_series, actual_series = aligned(predictions, labels, names=("predictions", "labels"))
    predicted = category_keys(predicted_series, name="predictions", keep_categorical=True)
    actual = category_keys(actual_series, name="labels", keep_categorical=True)
    has_label = _present(actual)
    scored = has_label & _present(predicted)
    return ClassPairs(
        predicted=_keys_at(predicted, scored), actual=_keys_at(actual, scored), scored=scored,
        n_rows=len(predicted), n_labels=int(has_label.sum()),
    )


def _present(keys: pd.Series[Any]) -> npt.NDArray[np.bool_]:
    """Which keys are not missing (a categorical reads its codes, not a million objects)."""
    if isinstance(keys.dtype, pd.CategoricalDtype):
        return np.asarray(keys.cat.codes.to_numpy() >= 0)
    return np.asarray(pd.notna(keys.to_numpy(dtype=object)))


def _keys_at(keys: pd.Series[Any], where: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
    """The keys (strings, object dtype) where ``where`` is true."""
    if isinstance(keys.dtype, pd.CategoricalDtype):
        categories = np.asarray(keys.cat.categories.to_numpy(dtype=object), dtype=object)
        return np.asarray(categories[keys.cat.codes.to_numpy()[where]], dtype=object)
    return np.asarray(keys.to_numpy(dtype=object)[where], dtype=object)


def value_pairs(predictions: Column, labels: Column) -> ValuePairs:
    """Pair numeric predictions and labels of rows where both are finite numbers.

    >>> pairs = value_pairs([1.0, 2.0, 3.0], [1.5, None, "x"])
    >>> pairs.predicted.tolist(), pairs.actual.tolist(), pairs.n_labels, pairs.n_unusable
    ([1.0], [1.5], 2, 1)
    """
    predicted_series, actual_series = aligned(predictions, labels, names=("predictions", "labels"))
    has_label = actual_series.notna().to_numpy(dtype=bool)
    predicted = to_float(predicted_series)
    actual = to_float(actual_series)
    usable = np.isfinite(predicted) & np.isfinite(actual)
    n_labels = int(has_label.sum())
    return ValuePairs(
        predicted=predicted[usable], actual=actual[usable],
        n_rows=len(predicted), n_labels=n_labels, n_unusable=n_labels - int(usable.sum()),
    )
