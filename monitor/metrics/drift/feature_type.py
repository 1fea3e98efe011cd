"""The two feature types drift statistics know, and how the offline CLI infers them.

The inference rule for ``driftwatch drift``: bool, string and
category columns are categorical, numbers are numeric. Anything else (dates,
durations, complex numbers) has no drift test and must be named explicitly.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypeAlias

import numpy as np
import pandas as pd

from monitor.errors import MetricError

__all__ = ["FEATURE_TYPES", "FeatureType", "check_feature_type", "infer_feature_type"]

FeatureType: TypeAlias = Literal["numeric", "categorical"]
FEATURE_TYPES: Final[tuple[FeatureType, ...]] = ("numeric", "categorical")

# pandas.api.types.infer_dtype answers for object columns, sorted by our two types.
_NUMERIC_OBJECT_KINDS: Final = frozenset({"integer", "floating", "mixed-integer-float", "decimal"})
_CATEGORICAL_OBJECT_KINDS: Final = frozenset(
    {"string", "bytes", "boolean", "categorical", "mixed", "mixed-integer", "empty"}
)


def check_feature_type(feature_type: str, *, feature: str | None = None) -> FeatureType:
    """Return ``feature_type`` if it is one of :data:`FEATURE_TYPES`, else raise.

    >>> check_feature_type("numeric")
    'numeric'
    """
    if feature_type == "numeric":
        return "numeric"
    if feature_type == "categorical":
        return "categorical"
    where = f" for feature {feature!r}" if feature is not None else ""
    raise MetricError(f"unknown feature type {feature_type!r}{where}; use 'numeric' or 'categorical'")


def infer_feature_type(values: pd.Series | np.ndarray[Any, Any], *, feature: str | None = None) -> FeatureType:
    """Infer a column's feature type from its dtype (the offline CLI's rule).

    bool, string, object-of-strings and category columns are categorical; integer
    and float columns (and object columns holding only numbers) are numeric.

    >>> infer_feature_type(pd.Series([1.5, 2.0]))
    'numeric'
    >>> infer_feature_type(pd.Series(["DE", "FR", None]))
    'categorical'
    >>> infer_feature_type(pd.Series([True, False]))
    'categorical'
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_string_dtype(dtype) and dtype != np.dtype(object):
        return "categorical"
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        return "numeric"
    if dtype == np.dtype(object):
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if kind in _NUMERIC_OBJECT_KINDS:
            return "numeric"
        if kind in _CATEGORICAL_OBJECT_KINDS:
            return "categorical"
    name = repr(feature) if feature is not None else "the column"
    raise MetricError(
        f"cannot infer a drift feature type for {name} from dtype {dtype}; "
        "name it as categorical or numerical (--categorical / --numerical), or convert it first"
    )
