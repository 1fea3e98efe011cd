"""How a window's (and a baseline's) rows come out of the store: one way, whatever their age, size or types.

A window is the predictions of one model version with ``start <= event_time < end``,
each with its label when one exists, plus the dead letters of the model received in
the window. In one snapshot (:func:`snapshot_connection`):

1. the columnar batches of the version whose event-time range overlaps the window
   (:mod:`monitor.store.batches`: every stored prediction is in exactly one), kept
   to the rows in the window;
2. the window's labels, by one SQL query: ``labels`` joined to the window's
   ``predictions`` on (model, prediction_id). It reads the labels as they are now,
   so a label replaced by ingestion or corrected by hand (any SQL UPDATE, INSERT or
   DELETE) is seen at the next computation, with no rule to follow; it costs one
   index probe per prediction of the window;
3. matched to the rows by prediction id (:func:`monitor.store.row_format.with_labels`).

The *data watermark* is the newest ``ingested_at`` among the window's predictions
and labels: when a later scan finds newer data for the window, the scheduler
recomputes it. A baseline (:func:`load_reference_table`) is its columnar copy,
written when it was saved, with the labels of its copied predictions joined the
same way.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, func, select

from monitor.store.dialect import StoreDialect, dialect_of
from monitor.store.row_format import (
    LABEL_TYPES,
    TIME_TYPE,
    StoredRows,
    combine,
    deserialise,
    in_range,
    newest,
    stored_rows,
    with_labels,
)
from monitor.store.tables import dead_letters

__all__ = ["WindowRows", "load_reference_table", "load_window", "read_window_table", "snapshot_connection"]

_BATCHES: Final = "model = {p} AND model_version = {p} AND max_event_time >= {p} AND min_event_time < {p}"
_WINDOW_LABELS: Final = (
    "SELECT l.prediction_id, l.label, l.label_numeric, l.ingested_at "
    "FROM predictions p JOIN labels l ON l.model = p.model AND l.prediction_id = p.prediction_id "
    "WHERE p.model = {p} AND p.model_version = {p} AND p.event_time >= {p} AND p.event_time < {p}"
)
_REFERENCE_LABELS: Final = (
    "SELECT l.prediction_id, l.label, l.label_numeric, l.ingested_at "
    "FROM reference_data rd JOIN labels l ON l.model = {p} AND l.prediction_id = rd.prediction_id "
    "WHERE rd.reference_set_id = {p}"
)


@dataclass(frozen=True, slots=True)
class WindowRows:
    """A window's stored data: its rows, the watermark, and the model's dead letters."""

    rows: StoredRows
    watermark: datetime | None
    dead_letter_count: int


def snapshot_connection(engine: Engine) -> Connection:
    """A connection whose transaction sees one snapshot on both backends."""
    return dialect_of(engine).snapshot(engine)


def _labels(dialect: StoreDialect, connection: Connection, sql: str,
            params: tuple[Any, ...]) -> tuple[pa.Table, datetime | None]:
    """The labels ``sql`` selects (:data:`LABEL_TYPES`, then ingested_at) and the newest ingested_at."""
    with _collection_paused():
        table = dialect.table(connection, sql, params, {**LABEL_TYPES, "ingested_at": TIME_TYPE})
    # Only the newest ingested_at counts (the watermark); SQLite's time text sorts like the time.
    latest = dialect.parse_time(pc.max(table.column("ingested_at")).as_py())
    return table.drop_columns(["ingested_at"]), latest


@contextmanager
def _collection_paused() -> Iterator[None]:
    # Hundreds of thousands of short-lived row tuples would trigger the cyclic collector
    # again and again, each time walking every live object; rows hold no cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_window_table(connection: Connection, *, model: str, model_version: str, start: datetime,
                      end: datetime) -> tuple[pa.Table, datetime | None]:
    """The window's rows in the stored-row format (labels joined) and its watermark, in ``connection``'s snapshot."""
    dialect = dialect_of(connection)
    window = (model, model_version, dialect.time_param(start), dialect.time_param(end))
    blobs = dialect.blobs(connection, "prediction_batches", "data", _BATCHES,
                          (model, model_version, window[2], window[3]))
    table = combine([in_range(deserialise(data), start, end) for data in blobs])
    labels, labelled_at = _labels(dialect, connection, _WINDOW_LABELS, window)
    stored_at = newest([table.column("ingested_at")])
    watermark = max((moment for moment in (stored_at, labelled_at) if moment is not None), default=None)
    return with_labels(table, labels), watermark


def load_window(
    engine: Engine,
    *,
    model: str,
    model_version: str,
    start: datetime,
    end: datetime,
    feature_types: Mapping[str, str] | None = None,
) -> WindowRows:
    """Read one window (see the module docstring). ``feature_types`` is not needed (kept for callers)."""
    with snapshot_connection(engine) as connection, connection.begin():
        table, watermark = read_window_table(connection, model=model, model_version=model_version, start=start,
                                             end=end)
        letters = connection.execute(
            select(func.count())
            .select_from(dead_letters)
            .where(dead_letters.c.model == model, dead_letters.c.received_at >= start, dead_letters.c.received_at < end)
        ).scalar_one()
    return WindowRows(rows=stored_rows(table), watermark=watermark, dead_letter_count=int(letters))


def load_reference_table(connection: Connection, *, model: str, set_id: int) -> pa.Table:
    """A baseline's columnar copy with the current labels of its copied predictions."""
    dialect = dialect_of(connection)
    blobs = dialect.blobs(connection, "reference_sets", "columns", "id = {p} AND columns IS NOT NULL", (set_id,))
    table = deserialise(blobs[0]) if blobs else combine([])
    labels, _ = _labels(dialect, connection, _REFERENCE_LABELS, (model, set_id))
    return with_labels(table, labels)
