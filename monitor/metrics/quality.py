"""Data quality of each declared feature in one window.

Per feature (``feature`` set on every point):

- ``missing_share``: null or absent values / rows in the window.
- ``type_mismatch_share``: among non-missing values, those of the wrong JSON
  kind — a numeric feature receiving a string or a bool (bools are not numbers
  here), a categorical feature receiving a number. Bools are fine for a
  categorical feature.
- ``out_of_range_share`` (numeric only): among the non-missing *numbers*,
  those outside ``[min, max]``. Each bound comes from the feature config, else
  from the reference range (finite reference numbers), else is open. Values of
  the wrong type are not range-checked; ``type_mismatch_share`` counts them.
- ``unseen_category_share`` (categorical only): among non-missing values (as
  canonical strings, so a number ``1`` is the category ``"1"``), those not in
  the config ``values``, else not seen in the reference.

Degenerate input never raises: an empty window gives every metric NaN with
``details["reason"]``; so does a metric whose denominator is zero (all values
missing, no numbers) or that has nothing to compare with (no bounds, no known
categories). The metric that does not apply to a feature type is omitted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.metrics.categories import category_keys
from monitor.metrics.column import Column, ValueKind, to_float, to_series, value_kinds
from monitor.metrics.features import FeatureSpec
from monitor.metrics.point import MetricPoint

__all__ = ["compute_feature_quality", "compute_quality"]

_EMPTY_WINDOW = "empty window: no predictions"
_EXAMPLES = 5  # unseen categories listed in details, most frequent first


def _share(metric: str, feature: str, part: int, whole: int, reason: str, details: dict[str, Any]) -> MetricPoint:
    if whole == 0:
        return MetricPoint(metric, math.nan, feature=feature, details={"reason": reason, **details})
    return MetricPoint(metric, part / whole, feature=feature, details=details)


def _bound(
    configured: float | None, reference_value: float | None
) -> tuple[float | None, str]:
    if configured is not None:
        return float(configured), "config"
    if reference_value is not None:
        return reference_value, "reference"
    return None, "none"


def _reference_range(reference: pd.Series[Any] | None) -> tuple[float | None, float | None]:
    if reference is None:
        return None, None
    numbers = to_float(reference)
    numbers = numbers[np.isfinite(numbers)]
    if numbers.size == 0:
        return None, None
    return float(numbers.min()), float(numbers.max())


def _out_of_range(
    feature: str, spec: FeatureSpec, numbers: npt.NDArray[np.float64],
    n_present: int, reference: pd.Series[Any] | None,
) -> MetricPoint:
    reference_min, reference_max = _reference_range(reference)
    low, low_source = _bound(spec.min, reference_min)
    high, high_source = _bound(spec.max, reference_max)
    checked = numbers[~np.isnan(numbers)]
    details: dict[str, Any] = {
        "min": low, "max": high, "min_source": low_source, "max_source": high_source,
        "n_checked": int(checked.size),
    }
    if low is None and high is None:
        return MetricPoint(
            "out_of_range_share", math.nan, feature=feature,
            details={"reason": "no range to check: set min/max in the feature config "
                               "or provide reference data with numbers", **details},
        )
    outside = np.zeros(checked.size, dtype=bool)
    if low is not None:
        outside |= checked < low
    if high is not None:
        outside |= checked > high
    details["n_out_of_range"] = int(outside.sum())
    if n_present == 0:
        reason = "all values missing"
    else:
        reason = "no numbers among the non-missing values (all are type mismatches)"
    return _share("out_of_range_share", feature, int(outside.sum()), int(checked.size), reason, details)


def _unseen(
    feature: str, spec: FeatureSpec, keys: pd.Series[Any], reference: pd.Series[Any] | None
) -> MetricPoint:
    known = spec.categories
    source = "config"
    if known is None and reference is not None:
        reference_counts = _key_counts(category_keys(reference, name=f"reference[{feature}]", keep_categorical=True))
        if reference_counts:
            known, source = frozenset(reference_counts), "reference"
    counts = _key_counts(keys)
    n_present = sum(counts.values())
    if known is None:
        return MetricPoint(
            "unseen_category_share", math.nan, feature=feature,
            details={"reason": "no known categories: list values in the feature config "
                               "or provide reference data with this feature",
                     "n_checked": n_present},
        )
    unseen = {key: count for key, count in counts.items() if key not in known}
    n_unseen = sum(unseen.values())
    # Most frequent first; equal counts in order of first appearance (as value_counts orders them).
    examples = sorted(unseen.items(), key=lambda item: -item[1])[:_EXAMPLES]
    details: dict[str, Any] = {
        "categories_source": source, "n_known": len(known),
        "n_checked": n_present, "n_unseen": n_unseen,
        "examples": {str(key): count for key, count in examples},
    }
    return _share("unseen_category_share", feature, n_unseen, n_present, "all values missing", details)


def _key_counts(keys: pd.Series[Any]) -> dict[Any, int]:
    """Each distinct non-missing key and its count, in order of first appearance.

    A categorical column is counted from its codes (no string is hashed).
    """
    if isinstance(keys.dtype, pd.CategoricalDtype):
        codes = keys.cat.codes.to_numpy()
        codes = codes[codes >= 0]
        counts = np.bincount(codes, minlength=len(keys.cat.categories))
        order = pd.unique(codes)
        categories = keys.cat.categories
        return {categories[code]: int(counts[code]) for code in order}
    codes, uniques = pd.factorize(keys)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    return {key: int(count) for key, count in zip(uniques, counts.tolist(), strict=True)}


def compute_feature_quality(
    values: Column, spec: FeatureSpec, *, feature: str, reference: Column | None = None
) -> list[MetricPoint]:
    """Return the quality points of one raw feature column.

    ``reference`` is the same feature's raw reference column (None when there
    is no reference). Points come in the order missing_share,
    type_mismatch_share, then out_of_range_share or unseen_category_share.

    >>> points = compute_feature_quality([5, -1, None, "x"], FeatureSpec(type="numeric", min=0),
    ...                                  feature="amount", reference=[0, 10])
    >>> [(p.metric, round(p.value, 3)) for p in points]
    [('missing_share', 0.25), ('type_mismatch_share', 0.333), ('out_of_range_share', 0.5)]
    """
    column = to_series(values, name=feature)
    reference_column = None if reference is None else to_series(reference, name=f"reference[{feature}]")
    kinds = value_kinds(column)
    n_rows = len(column)
    n_missing = int((kinds == ValueKind.MISSING).sum())
    n_present = n_rows - n_missing
    if spec.type == "numeric":
        wrong = (kinds == ValueKind.BOOL) | (kinds == ValueKind.STRING) | (kinds == ValueKind.OTHER)
        expected = "number"
    else:
        wrong = (kinds == ValueKind.NUMBER) | (kinds == ValueKind.OTHER)
        expected = "string or bool"
    points = [
        _share("missing_share", feature, n_missing, n_rows, _EMPTY_WINDOW,
               {"n_rows": n_rows, "n_missing": n_missing}),
        _share("type_mismatch_share", feature, int(wrong.sum()), n_present,
               _EMPTY_WINDOW if n_rows == 0 else "all values missing",
               {"expected": expected, "n_checked": n_present, "n_mismatched": int(wrong.sum())}),
    ]
    if n_rows == 0:
        metric = "out_of_range_share" if spec.type == "numeric" else "unseen_category_share"
        points.append(MetricPoint(metric, math.nan, feature=feature, details={"reason": _EMPTY_WINDOW}))
    elif spec.type == "numeric":
        points.append(_out_of_range(feature, spec, to_float(column, kinds), n_present, reference_column))
    else:
        points.append(_unseen(feature, spec, category_keys(column, name=feature, kinds=kinds, keep_categorical=True),
                              reference_column))
    return points


def compute_quality(
    current: pd.DataFrame,
    features: Mapping[str, FeatureSpec],
    *,
    reference: pd.DataFrame | None = None,
) -> list[MetricPoint]:
    """Return the quality points of every declared feature of one window.

    ``current`` holds one object column per feature with the raw JSON values
    (numbers, strings, bools, None). A declared feature with no column in
    ``current`` counts as all missing (``details["column_absent"]``); columns not
    declared in ``features`` are ignored. ``reference`` is the raw reference
    frame, or None.

    >>> frame = pd.DataFrame({"country": ["DE", "FR", "XX", None]})
    >>> spec = {"country": FeatureSpec(type="categorical", values=["DE", "FR"])}
    >>> [(p.metric, round(p.value, 3)) for p in compute_quality(frame, spec)]
    [('missing_share', 0.25), ('type_mismatch_share', 0.0), ('unseen_category_share', 0.333)]
    """
    points: list[MetricPoint] = []
    for feature, spec in features.items():
        absent = feature not in current.columns
        values = pd.Series([None] * len(current), dtype=object) if absent else current[feature]
        reference_values = None
        if reference is not None and feature in reference.columns:
            reference_values = reference[feature]
        feature_points = compute_feature_quality(values, spec, feature=feature, reference=reference_values)
        if absent:
            first = feature_points[0]
            feature_points[0] = MetricPoint(
                first.metric, first.value, feature=feature,
                details={**first.details, "column_absent": True},
            )
        points.extend(feature_points)
    return points
