"""Columns of stored predictions (a window or a reference), read in bulk.

Statistics want columns, the store has rows. :func:`read_stored_rows` runs one
query whose columns are, in this order::

    features (JSON text), prediction, prediction_numeric, score, latency_ms, status,
    label, label_numeric, prediction_ingested_at (text), label_ingested_at (text)

on the raw DB-API cursor (SQLAlchemy's per-row Row objects cost more than the whole
statistics for a million-row window), in chunks, so memory stays near the size of
the columns. On PostgreSQL a server-side cursor streams the rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from monitor.store.feature_json import FeatureChunk, combine_feature_chunks, parse_feature_objects

__all__ = [
    "OUTPUT_COLUMNS",
    "SQLITE_TIME_FORMAT",
    "ReadResult",
    "StoredRows",
    "bind_time",
    "parse_stored_time",
    "read_stored_rows",
]

OUTPUT_COLUMNS = ("prediction", "prediction_numeric", "score", "latency_ms", "status", "label", "label_numeric")
_FLOAT_COLUMNS = frozenset({"prediction_numeric", "score", "latency_ms", "label_numeric"})
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_CHUNK_ROWS = 50_000
_cursor_names = itertools.count()


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
    data: dict[str, Any] = {}
    for name, values in zip(OUTPUT_COLUMNS, columns, strict=True):
        if name in _FLOAT_COLUMNS:
            data[name] = pd.Series(values, dtype="float64")
        else:
            data[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


def _fetch_chunks(connection: Connection, sql: str, params: Sequence[Any]) -> Iterator[list[tuple[Any, ...]]]:
    driver = connection.connection.driver_connection
    assert driver is not None
    if connection.dialect.name == "postgresql":
        cursor = driver.cursor(name=f"driftwatch_rows_{next(_cursor_names)}")
    else:
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


def _newest(values: Sequence[str | None]) -> str | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def read_stored_rows(
    connection: Connection, sql: str, params: Sequence[Any], feature_types: Mapping[str, str]
) -> ReadResult:
    """Run ``sql`` (columns as in the module docstring) and return its columns.

    ``sql`` uses the driver's placeholders (``?`` on SQLite, ``%s`` on PostgreSQL).
    The newest ingested-at text of the rows (predictions and labels) comes back as
    ``newest_ingested`` for the caller's data watermark.
    """
    output_parts: list[list[Any]] = [[] for _ in OUTPUT_COLUMNS]
    newest: str | None = None
    n_rows = 0
    pending: list[Future[FeatureChunk]] = []
    # Parsing (pyarrow, GIL released) overlaps with fetching the next chunk.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-json") as parser:
        for chunk in _fetch_chunks(connection, sql, params):
            columns = list(zip(*chunk, strict=True))
            del chunk
            n_rows += len(columns[0])
            pending.append(parser.submit(parse_feature_objects, columns[0], feature_types))
            for index in range(len(OUTPUT_COLUMNS)):
                output_parts[index].extend(columns[1 + index])
            newest = _newest([newest, _newest(columns[-2]), _newest(columns[-1])])
        feature_chunks = [future.result() for future in pending]
    outputs = _outputs_frame(output_parts)
    features = combine_feature_chunks(feature_chunks, n_rows)
    # A feature without a single value is treated as absent, whether its key was
    # missing or null (parsing with declared types cannot tell the two apart).
    present = [name for name in features.columns if bool(features[name].notna().any())]
    if len(present) < len(features.columns):
        features = features[present]
    return ReadResult(StoredRows(outputs=outputs, features=features), newest)
