"""A model's declared features and the typed columns drift tests read.

:class:`FeatureSpec` mirrors one entry of ``models.<name>.features`` in the
config. :func:`coerce_feature` turns a raw column (JSON values as stored) into
the typed column the drift statistics take: float64 for numeric features,
canonical strings for categorical ones.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from monitor.errors import MetricError
from monitor.metrics.categories import category_key, category_keys
from monitor.metrics.column import Column, to_float, to_series

__all__ = ["FeatureSpec", "FeatureType", "coerce_feature", "coerce_features"]

FeatureType: TypeAlias = Literal["numeric", "categorical"]


def _check_bound(label: str, bound: float | None) -> None:
    if bound is None:
        return
    if isinstance(bound, bool) or not isinstance(bound, numbers.Real) or not math.isfinite(bound):
        raise MetricError(
            f"feature {label} must be a finite number, got {bound!r}; "
            f"fix the feature's {label} in models.<model>.features"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureSpec:
    """What one model feature is declared to be.

    ``min``/``max`` bound a numeric feature (either may be omitted; a missing
    bound falls back to the reference range). ``values`` lists the allowed
    categories of a categorical feature (compared as canonical strings, so
    ``[1, 2]`` accepts ``1``, ``1.0`` and ``"1"``).

    >>> FeatureSpec(type="numeric", min=0)
    FeatureSpec(type='numeric', min=0, max=None, values=None)
    """

    type: FeatureType
    min: float | None = None
    max: float | None = None
    values: Sequence[object] | None = None

    def __post_init__(self) -> None:
        if self.type not in ("numeric", "categorical"):
            raise MetricError(
                f"feature type must be 'numeric' or 'categorical', got {self.type!r}; "
                "fix models.<model>.features.<feature>.type"
            )
        _check_bound("min", self.min)
        _check_bound("max", self.max)
        if self.type == "categorical" and (self.min is not None or self.max is not None):
            raise MetricError(
                "min/max apply to numeric features only; remove them from the "
                "categorical feature or declare it type: numeric"
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise MetricError(
                f"feature min ({self.min}) is greater than max ({self.max}); swap them"
            )
        if self.values is not None:
            if self.type != "categorical":
                raise MetricError(
                    "values apply to categorical features only; remove them from the "
                    "numeric feature or declare it type: categorical"
                )
            if isinstance(self.values, (str, bytes)) or len(self.values) == 0:
                raise MetricError(
                    f"feature values must be a non-empty list of categories, got {self.values!r}; "
                    "list them (values: [DE, FR, US]) or leave values out to use the reference"
                )
            if any(category_key(value) is None for value in self.values):
                raise MetricError(
                    "feature values must not contain null; remove it "
                    "(missing values are counted by missing_share)"
                )
            object.__setattr__(self, "values", tuple(self.values))

    @property
    def categories(self) -> frozenset[str] | None:
        """The canonical strings of ``values`` (None when not declared)."""
        if self.values is None:
            return None
        return frozenset(key for key in map(category_key, self.values) if key is not None)


def coerce_feature(values: Column, spec: FeatureSpec, *, name: str = "feature") -> pd.Series[Any]:
    """Return the typed column of one raw feature column.

    Numeric: float64, with missing values and type mismatches (strings, bools)
    as NaN. Categorical: canonical strings (object dtype), None where missing;
    numbers and bools are kept as their canonical strings (``1`` -> ``"1"``). A
    categorical raw column (as windows are read) stays categorical, NaN where missing.

    >>> coerce_feature([1, "x", True, None], FeatureSpec(type="numeric")).tolist()
    [1.0, nan, nan, nan]
    >>> coerce_feature([1, "x", True, None], FeatureSpec(type="categorical")).tolist()
    ['1', 'x', 'true', None]
    """
    if spec.type == "numeric" and isinstance(values, pd.Series) and values.dtype == np.float64:
        # Already what it would become (NaN where missing): shared, not copied (a window's
        # numeric features are 8 MB per million rows each, and every metric group coerces them).
        shared = values.copy(deep=False)
        shared.index = pd.RangeIndex(len(shared))
        return shared
    column = to_series(values, name=name)
    if spec.type == "numeric":
        return pd.Series(to_float(column), dtype=np.float64, name=column.name)
    return category_keys(column, name=name, keep_categorical=True).rename(column.name)


def coerce_features(frame: pd.DataFrame, features: Mapping[str, FeatureSpec]) -> pd.DataFrame:
    """Return a frame with one typed column per declared feature.

    A declared feature absent from ``frame`` becomes an all-missing column.
    Undeclared columns are dropped. The index of ``frame`` is kept. Each column stays
    its own block: a million-row window is not copied into one 2-D array (that copy
    cost about half a second and 200 MB per call).
    """
    columns: dict[str, pd.Series[Any]] = {}
    for name, spec in features.items():
        raw = frame[name] if name in frame.columns else pd.Series([None] * len(frame), dtype=object)
        typed = coerce_feature(raw, spec, name=name)
        typed.index = frame.index
        columns[name] = typed
    return pd.DataFrame(columns, index=frame.index, copy=False)
