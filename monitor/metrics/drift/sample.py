"""Turning raw feature values into the clean sample a drift test runs on.

Evidently (``get_one_column_drift``) replaces +/-inf with NaN and drops every
missing value (NaN, None, NaT, pd.NA) from both columns before it chooses and runs
a test; we do the same, so sample sizes and scores agree. Numeric samples keep
their integer or float dtype because numpy's histogram binning (used by PSI, KL
and Jensen-Shannon) treats integers differently from floats.

A categorical column that is a ``pandas.Categorical`` (as windows are read) stays
one: its values are counted from the codes (:mod:`category_counts`) instead of
hashing a million strings. Tests that need the values themselves get them
(:func:`as_values`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, TypeAlias

import numpy as np
import pandas as pd

from monitor.errors import MetricError
from monitor.metrics.drift.feature_type import FeatureType

__all__ = ["FeatureValues", "Sample", "as_values", "clean_sample"]

FeatureValues: TypeAlias = "pd.Series[Any] | np.ndarray[Any, Any] | Sequence[Any]"
Sample: TypeAlias = "np.ndarray[Any, Any] | pd.Categorical"

_NUMERIC_OBJECT_KINDS: Final = frozenset({"integer", "floating", "mixed-integer-float", "decimal", "empty"})


def clean_sample(values: FeatureValues, feature_type: FeatureType, *, feature: str = "feature") -> Sample:
    """Return ``values`` as a 1-D array without missing or infinite values.

    >>> clean_sample(np.array([1.0, np.nan, np.inf, 2.0]), "numeric").tolist()
    [1.0, 2.0]
    >>> clean_sample(pd.Series(["a", None, "b"]), "categorical").tolist()
    ['a', 'b']
    """
    array = _as_array(values, feature=feature)
    if feature_type == "numeric":
        return _clean_numeric(as_values(array), feature=feature)
    if isinstance(array, pd.Categorical):
        return _clean_codes(array)
    return _clean_categorical(array)


def as_values(sample: Sample) -> np.ndarray[Any, Any]:
    """The sample as a numpy array (a categorical one as an array of its values, as ``Series.to_numpy``)."""
    if isinstance(sample, pd.Categorical):
        return np.asarray(sample)
    return sample


def _as_array(values: FeatureValues, *, feature: str) -> Sample:
    if isinstance(values, (pd.Series, pd.Index)):
        dtype = values.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            return values.array
        if not isinstance(dtype, np.dtype) and dtype.kind in "iuf":
            # Nullable Int64/Float64: missing values become NaN, numbers float64.
            array: Sample = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            array = values.to_numpy()
    else:
        array = np.asarray(values)
    if array.ndim != 1:
        raise MetricError(
            f"feature {feature!r} must be one-dimensional, got shape {array.shape}; pass one column at a time"
        )
    return array


def _clean_numeric(array: Sample, *, feature: str) -> Sample:
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(np.int64)
    if kind in "iu":
        return array
    if kind == "f":
        finite = np.isfinite(array)
        return array if finite.all() else array[finite]
    if kind == "O" and pd.api.types.infer_dtype(array, skipna=True) in _NUMERIC_OBJECT_KINDS:
        as_float = pd.to_numeric(array).astype(np.float64)
        return _clean_numeric(as_float, feature=feature)
    raise MetricError(
        f"feature {feature!r} is declared numeric but holds {array.dtype} values that are not all numbers; "
        "declare it categorical, or convert it with pandas.to_numeric(..., errors='coerce')"
    )


def _clean_categorical(array: Sample) -> Sample:
    kind = array.dtype.kind
    if kind in "iub":
        return array
    if kind == "f":
        finite = np.isfinite(array)
        return array if finite.all() else array[finite]
    if kind in "US":
        array = array.astype(object)
    # factorize marks every missing marker (None, NaN, NaT, pd.NA) with code -1 in one
    # hashing pass; infinities are found among the (few) distinct values.
    codes, uniques = pd.factorize(array)
    bad_codes = [code for code, value in enumerate(uniques) if _is_infinite(value)]
    keep = codes >= 0
    if bad_codes:
        keep &= ~np.isin(codes, bad_codes)
    return array if keep.all() else array[keep]


def _clean_codes(array: pd.Categorical) -> pd.Categorical:
    # Missing values have code -1; a float category may be infinite (few categories to look at).
    codes = array.codes
    keep = codes >= 0
    bad_codes = [code for code, value in enumerate(array.categories) if _is_infinite(value)]
    if bad_codes:
        keep &= ~np.isin(codes, bad_codes)
    return array if keep.all() else array[keep]


def _is_infinite(value: object) -> bool:
    return isinstance(value, (float, np.floating)) and bool(np.isinf(value))
