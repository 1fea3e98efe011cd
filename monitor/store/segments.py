"""Columnar segments: stored predictions parsed once, then read by windows without JSON.

A window of a million predictions holds a million feature JSON objects, and parsing
them is most of the cost of computing a large window; the scheduler even re-reads
the current window on every tick. Compaction (:func:`compact_predictions`, run by
the scheduler at the start of each tick and by ``driftwatch compute``) copies each
new prediction, once, into ``prediction_segments``: one Arrow table per
(model, version) and id range, holding the output columns and one raw column per
feature, parsed by the same code as the JSON path (:mod:`monitor.store.feature_json`).

Predictions are insert-only (a replayed id never changes the stored row), so a
segment never goes stale. ``segment_progress.last_id`` is the id up to which every
prediction is in a segment. :func:`read_segmented_window` reads a window's
segments, the newer predictions (the *tail*, ids above ``last_id``) from JSON, and
the labels from ``labels`` (labels do change), in the caller's snapshot.

Safe beside concurrent writers and schedulers:

- PostgreSQL hands out ids when a row is inserted, not when it commits, so a row
  with a lower id can become visible after a higher one. The compactor reads the
  highest id while holding ``SHARE`` lock on ``predictions``, which waits for every
  inserting transaction to end: every id up to it is committed. (The lock is held
  for one ``max(id)``; writers wait milliseconds.)
- SQLite has one writer at a time; a reader's highest id is committed with all below.
- Two compactors: segments are written in the same transaction as a compare-and-set
  of ``segment_progress``; the loser's transaction writes nothing.

Rows whose features the columnar parser cannot type (one feature mixing numbers and
strings: exactly what ``type_mismatch_share`` measures) get a segment without data;
a window that overlaps one is read wholly from JSON, as before segments existed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from monitor.logs import fields
from monitor.store.feature_json import FeatureChunk, parse_feature_lines
from monitor.store.postgres_rows import features_as_lines, query_arrow
from monitor.store.stored_rows import SQLITE_TIME_FORMAT, bind_time
from monitor.store.tables import prediction_segments, segment_progress

__all__ = [
    "FEATURE_PREFIX",
    "CompactionReport",
    "SegmentedWindow",
    "compact_predictions",
    "deserialise_table",
    "query_rows",
    "read_segmented_window",
    "serialise_table",
]

log = logging.getLogger("driftwatch.segments")

PROGRESS_NAME: Final = "predictions"
CHUNK_ROWS: Final = 100_000
"""Predictions read per compaction step (one transaction each)."""
DEFAULT_MAX_ROWS: Final = 2_000_000
"""At most this many predictions per call; the rest waits for the next tick (the tail covers it)."""
TAIL_LIMIT: Final = 250_000
"""A window reads wholly from JSON while more predictions than this wait for compaction."""
_LOCK_TIMEOUT: Final = "5s"
FEATURE_PREFIX: Final = "f:"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_OUTPUT_TYPES: Final = {
    "prediction": pa.string(), "prediction_numeric": pa.float64(), "score": pa.float64(),
    "latency_ms": pa.float64(), "status": pa.string(),
}
_ROW_TYPES: Final = {
    "id": pa.int64(), "model": pa.string(), "model_version": pa.string(), "event_us": pa.int64(),
    "ingested_us": pa.int64(), "features": pa.string(), **_OUTPUT_TYPES,
}
_KEEP: Final = ("id", "event_us", "ingested_us", *_OUTPUT_TYPES)
_IPC: Final = pa.ipc.IpcWriteOptions(compression="lz4")


def _micros(column: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"(extract(epoch from {column}) * 1000000)::bigint"
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds, then the six digits.
    return f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000 + CAST(substr({column}, 21, 6) AS INTEGER))"


# The rows are picked by id range (the primary key). SQLite's planner, without
# statistics, would rather walk the (model, event_time) index of a whole window.
_BY_ID: Final = {"sqlite": " NOT INDEXED", "postgresql": ""}


def _rows_sql(dialect: str, where: str) -> str:
    features = "p.features::text" if dialect == "postgresql" else "p.features"
    return (
        f"SELECT p.id, p.model, p.model_version, {_micros('p.event_time', dialect)}, "
        f"{_micros('p.ingested_at', dialect)}, {features}, p.prediction, p.prediction_numeric, p.score, "
        f"p.latency_ms, p.status FROM predictions p{_BY_ID[dialect]} WHERE {where}"
    )


def _placeholders(sql: str, dialect: str) -> str:
    return sql.replace("{p}", "%s" if dialect == "postgresql" else "?")


def query_rows(connection: Connection, sql: str, params: Sequence[Any], types: Mapping[str, pa.DataType]) -> pa.Table:
    """Run driver SQL (``{p}`` placeholders) and return its columns as an Arrow table."""
    dialect = connection.dialect.name
    sql = _placeholders(sql, dialect)
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
    return pa.table({name: pa.array(values, type=kind) for (name, kind), values in zip(types.items(), columns,
                                                                                       strict=True)})


@dataclass(frozen=True, slots=True)
class _Group:
    """One (model, version)'s rows of a read: an Arrow table, or None when they stay JSON-only."""

    model: str
    model_version: str
    table: pa.Table | None
    first_id: int
    last_id: int
    row_count: int
    min_event_us: int
    max_event_us: int


def _feature_table(chunk: FeatureChunk) -> pa.Table | None:
    return chunk if isinstance(chunk, pa.Table) else None


def _groups(rows: pa.Table, feature_types: Mapping[str, Mapping[str, str]]) -> list[_Group]:
    """Split rows by (model, version) and parse each group's features into columns."""
    if rows.num_rows == 0:
        return []
    keys = pc.binary_join_element_wise(rows.column("model"), rows.column("model_version"), "\x00")
    encoded = pc.dictionary_encode(keys).combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    groups = []
    for code, key in enumerate(encoded.dictionary.to_pylist()):
        model, version = key.split("\x00", 1)
        part = rows.take(pa.array(np.flatnonzero(codes == code)))
        ids = part.column("id")
        events = part.column("event_us")
        text, n_rows = features_as_lines(part.column("features"))
        features = _feature_table(parse_feature_lines(text, n_rows, feature_types.get(model, {})))
        table = None
        if features is not None:
            kept = part.select(list(_KEEP))
            for name, column in zip(features.column_names, features.columns, strict=True):
                kept = kept.append_column(FEATURE_PREFIX + name, column)
            table = kept
        groups.append(_Group(
            model=model, model_version=version, table=table, first_id=pc.min(ids).as_py(),
            last_id=pc.max(ids).as_py(), row_count=part.num_rows, min_event_us=pc.min(events).as_py(),
            max_event_us=pc.max(events).as_py(),
        ))
    return groups


def _moment(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def serialise_table(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_IPC) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def deserialise_table(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


# -- compaction ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompactionReport:
    """What one :func:`compact_predictions` call did."""

    rows: int
    segments: int
    json_only_rows: int
    last_id: int
    seconds: float


def _committed_high_id(engine: Engine) -> int:
    """The highest prediction id below which every row is committed (see the module docstring)."""
    with engine.connect() as connection, connection.begin():
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
            connection.exec_driver_sql("LOCK TABLE predictions IN SHARE MODE")
        return int(connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM predictions").scalar_one())


def compacted_up_to(connection: Connection) -> int:
    """``segment_progress.last_id`` as this connection's snapshot sees it (0: nothing compacted)."""
    value = connection.execute(
        select(segment_progress.c.last_id).where(segment_progress.c.name == PROGRESS_NAME)
    ).scalar_one_or_none()
    return int(value or 0)


def _advance(connection: Connection, done: int, upto: int, now: datetime) -> bool:
    """Compare-and-set the progress from ``done`` to ``upto``; False when another compactor moved it."""
    if done == 0 and compacted_up_to(connection) == 0:
        exists = connection.execute(
            select(segment_progress.c.name).where(segment_progress.c.name == PROGRESS_NAME)
        ).first()
        if exists is None:
            try:
                with connection.begin_nested():
                    connection.execute(insert(segment_progress).values(name=PROGRESS_NAME, last_id=upto,
                                                                       updated_at=now))
            except IntegrityError:
                return False
            return True
    moved = connection.execute(
        update(segment_progress)
        .where(segment_progress.c.name == PROGRESS_NAME, segment_progress.c.last_id == done)
        .values(last_id=upto, updated_at=now)
    )
    return moved.rowcount == 1


def compact_predictions(
    engine: Engine,
    *,
    feature_types: Mapping[str, Mapping[str, str]] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    now: datetime | None = None,
) -> CompactionReport:
    """Copy predictions not yet in a segment into segments (see the module docstring).

    ``feature_types`` (model -> feature -> "numeric"/"categorical") only speeds up
    parsing, as for a window. Returns what was done; raises the store's errors.
    """
    started = time.perf_counter()
    types = feature_types or {}
    high = _committed_high_id(engine)
    with engine.connect() as connection:
        done = compacted_up_to(connection)
    rows = segments = json_only = 0
    while done < high and rows < max_rows:
        upto = min(high, done + CHUNK_ROWS)
        with engine.connect() as connection, connection.begin():
            sql = _rows_sql(engine.dialect.name, "p.id > {p} AND p.id <= {p}")
            groups = _groups(query_rows(connection, sql, (done, upto), _ROW_TYPES), types)
        moment = now or datetime.now(UTC)
        with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
            if not _advance(connection, done, upto, moment):
                log.info("another scheduler is compacting; leaving it to it", extra=fields(last_id=done))
                break
            for group in groups:
                connection.execute(insert(prediction_segments).values(
                    model=group.model, model_version=group.model_version, first_id=group.first_id,
                    last_id=group.last_id, row_count=group.row_count,
                    min_event_time=_moment(group.min_event_us), max_event_time=_moment(group.max_event_us),
                    data=None if group.table is None else serialise_table(group.table), created_at=moment,
                ))
        rows += sum(group.row_count for group in groups)
        segments += len(groups)
        json_only += sum(group.row_count for group in groups if group.table is None)
        done = upto
    report = CompactionReport(rows=rows, segments=segments, json_only_rows=json_only, last_id=done,
                              seconds=time.perf_counter() - started)
    if rows:
        log.info("predictions compacted", extra=fields(rows=rows, segments=segments, json_only=json_only,
                                                        last_id=done, seconds=round(report.seconds, 2)))
    return report


# -- reading a window ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentedWindow:
    """A window's rows from segments + tail: output columns (with labels) and feature chunks."""

    outputs: pa.Table
    features: list[pa.Table]
    newest_ingested: datetime | None


def _in_window(table: pa.Table, start_us: int, end_us: int) -> pa.Table:
    events = table.column("event_us")
    if pc.min(events).as_py() >= start_us and pc.max(events).as_py() < end_us:
        return table
    keep = pc.and_(pc.greater_equal(events, start_us), pc.less(events, end_us))
    return table.filter(keep)


def _labels_sql(dialect: str) -> str:
    return (
        f"SELECT p.id, l.label, l.label_numeric, {_micros('l.ingested_at', dialect)} "
        "FROM predictions p JOIN labels l ON l.model = p.model AND l.prediction_id = p.prediction_id "
        "WHERE p.model = {p} AND p.model_version = {p} AND p.event_time >= {p} AND p.event_time < {p}"
    )


_LABEL_TYPES: Final = {"id": pa.int64(), "label": pa.string(), "label_numeric": pa.float64(),
                       "ingested_us": pa.int64()}

# SQLite builds the window's labels as one tab-separated text (no Python tuple per
# label). SQLite cannot print every REAL exactly, so label_numeric is not printed:
# the flag says whether the label text parses (by SQLite) to exactly label_numeric,
# and then the number is parsed from the text (by Arrow; both parse a number's
# shortest text, which is what ingestion stores, to the same double). A label whose
# text does not (or that Arrow cannot parse) sends the window down the exact query.
_SQLITE_LABELS: Final = (
    "SELECT group_concat(p.id || char(9) || char(1) || replace(l.label, char(1), char(1) || char(1)) || char(1) "
    "|| char(9) || CASE WHEN l.label_numeric IS NULL THEN 'n' "
    "WHEN CAST(l.label AS REAL) = l.label_numeric THEN 't' ELSE 'x' END "
    "|| char(9) || l.ingested_at, char(10)) "
    "FROM predictions p JOIN labels l ON l.model = p.model AND l.prediction_id = p.prediction_id "
    "WHERE p.model = ? AND p.model_version = ? AND p.event_time >= ? AND p.event_time < ?"
)
_SQLITE_LABEL_TYPES: Final = {"id": pa.int64(), "label": pa.string(), "numeric": pa.string(),
                              "ingested_at": pa.string()}


def _sqlite_labels(connection: Connection, window: Sequence[Any]) -> tuple[pa.Table, int | None] | None:
    """The window's labels and their newest ingested_at (see ``_SQLITE_LABELS``).

    None when a label needs the exact query.
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        (text,) = cursor.execute(_SQLITE_LABELS, tuple(window)).fetchone()
    finally:
        cursor.close()
    if not text:
        return pa.schema([(name, _LABEL_TYPES[name]) for name in ("id", "label", "label_numeric")]).empty_table(), None
    table = pa_csv.read_csv(
        pa.BufferReader(text.encode("utf-8")),
        read_options=pa_csv.ReadOptions(column_names=list(_SQLITE_LABEL_TYPES), block_size=8 << 20),
        parse_options=pa_csv.ParseOptions(delimiter="\t", quote_char="\x01", double_quote=True,
                                          newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(column_types=_SQLITE_LABEL_TYPES, strings_can_be_null=False),
    )
    flags = table.column("numeric")
    if pc.any(pc.equal(flags, "x")).as_py():
        return None
    numeric = pc.equal(flags, "t")
    try:
        parsed = pc.cast(pc.if_else(numeric, table.column("label"), None), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    # The stored text sorts like the time; only the newest is turned into a number.
    newest = datetime.strptime(pc.max(table.column("ingested_at")).as_py(), SQLITE_TIME_FORMAT)
    labels = pa.table({"id": table.column("id"), "label": table.column("label"), "label_numeric": parsed})
    return labels, (newest.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)


def _segment_data(connection: Connection, model: str, model_version: str, start: datetime,
                  end: datetime) -> list[bytes | None]:
    """The payloads of the segments overlapping ``[start, end)``, in id order."""
    dialect = connection.dialect.name
    sql = _placeholders(
        "SELECT data FROM prediction_segments WHERE model = {p} AND model_version = {p} "
        "AND min_event_time < {p} AND max_event_time >= {p} ORDER BY first_id", dialect)
    params = (model, model_version, bind_time(connection, end), bind_time(connection, start))
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        if dialect == "postgresql":
            # Binary results: bytea as bytes, not as hex text twice its size.
            rows = cursor.execute(sql, params, binary=True).fetchall()
        else:
            rows = cursor.execute(sql, params).fetchall()
    finally:
        cursor.close()
    return [None if data is None else bytes(data) for (data,) in rows]


def read_segmented_window(
    connection: Connection,
    *,
    model: str,
    model_version: str,
    start: datetime,
    end: datetime,
    feature_types: Mapping[str, str],
) -> SegmentedWindow | None:
    """The window from segments, or None when it must be read from JSON.

    None when nothing is compacted yet, when compaction is more than
    :data:`TAIL_LIMIT` predictions behind, or when a segment overlapping the window
    (or its tail) has rows the columnar parser could not type.
    """
    compacted = compacted_up_to(connection)
    if compacted == 0:
        return None
    # The tail is read whole, not streamed: a long one (compaction far behind, e.g.
    # just after an upgrade) goes the streaming JSON way instead.
    if int(connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM predictions").scalar_one()) \
            - compacted > TAIL_LIMIT:
        return None
    dialect = connection.dialect.name
    start_us = (start - _EPOCH) // timedelta(microseconds=1)
    end_us = (end - _EPOCH) // timedelta(microseconds=1)
    stored = _segment_data(connection, model, model_version, start, end)
    payloads = [data for data in stored if data is not None]
    if len(payloads) < len(stored):
        return None
    parts = [_in_window(deserialise_table(data), start_us, end_us) for data in payloads]
    window = (model, model_version, bind_time(connection, start), bind_time(connection, end))
    where = ("p.model = {p} AND p.model_version = {p} AND p.event_time >= {p} AND p.event_time < {p} "
             "AND p.id > {p}")
    tail = _groups(query_rows(connection, _rows_sql(dialect, where), (*window, compacted), _ROW_TYPES),
                   {model: feature_types})
    if any(group.table is None for group in tail):
        return None
    parts += [group.table for group in tail if group.table is not None]
    parts = [part for part in parts if part.num_rows]
    labelled = _sqlite_labels(connection, window) if dialect == "sqlite" else None
    if labelled is None:
        exact = query_rows(connection, _labels_sql(dialect), window, _LABEL_TYPES)
        labelled = exact.drop_columns(["ingested_us"]), pc.max(exact.column("ingested_us")).as_py()
    return _assemble(parts, *labelled)


def _assemble(parts: list[pa.Table], labels: pa.Table, labels_newest_us: int | None) -> SegmentedWindow:
    if parts:
        outputs = pa.concat_tables([part.select(list(_KEEP)) for part in parts])
    else:
        outputs = pa.schema([(name, _ROW_TYPES[name]) for name in _KEEP]).empty_table()
    where = pc.index_in(outputs.column("id"), value_set=labels.column("id").combine_chunks())
    outputs = outputs.append_column("label", labels.column("label").take(where))
    outputs = outputs.append_column("label_numeric", labels.column("label_numeric").take(where))
    newest = max((value for value in (pc.max(outputs.column("ingested_us")).as_py(), labels_newest_us)
                  if value is not None), default=None)
    features = []
    for part in parts:
        names = [name for name in part.column_names if name.startswith(FEATURE_PREFIX)]
        features.append(part.select(names).rename_columns([name.removeprefix(FEATURE_PREFIX) for name in names]))
    return SegmentedWindow(outputs=outputs, features=features,
                           newest_ingested=None if newest is None else _moment(newest))
