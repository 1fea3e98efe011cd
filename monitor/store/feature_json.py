"""Stored ``features`` JSON objects (one per row) into one raw column per feature, fast.

A window of a million predictions holds a million JSON objects. Parsing them one by
one with :func:`json.loads` and building columns from dicts costs tens of seconds;
pyarrow's JSON reader parses newline-delimited JSON straight into typed columns in
C++. We try, per chunk of rows:

1. pyarrow with the declared types (numeric -> float64, categorical -> string),
   which is the fastest (no type inference);
2. pyarrow with inferred types, when a value does not fit its declared type (a
   categorical feature sent as numbers or bools);
3. :func:`json.loads` row by row, when one feature mixes JSON kinds within the
   chunk (a number here, a string there) — exactly what ``type_mismatch_share``
   measures, so the raw Python values must be kept.

Every path yields the same raw values: numbers as numbers, strings as strings,
bools as bools, missing or null as missing — only the dtypes of the columns differ,
and :mod:`monitor.metrics` reads each dtype correctly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias, cast

import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json

__all__ = ["FeatureChunk", "combine_feature_chunks", "parse_feature_lines", "parse_feature_objects"]

FeatureChunk: TypeAlias = "pa.Table | pd.DataFrame"
"""One parsed chunk: an Arrow table (fast paths) or a frame of Python values (fallback)."""

_ARROW_TYPES = {"numeric": pa.float64(), "categorical": pa.string()}
_BLOCK_SIZE = 8 << 20


def _declared_schema(feature_types: Mapping[str, str]) -> pa.Schema | None:
    fields = [pa.field(name, _ARROW_TYPES[kind]) for name, kind in feature_types.items() if kind in _ARROW_TYPES]
    return pa.schema(fields) if fields else None


def _read_arrow(text: pa.Buffer | bytes, schema: pa.Schema | None) -> pa.Table:
    parse_options = (
        pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
        if schema is not None
        else pa_json.ParseOptions()
    )
    table = pa_json.read_json(
        pa.BufferReader(text), read_options=pa_json.ReadOptions(block_size=_BLOCK_SIZE), parse_options=parse_options
    )
    return cast(pa.Table, table)


# A JSON integer of this many digits may be too large for a float (over ~1.8e308).
_HUGE_DIGITS = re.compile(rb"[0-9]{300}")


def _float_sized_int(digits: str) -> int | None:
    """A JSON integer, or None (missing) when no float can hold it.

    Ingestion refuses such numbers; one stored before (or by hand) must not make its
    whole window fail, so it counts as a missing value of its feature.

    >>> _float_sized_int("12"), _float_sized_int("1" + "0" * 400)
    (12, None)
    """
    number = int(digits)
    if len(digits) > 300:
        try:
            float(number)
        except OverflowError:
            return None
    return number


def _python_frame(text: pa.Buffer | bytes, n_rows: int) -> pd.DataFrame:
    data = bytes(text)
    lines = data.split(b"\n")[:n_rows]
    if _HUGE_DIGITS.search(data):
        records = [json.loads(line, parse_int=_float_sized_int) for line in lines]
    else:
        records = [json.loads(line) for line in lines]
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame.index = pd.RangeIndex(len(lines))
    return frame


def parse_feature_objects(lines: Sequence[str], feature_types: Mapping[str, str]) -> FeatureChunk:
    """Parse one chunk of JSON object texts (one per row, in row order).

    ``feature_types`` maps declared features to ``"numeric"``/``"categorical"``; it
    only picks the fastest path, never changes a value. Undeclared keys are kept.
    """
    return parse_feature_lines("\n".join(lines).encode("utf-8"), len(lines), feature_types)


def parse_feature_lines(text: pa.Buffer | bytes, n_rows: int, feature_types: Mapping[str, str]) -> FeatureChunk:
    """:func:`parse_feature_objects` for ``n_rows`` objects already joined by newlines."""
    if n_rows == 0:
        return pd.DataFrame(index=pd.RangeIndex(0))
    if _HUGE_DIGITS.search(bytes(text)):
        return _python_frame(text, n_rows)  # Arrow would read a huge integer as infinity
    schema = _declared_schema(feature_types)
    for attempt in (schema, None) if schema is not None else (None,):
        try:
            table = _read_arrow(text, attempt)
        except pa.ArrowInvalid:
            continue
        if table.num_rows == n_rows:
            return cast(FeatureChunk, table)
    return _python_frame(text, n_rows)


def _arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    # split_blocks: one array per column, no copy into a consolidated 2-D block;
    # strings become categoricals (few distinct values, one object each).
    return cast(pd.DataFrame, table.to_pandas(split_blocks=True, strings_to_categorical=True))


def combine_feature_chunks(chunks: Sequence[FeatureChunk], n_rows: int) -> pd.DataFrame:
    """One raw frame (index 0..n-1) from the chunks of :func:`parse_feature_objects`."""
    tables = [chunk for chunk in chunks if isinstance(chunk, pa.Table)]
    if len(tables) == len(chunks) and tables:
        try:
            combined = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            combined = None
        if combined is not None:
            frame = _arrow_to_pandas(combined)
            frame.index = pd.RangeIndex(n_rows)
            return frame
    frames = [_arrow_to_pandas(chunk) if isinstance(chunk, pa.Table) else chunk for chunk in chunks]
    if not frames:
        return pd.DataFrame(index=pd.RangeIndex(n_rows))
    if len(frames) == 1:
        frame = frames[0]
    else:
        # Chunks typed differently (one fell back to Python values): join as objects.
        frame = pd.concat([part.astype(object) for part in frames], ignore_index=True, sort=False)
        frame = _restore_dtypes(frame.where(frame.notna(), None))
    frame.index = pd.RangeIndex(n_rows)
    return frame


def _restore_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    # Mixed chunks were joined as objects; let columns that are all numbers (or all
    # strings) become typed again so the statistics take their fast paths.
    columns: dict[str, Any] = {}
    for name in frame.columns:
        column = frame[name]
        kind = pd.api.types.infer_dtype(column, skipna=True)
        if kind in ("floating", "integer", "mixed-integer-float"):
            columns[name] = pd.to_numeric(column, errors="coerce").astype("float64")
        else:
            columns[name] = column
    return pd.DataFrame(columns, index=frame.index)
