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
prediction is in a segment. :func:`~monitor.store.segment_reader.read_segmented_window`
reads a window's segments, the newer predictions (the *tail*, ids above ``last_id``)
from JSON, and the labels (from :mod:`monitor.store.label_segments`, or joined from
``labels``), in the caller's snapshot.

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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, cast

from sqlalchemy import Connection, Engine, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from monitor.logs import fields
from monitor.store.arrow_rows import (
    ROW_TYPES,
    from_micros,
    prediction_rows_sql,
    query_rows,
    serialise_table,
    split_by_version,
)
from monitor.store.tables import prediction_segments, predictions, segment_progress

__all__ = ["BATCH_ROWS", "BATCH_WAIT", "CompactionReport", "advance_progress", "batch_due", "committed_high_ids",
           "compact_predictions", "compacted_up_to", "compaction_due", "high_id", "progress", "waiting_since"]

log = logging.getLogger("driftwatch.segments")

PROGRESS_NAME: Final = "predictions"
CHUNK_ROWS: Final = 100_000
"""Predictions read per compaction step (one transaction each)."""
DEFAULT_MAX_ROWS: Final = 2_000_000
"""At most this many predictions per call; the rest waits for the next tick (the tail covers it)."""
BATCH_ROWS: Final = 20_000
"""The scheduler compacts once this many rows wait (or the oldest has waited :data:`BATCH_WAIT`)."""
BATCH_WAIT: Final = timedelta(hours=1)
"""So a quiet model gets about one segment an hour, not one a tick: a window reads a few big
segments rather than thousands of small ones, and the uncompacted tail stays small."""
_LOCK_TIMEOUT: Final = "5s"


@dataclass(frozen=True, slots=True)
class CompactionReport:
    """What one :func:`compact_predictions` call did."""

    rows: int
    segments: int
    json_only_rows: int
    last_id: int
    seconds: float


def committed_high_ids(engine: Engine, *tables: str) -> tuple[int, ...]:
    """Per table, the highest id below which every row is committed (see the module docstring).

    ``tables`` are locked in the order given; writers take them in the same order
    (predictions, then labels), so waiting for them cannot deadlock.
    """
    with engine.connect() as connection, connection.begin():
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
            connection.exec_driver_sql(f"LOCK TABLE {', '.join(tables)} IN SHARE MODE")
        return tuple(high_id(connection, table) for table in tables)


def high_id(connection: Connection, table: str) -> int:
    """The highest id of ``table`` in this connection's snapshot (0: empty)."""
    return int(connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one())


def progress(connection: Connection, name: str) -> int:
    """The ``segment_progress`` row ``name`` as this connection's snapshot sees it (0: none yet)."""
    value = connection.execute(
        select(segment_progress.c.last_id).where(segment_progress.c.name == name)
    ).scalar_one_or_none()
    return int(value or 0)


def compacted_up_to(connection: Connection) -> int:
    """``segment_progress.last_id`` of predictions as this connection's snapshot sees it (0: nothing compacted)."""
    return progress(connection, PROGRESS_NAME)


def advance_progress(connection: Connection, name: str, done: int, upto: int, now: datetime) -> bool:
    """Compare-and-set progress ``name`` from ``done`` to ``upto``; False when another compactor moved it."""
    moved = connection.execute(
        update(segment_progress)
        .where(segment_progress.c.name == name, segment_progress.c.last_id == done)
        .values(last_id=upto, updated_at=now)
    )
    if moved.rowcount == 1:
        return True
    if done != 0:
        return False
    try:  # the first compaction ever: the progress row does not exist yet
        with connection.begin_nested():
            connection.execute(insert(segment_progress).values(name=name, last_id=upto, updated_at=now))
    except IntegrityError:
        return False
    return True


def waiting_since(connection: Connection, table: Table, after_id: int) -> datetime | None:
    """``ingested_at`` of the first row of ``table`` above ``after_id`` (None: no row waits)."""
    return cast(datetime | None, connection.execute(
        select(table.c.ingested_at).where(table.c.id > after_id).order_by(table.c.id).limit(1)
    ).scalar_one_or_none())


def batch_due(waiting: int, oldest: datetime | None, *, now: datetime, min_rows: int | None = None,
              max_wait: timedelta | None = None) -> bool:
    """Whether ``waiting`` rows, the oldest ingested at ``oldest``, make a batch worth compacting.

    ``min_rows`` and ``max_wait`` default to :data:`BATCH_ROWS` and :data:`BATCH_WAIT`.
    """
    min_rows = BATCH_ROWS if min_rows is None else min_rows
    max_wait = BATCH_WAIT if max_wait is None else max_wait
    if waiting <= 0:
        return False
    return waiting >= min_rows or (oldest is not None and now - oldest >= max_wait)


def compaction_due(engine: Engine, *, now: datetime, min_rows: int | None = None,
                   max_wait: timedelta | None = None) -> bool:
    """Whether :func:`compact_predictions` has a batch to do (see :data:`BATCH_ROWS`)."""
    with engine.connect() as connection:
        done = compacted_up_to(connection)
        high = high_id(connection, "predictions")
        if high <= done:
            return False
        return batch_due(high - done, waiting_since(connection, predictions, done), now=now, min_rows=min_rows,
                         max_wait=max_wait)


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
    (high,) = committed_high_ids(engine, "predictions")
    with engine.connect() as connection:
        done = compacted_up_to(connection)
    rows = segments = json_only = 0
    while done < high and rows < max_rows:
        upto = min(high, done + CHUNK_ROWS)
        with engine.connect() as connection, connection.begin():
            sql = prediction_rows_sql(engine.dialect.name, "p.id > {p} AND p.id <= {p}")
            groups = split_by_version(query_rows(connection, sql, (done, upto), ROW_TYPES), types)
        moment = now or datetime.now(UTC)
        with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
            if not advance_progress(connection, PROGRESS_NAME, done, upto, moment):
                log.info("another scheduler is compacting; leaving it to it", extra=fields(last_id=done))
                break
            for group in groups:
                connection.execute(insert(prediction_segments).values(
                    model=group.model, model_version=group.model_version, first_id=group.first_id,
                    last_id=group.last_id, row_count=group.row_count,
                    min_event_time=from_micros(group.min_event_us), max_event_time=from_micros(group.max_event_us),
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
