"""Columns of stored predictions (a window or a reference), read in bulk.

Statistics want columns, the store has rows. :func:`read_stored_rows` runs one
query whose columns are, in this order::

    features (JSON text), prediction, prediction_numeric, score, latency_ms, status,
    label, label_numeric, ingested_at (text: the newer of the prediction's and its label's)

on the raw DB-API cursor (SQLAlchemy's per-row Row objects cost more than the whole
statistics for a million-row window), in chunks, so memory stays near the size of
the columns. On PostgreSQL the result streams through ``COPY`` and pyarrow's CSV
reader (:mod:`monitor.store.postgres_rows`), without a Python object per row.
"""

from __future__ import annotations

import gc
import math
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection

from monitor.store.feature_json import FeatureChunk, combine_feature_chunks, parse_feature_objects
from monitor.store.postgres_rows import arrow_outputs_frame, read_postgres_rows

__all__ = [
    "OUTPUT_COLUMNS",
    "SQLITE_TIME_FORMAT",
    "ReadResult",
    "StoredRows",
    "bind_time",
    "parse_stored_time",
    "read_stored_rows",
    "stored_rows_from_arrow",
]

OUTPUT_COLUMNS = ("prediction", "prediction_numeric", "score", "latency_ms", "status", "label", "label_numeric")
_FLOAT_COLUMNS = frozenset({"prediction_numeric", "score", "latency_ms", "label_numeric"})
_ARROW_OUTPUT_TYPES = {name: pa.float64() if name in _FLOAT_COLUMNS else pa.string() for name in OUTPUT_COLUMNS}
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_CHUNK_ROWS = 50_000


@dataclass(frozen=True, slots=True)
class StoredRows:
    """Row-aligned columns of stored predictions.

    ``outputs`` has the columns of :data:`OUTPUT_COLUMNS`: ``prediction``,
    ``status`` and ``label`` as objects (None where missing; ``label`` None for a
    prediction without a label), the others float64 (NaN where missing).
    ``features`` holds each feature's raw JSON values (numbers, strings, bools,
    missing), one column per feature that has at least one value in the rows.
    """

    outputs: pd.DataFrame
    features: pd.DataFrame

    def __len__(self) -> int:
        return len(self.outputs)

    @classmethod
    def empty(cls) -> StoredRows:
        return cls(outputs=_outputs_frame([[] for _ in OUTPUT_COLUMNS]), features=pd.DataFrame(index=pd.RangeIndex(0)))


@dataclass(frozen=True, slots=True)
class ReadResult:
    rows: StoredRows
    newest_ingested: str | None


def bind_time(connection: Connection, moment: datetime) -> Any:
    """A timestamp parameter for raw driver SQL, as the store keeps it (UTC)."""
    moment = moment.astimezone(UTC)
    if connection.dialect.name == "sqlite":
        return moment.replace(tzinfo=None).strftime(SQLITE_TIME_FORMAT)
    return moment


def parse_stored_time(text: str | None) -> datetime | None:
    """Parse the text form of a stored timestamp (see :func:`read_stored_rows`)."""
    if text is None:
        return None
    return datetime.strptime(text, SQLITE_TIME_FORMAT).replace(tzinfo=UTC)


def _outputs_frame(columns: Sequence[Sequence[Any]]) -> pd.DataFrame:
    codes: list[dict[Any, int]] = [{} for _ in OUTPUT_COLUMNS]
    chunks = [_chunk_outputs(columns, codes)] if columns and len(columns[0]) else []
    return _combine_outputs(chunks, codes, len(columns[0]) if columns else 0)


def _floats(values: Sequence[Any]) -> npt.NDArray[np.float64]:
    try:
        return np.array(values, dtype=np.float64)
    except TypeError:  # None among them
        return np.array([math.nan if value is None else value for value in values], dtype=np.float64)


def _chunk_outputs(columns: Sequence[Sequence[Any]], codes: Sequence[dict[Any, int]]) -> list[npt.NDArray[Any]]:
    """One chunk's output columns, compact: float64 arrays, and category codes for text.

    Text columns (classes, labels, "ok"/"error") have few distinct values: each gets a
    code, shared across chunks through ``codes``.
    """
    parts: list[npt.NDArray[Any]] = []
    for name, values, lookup in zip(OUTPUT_COLUMNS, columns, codes, strict=True):
        if name in _FLOAT_COLUMNS:
            parts.append(_floats(values))
        else:
            code = lookup.setdefault
            parts.append(np.fromiter((code(value, len(lookup)) for value in values), dtype=np.int64,
                                     count=len(values)))
    return parts


def _combine_outputs(chunks: Sequence[list[Any]], codes: Sequence[dict[Any, int]], n_rows: int) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for index, name in enumerate(OUTPUT_COLUMNS):
        parts = [chunk[index] for chunk in chunks]
        joined = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        if name in _FLOAT_COLUMNS:
            data[name] = pd.Series(joined, dtype="float64")
            continue
        values = list(codes[index])
        # Categories are the non-missing values; a missing value gets code -1.
        categories = [value for value in values if value is not None]
        remap = np.array([categories.index(value) if value is not None else -1 for value in values] or [0],
                         dtype=np.int64)
        data[name] = pd.Series(pd.Categorical.from_codes(remap[joined] if parts else joined,
                                                         categories=pd.Index(categories, dtype=object)))
    return pd.DataFrame(data, index=pd.RangeIndex(n_rows))


@contextmanager
def _collection_paused() -> Iterator[None]:
    # Millions of short-lived row tuples would trigger the cyclic collector again and
    # again, each time walking every live object; rows hold no cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fetch_chunks(connection: Connection, sql: str, params: Sequence[Any]) -> Iterator[list[tuple[Any, ...]]]:
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.execute(sql, params)
        while True:
            chunk = cursor.fetchmany(_CHUNK_ROWS)
            if not chunk:
                return
            yield chunk
    finally:
        cursor.close()


def _newest(values: Iterable[str | None]) -> str | None:
    return max(filter(None, values), default=None)


def _read_sqlite_rows(
    connection: Connection, sql: str, params: Sequence[Any], feature_types: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    output_chunks: list[list[Any]] = []
    codes: list[dict[Any, int]] = [{} for _ in OUTPUT_COLUMNS]
    newest: str | None = None
    n_rows = 0
    feature_chunks: list[FeatureChunk] = []
    pending: deque[Future[FeatureChunk]] = deque()
    # Parsing (pyarrow, GIL released) overlaps with fetching the next chunk; at most
    # two chunks of JSON text wait, so memory stays near the size of the columns.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-json") as parser:
        for chunk in _fetch_chunks(connection, sql, params):
            columns = list(zip(*chunk, strict=True))
            del chunk
            n_rows += len(columns[0])
            pending.append(parser.submit(parse_feature_objects, columns[0], feature_types))
            output_chunks.append(_chunk_outputs(columns[1 : 1 + len(OUTPUT_COLUMNS)], codes))
            newest = _newest([newest, _newest(columns[-1])])
            del columns
            while len(pending) > 2:
                feature_chunks.append(pending.popleft().result())
        feature_chunks.extend(future.result() for future in pending)
    outputs = _combine_outputs(output_chunks, codes, n_rows)
    del output_chunks
    return outputs, combine_feature_chunks(feature_chunks, n_rows), newest


def read_stored_rows(
    connection: Connection, sql: str, params: Sequence[Any], feature_types: Mapping[str, str]
) -> ReadResult:
    """Run ``sql`` (columns as in the module docstring) and return its columns.

    ``sql`` uses the driver's placeholders (``?`` on SQLite, ``%s`` on PostgreSQL).
    The newest ingested-at text of the rows (predictions and labels) comes back as
    ``newest_ingested`` for the caller's data watermark.
    """
    with _collection_paused():
        if connection.dialect.name == "postgresql":
            streamed = read_postgres_rows(connection, sql, params, output_types=_ARROW_OUTPUT_TYPES,
                                          feature_types=feature_types)
            outputs = arrow_outputs_frame(streamed.outputs, _FLOAT_COLUMNS)
            features = combine_feature_chunks(streamed.features, streamed.n_rows)
            newest = streamed.newest
        else:
            outputs, features, newest = _read_sqlite_rows(connection, sql, params, feature_types)
    return ReadResult(StoredRows(outputs=outputs, features=_without_empty_features(features)), newest)


def _without_empty_features(features: pd.DataFrame) -> pd.DataFrame:
    # A feature without a single value is treated as absent, whether its key was
    # missing or null (parsing with declared types cannot tell the two apart).
    present = [name for name in features.columns if bool(features[name].notna().any())]
    return features[present] if len(present) < len(features.columns) else features


def stored_rows_from_arrow(outputs: pa.Table, features: Sequence[FeatureChunk]) -> StoredRows:
    """:class:`StoredRows` from Arrow output columns (:data:`OUTPUT_COLUMNS`, any order) and feature chunks."""
    with _collection_paused():
        frame = arrow_outputs_frame(outputs.select(list(OUTPUT_COLUMNS)), _FLOAT_COLUMNS)
        combined = combine_feature_chunks(features, outputs.num_rows)
    return StoredRows(outputs=frame, features=_without_empty_features(combined))
