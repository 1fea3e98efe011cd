"""Canonical string form of class labels and categorical values.

Predictions, labels, ``positive_label`` and categorical features arrive as JSON
numbers, strings or bools, from Kafka, from a parquet reference file or from
YAML. They are compared as canonical strings so that ``1``, ``1.0`` and ``"1"``
are the same class:

- strings stay as they are (``"1.0"`` stays ``"1.0"``; no parsing),
- whole numbers print without a fraction (``1.0`` -> ``"1"``), other numbers in
  their shortest round-trip form (``0.5`` -> ``"0.5"``),
- bools are ``"true"`` / ``"false"`` as in JSON (so ``True`` is not ``"1"``),
- None, NaN and ``pd.NA`` are missing (``None``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api import types as pdtypes

from monitor.metrics.column import Column, ValueKind, to_series, value_kinds

__all__ = ["category_key", "category_keys"]

# Floats at or beyond 2**53 are not exact integers any more; print them as floats.
_EXACT_INT_LIMIT = 2.0**53


def category_key(value: object) -> str | None:
    """Return the canonical string of one value, or None when it is missing.

    >>> [category_key(v) for v in (1, 1.0, "1", True, 0.5, None, float("nan"))]
    ['1', '1', '1', 'true', '0.5', None, None]
    """
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return None
        if math.isfinite(number) and number.is_integer() and abs(number) < _EXACT_INT_LIMIT:
            return str(int(number))
        return str(np.float64(number))
    return str(value)


def _number_keys(numbers_column: pd.Series[Any]) -> npt.NDArray[np.object_]:
    # Format each distinct number once: a class column has few distinct values.
    # (Safe on a typed numeric column; on raw objects 1, 1.0 and True would hash alike.)
    codes, uniques = pd.factorize(numbers_column)
    if pdtypes.is_integer_dtype(uniques.dtype):
        unique_keys = np.asarray(uniques.astype(str), dtype=object)
    else:
        floats: npt.NDArray[np.float64] = np.asarray(uniques, dtype=np.float64)
        unique_keys = floats.astype(str).astype(object)
        whole = np.isfinite(floats) & (np.floor(floats) == floats) & (np.abs(floats) < _EXACT_INT_LIMIT)
        unique_keys[whole] = floats[whole].astype(np.int64).astype(str)
    keys: npt.NDArray[np.object_] = unique_keys[codes]
    return keys


def category_keys(
    values: Column, *, name: str = "values", kinds: npt.NDArray[np.int8] | None = None, keep_categorical: bool = False
) -> pd.Series[Any]:
    """Return the canonical strings of a column (object dtype, None where missing).

    Vectorised per value kind, so a million-row column costs a few numpy passes.
    ``kinds`` may pass a precomputed :func:`~monitor.metrics.column.value_kinds`.
    With ``keep_categorical``, a categorical column gives a categorical one (its
    categories made canonical, merged where two become the same string; missing is
    NaN): only the categories are formatted, and later counts can read the codes.

    >>> category_keys([1, "1", 2.0, True, None, "DE"]).tolist()
    ['1', '1', '2', 'true', None, 'DE']
    >>> category_keys(pd.Series([1, "1", None, 2.5], dtype="category"), keep_categorical=True).tolist()
    ['1', '1', nan, '2.5']
    """
    column = to_series(values, name=name)
    if isinstance(column.dtype, pd.CategoricalDtype):
        if keep_categorical:
            return _categorical_keys(column)
        category_strings = category_keys(pd.Series(column.dtype.categories))
        codes = column.cat.codes.to_numpy()
        lookup = np.array([*category_strings.tolist(), None], dtype=object)
        return pd.Series(lookup[codes], dtype=object)
    if kinds is None:
        kinds = value_kinds(column)
    raw = column.to_numpy(dtype=object)
    keys = np.full(len(column), None, dtype=object)

    is_string = kinds == ValueKind.STRING
    keys[is_string] = raw[is_string]
    is_bool = kinds == ValueKind.BOOL
    if is_bool.any():
        keys[is_bool] = np.where(raw[is_bool].astype(bool), "true", "false")
    is_number = kinds == ValueKind.NUMBER
    if is_number.any():
        numbers_column = column[is_number]
        if pdtypes.is_object_dtype(numbers_column.dtype):
            # Python ints stay exact; anything mixed with a float is a float, as in category_key.
            all_ints = pdtypes.infer_dtype(numbers_column, skipna=False) == "integer"
            numbers_column = pd.to_numeric(numbers_column) if all_ints else numbers_column.astype(np.float64)
        keys[is_number] = _number_keys(numbers_column)
    is_other = kinds == ValueKind.OTHER
    if is_other.any():
        keys[is_other] = [category_key(value) for value in raw[is_other]]
    return pd.Series(keys, dtype=object)


def _categorical_keys(column: pd.Series[Any]) -> pd.Series[Any]:
    category_strings = category_keys(pd.Series(column.dtype.categories, dtype=object)).tolist()
    canonical = list(dict.fromkeys(key for key in category_strings if key is not None))
    position = {key: index for index, key in enumerate(canonical)}
    # Code -1 (missing) indexes the last entry, which stays missing.
    remap = np.array([-1 if key is None else position[key] for key in category_strings] + [-1], dtype=np.int64)
    codes = remap[column.cat.codes.to_numpy()]
    categorical = pd.Categorical.from_codes(codes, categories=pd.Index(canonical, dtype=object))
    return pd.Series(categorical, name=column.name)
