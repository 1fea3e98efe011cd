"""Everything a window's computation reads, in one consistent snapshot.

A window is the predictions of one model version with ``start <= event_time < end``,
each with its label when one exists (joined on model and prediction_id), plus the
dead letters of the model received in the window. The *data watermark* is the
newest ``ingested_at`` among those predictions and labels: when a later scan finds
newer data for the window, the scheduler recomputes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select

from monitor.store.segment_reader import read_segmented_window
from monitor.store.stored_rows import (
    StoredRows,
    bind_time,
    parse_stored_time,
    read_stored_rows,
    stored_rows_from_arrow,
)
from monitor.store.tables import dead_letters

__all__ = ["WindowRows", "load_window", "snapshot_connection"]

_SQLITE_WINDOW = """
SELECT p.features, p.prediction, p.prediction_numeric, p.score, p.latency_ms, p.status,
       l.label, l.label_numeric, max(p.ingested_at, coalesce(l.ingested_at, ''))
FROM predictions p
LEFT JOIN labels l ON l.model = p.model AND l.prediction_id = p.prediction_id
WHERE p.model = ? AND p.model_version = ? AND p.event_time >= ? AND p.event_time < ?
"""
_PG_TIME = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
_PG_WINDOW = f"""
SELECT p.features::text, p.prediction, p.prediction_numeric, p.score, p.latency_ms, p.status,
       l.label, l.label_numeric, {_PG_TIME.format("greatest(p.ingested_at, l.ingested_at)")}
FROM predictions p
LEFT JOIN labels l ON l.model = p.model AND l.prediction_id = p.prediction_id
WHERE p.model = %s AND p.model_version = %s AND p.event_time >= %s AND p.event_time < %s
"""


@dataclass(frozen=True, slots=True)
class WindowRows:
    """A window's stored data: its rows, the watermark, and the model's dead letters."""

    rows: StoredRows
    watermark: datetime | None
    dead_letter_count: int


def snapshot_connection(engine: Engine) -> Connection:
    """A connection whose transaction sees one snapshot on both backends.

    SQLite's WAL readers already see one snapshot per transaction; PostgreSQL needs
    REPEATABLE READ for that.
    """
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    return connection


def load_window(
    engine: Engine,
    *,
    model: str,
    model_version: str,
    start: datetime,
    end: datetime,
    feature_types: Mapping[str, str],
) -> WindowRows:
    """Read one window (see the module docstring).

    Compacted predictions come from their columnar segments, the rest from JSON
    (:mod:`monitor.store.segment_reader`); both give the same rows.
    ``feature_types`` (feature -> "numeric"/"categorical") only speeds up parsing.
    """
    with snapshot_connection(engine) as connection, connection.begin():
        segmented = read_segmented_window(connection, model=model, model_version=model_version, start=start,
                                          end=end, feature_types=feature_types)
        if segmented is not None:
            rows = stored_rows_from_arrow(segmented.outputs, segmented.features)
            watermark = segmented.newest_ingested
        else:
            sql = _PG_WINDOW if engine.dialect.name == "postgresql" else _SQLITE_WINDOW
            params = (model, model_version, bind_time(connection, start), bind_time(connection, end))
            result = read_stored_rows(connection, sql, params, feature_types)
            rows, watermark = result.rows, parse_stored_time(result.newest_ingested)
        letters = connection.execute(
            select(func.count())
            .select_from(dead_letters)
            .where(dead_letters.c.model == model, dead_letters.c.received_at >= start, dead_letters.c.received_at < end)
        ).scalar_one()
    return WindowRows(rows=rows, watermark=watermark, dead_letter_count=int(letters))
