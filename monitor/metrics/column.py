"""Window columns as callers hand them in, and the JSON kind of each raw value.

Statistics accept a pandas Series, a 1-D numpy array or a plain sequence. Raw
columns come from JSON, so one column may hold numbers, strings, bools and nulls
side by side; :func:`value_kinds` classifies every value without a Python loop
over the rows whenever the column's dtype (or pandas' type inference) already
answers the question, which keeps a million-row window fast.

Bools are never numbers here (JSON ``true`` is not ``1``), even though Python
says ``True == 1``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from enum import IntEnum
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api import types as pdtypes

from monitor.errors import MetricError

__all__ = ["Column", "ValueKind", "to_float", "to_series", "value_kinds"]

Column: TypeAlias = "pd.Series[Any] | npt.NDArray[Any] | Sequence[Any]"
"""One column of a window: a Series, a 1-D array or a sequence, row-aligned."""


class ValueKind(IntEnum):
    """The JSON kind of one raw value."""

    MISSING = 0
    NUMBER = 1
    BOOL = 2
    STRING = 3
    OTHER = 4


# What pandas' type inference (skipping nulls) says about a whole object column.
_INFERRED_KIND: dict[str, ValueKind] = {
    "integer": ValueKind.NUMBER,
    "floating": ValueKind.NUMBER,
    "mixed-integer-float": ValueKind.NUMBER,
    "decimal": ValueKind.NUMBER,
    "boolean": ValueKind.BOOL,
    "string": ValueKind.STRING,
    "empty": ValueKind.MISSING,
}


def to_series(values: Column, *, name: str) -> pd.Series[Any]:
    """Return ``values`` as a Series with a fresh 0..n-1 index.

    The index is reset so that columns of one window line up by position, never
    by whatever index the caller's frame carried.

    >>> to_series([1, None, "a"], name="x").tolist()
    [1, None, 'a']
    """
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise MetricError(
            f"{name} must be a column (pandas Series, 1-D numpy array or list), "
            f"got {type(values).__name__}; pass one value per row of the window"
        )
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise MetricError(
                f"{name} must be 1-D, got an array of shape {values.shape}; "
                "pass one column, e.g. frame['column'].to_numpy()"
            )
        return pd.Series(values)
    # A list of mixed JSON values must keep its Python objects (no upcasting of
    # bools or ints to float), so build it as an object column first.
    return pd.Series(list(values), dtype=object).infer_objects()


def _kind_of_type(kind_type: type) -> ValueKind:
    if issubclass(kind_type, (bool, np.bool_)):
        return ValueKind.BOOL
    if issubclass(kind_type, numbers.Real):
        return ValueKind.NUMBER
    if issubclass(kind_type, str):
        return ValueKind.STRING
    return ValueKind.OTHER


def value_kinds(values: pd.Series[Any]) -> npt.NDArray[np.int8]:
    """Classify every value of ``values`` as a :class:`ValueKind` code.

    None, NaN and ``pd.NA`` are MISSING; bools (Python or numpy) are BOOL, not
    NUMBER; numbers are ints, floats, numpy numbers and Decimals.

    >>> value_kinds(pd.Series([1.5, None, True, "a"], dtype=object)).tolist()
    [1, 0, 2, 3]
    """
    dtype = values.dtype
    base: ValueKind | None
    if isinstance(dtype, pd.CategoricalDtype):
        category_kinds = value_kinds(pd.Series(dtype.categories))
        codes = values.cat.codes.to_numpy()
        kinds = np.where(codes < 0, ValueKind.MISSING, category_kinds[codes]).astype(np.int8)
        return kinds
    missing = values.isna().to_numpy(dtype=bool)
    if pdtypes.is_bool_dtype(dtype):
        base = ValueKind.BOOL
    elif pdtypes.is_numeric_dtype(dtype) and not pdtypes.is_complex_dtype(dtype):
        base = ValueKind.NUMBER
    elif isinstance(dtype, pd.StringDtype):
        base = ValueKind.STRING
    elif pdtypes.is_object_dtype(dtype):
        base = _INFERRED_KIND.get(pdtypes.infer_dtype(values, skipna=True))
    else:
        base = ValueKind.OTHER
    if base is None:
        # Mixed column: classify each distinct Python type once, then map.
        value_types = values.map(type)
        lookup = {t: int(_kind_of_type(t)) for t in pd.unique(value_types)}
        kinds = value_types.map(lookup).to_numpy(dtype=np.int8)
    else:
        kinds = np.full(len(values), int(base), dtype=np.int8)
    kinds[missing] = ValueKind.MISSING
    return kinds


def to_float(values: pd.Series[Any], kinds: npt.NDArray[np.int8] | None = None) -> npt.NDArray[np.float64]:
    """Return the numbers of ``values`` as float64; everything else becomes NaN.

    Strings are not parsed (``"3.5"`` is a string, not a number) and bools are
    not numbers. ``kinds`` may pass a precomputed :func:`value_kinds` result.

    >>> to_float(pd.Series([1, "2", True, None, 2.5], dtype=object)).tolist()
    [1.0, nan, nan, nan, 2.5]
    """
    if kinds is None:
        kinds = value_kinds(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    is_number = kinds == ValueKind.NUMBER
    dtype = values.dtype
    if pdtypes.is_numeric_dtype(dtype) and not pdtypes.is_bool_dtype(dtype):
        result = values.to_numpy(dtype=np.float64, na_value=np.nan)
    elif not is_number.any():
        return np.full(len(values), np.nan)
    else:
        numeric = pd.to_numeric(values.where(is_number), errors="coerce")
        result = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    result = np.array(result, dtype=np.float64, copy=True)
    result[~is_number] = np.nan
    return result
