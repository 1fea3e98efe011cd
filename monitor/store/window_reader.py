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
   index probe per prediction of the window. PostgreSQL starts it before step 1, in
   the same snapshot on a second session, so the server joins while the batches are
   sent (:meth:`~monitor.store.dialect.StoreDialect.alongside`); SQLite runs it after;
3. matched to the rows by prediction id (:func:`monitor.store.stored_rows.labelled`).

Between 1 and 3, ``load_window`` hands the rows read so far (labels missing) to the
caller's ``features_read``: the window job queues the metric groups that read no label
on its second core (the drift tests first) while the labels are read.

The *data watermark* is the newest ``ingested_at`` among the window's predictions
and labels: when a later scan finds newer data for the window, the scheduler
recomputes it. A baseline (:func:`load_reference_table`) is its columnar copy,
written when it was saved, with the labels of its copied predictions joined the
same way.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, func, select

from monitor.store.dialect import StoreDialect, dialect_of
from monitor.store.row_format import LABEL_TYPES, TIME_TYPE, combine, deserialise, detached, in_range, newest
from monitor.store.stored_rows import StoredRows, labelled, stored_rows, with_labels
from monitor.store.tables import dead_letters

__all__ = ["WindowRows", "load_reference_table", "load_window", "read_window_rows", "snapshot_connection"]


_BATCHES: Final = "model = {p} AND model_version = {p} AND max_event_time >= {p} AND min_event_time < {p}"
# A label's ingested_at only where it may be newer than the window's predictions: only the
# newest counts (the watermark), and a NULL costs no formatting or object. The cut is a lower
# bound of the predictions' newest ingested_at, known before they are read: the newest of the
# batches lying wholly inside the window (each of their rows is in the window).
_WINDOW_LABELS: Final = (
    "SELECT l.prediction_id, l.label, l.label_numeric, "
    "CASE WHEN b.cut IS NULL OR l.ingested_at > b.cut THEN l.ingested_at END "
    "FROM predictions p JOIN labels l ON l.model = p.model AND l.prediction_id = p.prediction_id "
    "CROSS JOIN (SELECT max(max_ingested_at) AS cut FROM prediction_batches "
    "WHERE model = {p} AND model_version = {p} AND min_event_time >= {p} AND max_event_time < {p}) AS b "
    "WHERE p.model = {p} AND p.model_version = {p} AND p.event_time >= {p} AND p.event_time < {p}"
)
_REFERENCE_LABELS: Final = (
    "SELECT l.prediction_id, l.label, l.label_numeric, NULL "
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


def _labels(dialect: StoreDialect, connection: Connection, *, sql: str,
            params: tuple[Any, ...]) -> tuple[pa.Table, datetime | None]:
    """The labels ``sql`` selects (:data:`LABEL_TYPES`, then an ingested_at or NULL) and the newest ingested_at."""
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


def read_window_rows(connection: Connection, *, model: str, model_version: str, start: datetime, end: datetime,
                     features_read: Callable[[StoredRows], None] | None = None) -> tuple[StoredRows, datetime | None]:
    """The window's rows (labels joined) and its watermark, in ``connection``'s snapshot (module docstring)."""
    dialect = dialect_of(connection)
    window = (model, model_version, dialect.time_param(start), dialect.time_param(end))
    read_labels = partial(_labels, dialect, sql=_WINDOW_LABELS, params=window * 2)
    with dialect.alongside(connection, read_labels) as labels_read:
        blobs = dialect.blobs(connection, "prediction_batches", "data", _BATCHES, window)
        table = combine([in_range(deserialise(data), start, end) for data in blobs])
        del blobs
        rows = stored_rows(table)
        stored_at = newest([table.column("ingested_at")])
        # The stored bytes go now: the rows are converted, and matching the labels needs the ids only.
        ids = pa.table({"prediction_id": detached(table.column("prediction_id"))})
        del table
        if features_read is not None:
            features_read(rows)
        labels, labelled_at = labels_read()
    watermark = max((moment for moment in (stored_at, labelled_at) if moment is not None), default=None)
    return labelled(rows, ids, labels), watermark


def load_window(
    engine: Engine,
    *,
    model: str,
    model_version: str,
    start: datetime,
    end: datetime,
    features_read: Callable[[StoredRows], None] | None = None,
) -> WindowRows:
    """Read one window (see the module docstring); ``features_read`` gets the rows before their labels
    are read (labels missing)."""
    with snapshot_connection(engine) as connection, connection.begin():
        rows, watermark = read_window_rows(connection, model=model, model_version=model_version, start=start,
                                           end=end, features_read=features_read)
        letters = connection.execute(
            select(func.count())
            .select_from(dead_letters)
            .where(dead_letters.c.model == model, dead_letters.c.received_at >= start, dead_letters.c.received_at < end)
        ).scalar_one()
    return WindowRows(rows=rows, watermark=watermark, dead_letter_count=int(letters))


def load_reference_table(connection: Connection, *, model: str, set_id: int) -> pa.Table:
    """A baseline's columnar copy with the current labels of its copied predictions."""
    dialect = dialect_of(connection)
    blobs = dialect.blobs(connection, "reference_sets", "columns", "id = {p} AND columns IS NOT NULL", (set_id,))
    table = deserialise(blobs[0]) if blobs else combine([])
    labels, _ = _labels(dialect, connection, sql=_REFERENCE_LABELS, params=(model, set_id))
    return with_labels(table, labels)
