"""Stored rows as Arrow tables: bulk queries, the stored table format, prediction rows.

Shared by the columnar segments (:mod:`monitor.store.segments`, read by
:mod:`monitor.store.segment_reader`) and the baselines' columnar copies
(:mod:`monitor.store.reference_columns`). Stored tables are Arrow IPC streams (lz4)
whose feature columns carry :data:`FEATURE_PREFIX`, so they never collide with
output columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from monitor.store.feature_json import parse_feature_lines
from monitor.store.postgres_rows import features_as_lines, query_arrow

__all__ = [
    "FEATURE_PREFIX",
    "KEPT_COLUMNS",
    "ROW_TYPES",
    "VersionRows",
    "by_model_version",
    "deserialise_table",
    "feature_columns",
    "from_micros",
    "micros_sql",
    "placeholders",
    "prediction_rows_sql",
    "query_rows",
    "serialise_table",
    "split_by_version",
    "stored_payloads",
    "to_micros",
    "with_features",
]

FEATURE_PREFIX: Final = "f:"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_IPC: Final = pa.ipc.IpcWriteOptions(compression="lz4")
_OUTPUT_TYPES: Final = {
    "prediction": pa.string(), "prediction_numeric": pa.float64(), "score": pa.float64(),
    "latency_ms": pa.float64(), "status": pa.string(),
}
ROW_TYPES: Final = {
    "id": pa.int64(), "model": pa.string(), "model_version": pa.string(), "event_us": pa.int64(),
    "ingested_us": pa.int64(), "features": pa.string(), **_OUTPUT_TYPES,
}
"""The columns of :func:`prediction_rows_sql`."""
KEPT_COLUMNS: Final = ("id", "event_us", "ingested_us", *_OUTPUT_TYPES)
"""The non-feature columns a stored segment keeps."""
# The rows are picked by id range (the primary key). SQLite's planner, without
# statistics, would rather walk the (model, event_time) index of a whole window.
_BY_ID: Final = {"sqlite": " NOT INDEXED", "postgresql": ""}


def to_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def micros_sql(column: str, dialect: str) -> str:
    """SQL for a stored timestamp as microseconds since the epoch (exact on both stores)."""
    if dialect == "postgresql":
        return f"(extract(epoch from {column}) * 1000000)::bigint"
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds, then the six digits.
    return f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000 + CAST(substr({column}, 21, 6) AS INTEGER))"


def prediction_rows_sql(dialect: str, where: str) -> str:
    """Predictions (columns :data:`ROW_TYPES`) matching ``where`` (``{p}`` placeholders, alias ``p``)."""
    features = "p.features::text" if dialect == "postgresql" else "p.features"
    return (
        f"SELECT p.id, p.model, p.model_version, {micros_sql('p.event_time', dialect)}, "
        f"{micros_sql('p.ingested_at', dialect)}, {features}, p.prediction, p.prediction_numeric, p.score, "
        f"p.latency_ms, p.status FROM predictions p{_BY_ID[dialect]} WHERE {where}"
    )


def placeholders(sql: str, dialect: str) -> str:
    """``{p}`` placeholders as the driver wants them."""
    return sql.replace("{p}", "%s" if dialect == "postgresql" else "?")


def query_rows(connection: Connection, sql: str, params: Sequence[Any], types: Mapping[str, pa.DataType]) -> pa.Table:
    """Run driver SQL (``{p}`` placeholders, columns ``types`` in order) into one Arrow table.

    For bounded results: PostgreSQL sends them as one text (:func:`query_arrow`),
    SQLite as rows.
    """
    dialect = connection.dialect.name
    sql = placeholders(sql, dialect)
    if dialect == "postgresql":
        return query_arrow(connection, sql, params, types)
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        rows = cursor.execute(sql, params).fetchall()
    finally:
        cursor.close()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in types]
    return pa.table({name: pa.array(values, type=kind)
                     for (name, kind), values in zip(types.items(), columns, strict=True)})


def stored_payloads(connection: Connection, table: str, where: str, params: Sequence[Any], *,
                    column: str = "data", order: str = "id") -> list[bytes | None]:
    """The ``column`` (bytes) of the rows of ``table`` matching ``where`` (``{p}`` placeholders), by ``order``.

    SQLite reads each payload as an incremental blob: a 20 MB blob spans thousands of
    overflow pages, which ``SELECT data`` walks about ten times slower. PostgreSQL
    sends bytea in binary (not as hex text twice its size).
    """
    dialect = connection.dialect.name
    driver = connection.connection.driver_connection
    assert driver is not None
    if dialect == "postgresql":
        sql = placeholders(f"SELECT {column} FROM {table} WHERE {where} ORDER BY {order}", dialect)
        with driver.cursor() as cursor:
            return [None if data is None else bytes(data)
                    for (data,) in cursor.execute(sql, params, binary=True).fetchall()]
    sql = placeholders(f"SELECT id, {column} IS NULL FROM {table} WHERE {where} ORDER BY {order}", dialect)
    cursor = driver.cursor()
    try:
        rows = cursor.execute(sql, params).fetchall()
    finally:
        cursor.close()
    payloads: list[bytes | None] = []
    for row_id, is_null in rows:
        if is_null:
            payloads.append(None)
            continue
        with driver.blobopen(table, column, row_id, readonly=True) as blob:
            payloads.append(blob.read())
    return payloads


def serialise_table(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_IPC) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def deserialise_table(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def with_features(table: pa.Table, features_json: pa.ChunkedArray,
                  feature_types: Mapping[str, str]) -> pa.Table | None:
    """``table`` plus one prefixed column per feature parsed from ``features_json``.

    None when the features cannot be typed as columns (one feature mixes JSON kinds):
    such rows are read from JSON, which keeps the raw values.
    """
    text, n_rows = features_as_lines(features_json)
    features = parse_feature_lines(text, n_rows, feature_types)
    if not isinstance(features, pa.Table):
        return None
    for name, column in zip(features.column_names, features.columns, strict=True):
        table = table.append_column(FEATURE_PREFIX + name, column)
    return table


def feature_columns(table: pa.Table) -> pa.Table:
    """The feature columns of a stored table, under their own names."""
    names = [name for name in table.column_names if name.startswith(FEATURE_PREFIX)]
    return table.select(names).rename_columns([name.removeprefix(FEATURE_PREFIX) for name in names])


@dataclass(frozen=True, slots=True)
class VersionRows:
    """One (model, version)'s rows of a read: a stored-format table, or None when they stay JSON-only."""

    model: str
    model_version: str
    table: pa.Table | None
    first_id: int
    last_id: int
    row_count: int
    min_event_us: int
    max_event_us: int


def by_model_version(rows: pa.Table) -> list[tuple[str, str, pa.Table]]:
    """The rows of each (model, model_version) of ``rows``, in order of first appearance."""
    if rows.num_rows == 0:
        return []
    keys = pc.binary_join_element_wise(rows.column("model"), rows.column("model_version"), "\x00")
    encoded = pc.dictionary_encode(keys).combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    groups = []
    for code, key in enumerate(encoded.dictionary.to_pylist()):
        model, version = key.split("\x00", 1)
        groups.append((model, version, rows.take(pa.array(np.flatnonzero(codes == code)))))
    return groups


def split_by_version(rows: pa.Table, feature_types: Mapping[str, Mapping[str, str]]) -> list[VersionRows]:
    """Split :data:`ROW_TYPES` rows by (model, version), each with its features as columns."""
    groups = []
    for model, version, part in by_model_version(rows):
        ids, events = part.column("id"), part.column("event_us")
        groups.append(VersionRows(
            model=model, model_version=version,
            table=with_features(part.select(list(KEPT_COLUMNS)), part.column("features"),
                                feature_types.get(model, {})),
            first_id=pc.min(ids).as_py(), last_id=pc.max(ids).as_py(), row_count=part.num_rows,
            min_event_us=pc.min(events).as_py(), max_event_us=pc.max(events).as_py(),
        ))
    return groups
