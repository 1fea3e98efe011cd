"""Stored predictions and their columnar copies, written together and merged later.

Why this design: a window of a million predictions holds a million feature JSON
objects, and parsing them is most of the cost of computing it. So every batch of
predictions the store accepts (:func:`store_predictions`; the ingest writer builds
both forms first, :func:`prepare_predictions`, then writes them, :func:`store_prepared`)
is written twice *in one transaction*: its rows into ``predictions`` (the
source of truth, for SQL users) and, per (model, version) in the batch, an Arrow
table of exactly the rows inserted (a replayed prediction id inserts nothing) into
``prediction_batches`` (:mod:`monitor.store.row_format`), with its event-time range
and newest ``ingested_at``. A reader in any snapshot therefore sees every committed
prediction in exactly one batch: there is no compaction lag, no uncompacted tail,
no id ordering to lock for, and no second way to read a window.

Ingestion writes many small batches; :func:`merge_batches` (run by the scheduler
each tick) combines consecutive small batches of a (model, version) into one of
about :data:`MERGE_ROWS` rows in one transaction (insert the merged one, delete its
parts; a part another merger already took makes the transaction roll back), so a
window reads a few large blobs. A reader's snapshot sees the parts or the merge,
never both.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, delete, insert, select

from monitor.ingest.records import PredictionRecord
from monitor.logs import fields
from monitor.store.dialect import StoreDialect, dialect_of
from monitor.store.row_format import combine, deserialise, newest, rows_table, serialise
from monitor.store.tables import prediction_batches

__all__ = ["MERGE_ROWS", "MERGE_WAIT", "MergeReport", "PreparedPredictions", "merge_batches", "prepare_predictions",
           "store_predictions", "store_prepared"]

log = logging.getLogger("driftwatch.batches")

MERGE_ROWS: Final = 100_000
"""A batch smaller than this is merged with the next ones of its (model, version)."""
MERGE_WAIT: Final = timedelta(minutes=10)
"""Small batches are merged once this old, even when they do not add up to :data:`MERGE_ROWS`."""

_COLUMNS: Final = (
    "model", "model_version", "prediction_id", "event_time", "features", "prediction", "prediction_numeric",
    "score", "probabilities", "latency_ms", "status", "error", "extra", "kafka_topic", "kafka_partition",
    "kafka_offset", "ingested_at",
)
_encode_json = msgspec.json.Encoder().encode


def _json(value: Any) -> str | None:
    return None if value is None else _encode_json(value).decode("utf-8")


@dataclass(frozen=True, slots=True)
class PreparedPredictions:
    """A batch of predictions made ready to store: every row and columnar copy built, no store touched.

    Made apart from the write (:func:`prepare_predictions`) so that ingestion builds the
    next batch while the store writes this one (:mod:`monitor.ingest.consumer`).
    """

    rows: list[PredictionRecord]
    """Unique by (model, prediction_id); the first of a repeated one wins."""
    values: list[tuple[Any, ...]]
    """The ``predictions`` table's rows, in ``rows``' order."""
    copies: list[dict[str, Any]]
    """``prediction_batches`` rows: the columnar copy of all ``rows``, one per (model, version)."""
    ingested_at: datetime


def prepare_predictions(rows: Sequence[PredictionRecord], *, ingested_at: datetime,
                        dialect: StoreDialect) -> PreparedPredictions:
    """``rows`` as :func:`store_prepared` writes them into a store of ``dialect``."""
    unique = list({(row.model, row.prediction_id): row for row in reversed(rows)}.values())[::-1]
    at = dialect.time_param(ingested_at)
    events = dialect.time_params([row.event_time for row in unique])
    values = [
        (row.model, row.model_version, row.prediction_id, event, _json(row.features),
         row.prediction, row.prediction_numeric, row.score, _json(row.probabilities), row.latency_ms, row.status,
         row.error, _json(row.extra), row.origin.topic, row.origin.partition, row.origin.offset, at)
        for row, event in zip(unique, events, strict=True)
    ]
    return PreparedPredictions(unique, values, _copies(unique, ingested_at), ingested_at)


def store_prepared(connection: Connection, prepared: PreparedPredictions) -> int:
    """Insert the prepared rows (a prediction id already stored is skipped) and the columnar copy of
    the ones inserted, in the caller's transaction. Returns how many were inserted."""
    if not prepared.rows:
        return 0
    inserted = dialect_of(connection).insert_rows(connection, "predictions", _COLUMNS, prepared.values,
                                                  skip_existing=("model", "prediction_id"))
    copies = prepared.copies
    if len(inserted) < len(prepared.rows):  # a replay: copy only what is new
        copies = _copies([prepared.rows[index] for index in inserted], prepared.ingested_at)
    for copy in copies:
        connection.execute(insert(prediction_batches).values(**copy))
    return len(inserted)


def store_predictions(connection: Connection, rows: Sequence[PredictionRecord], *, ingested_at: datetime) -> int:
    """Insert ``rows`` (a prediction id already stored is skipped; the first of a repeated one wins)
    and the columnar copy of the ones inserted, in the caller's transaction. Returns how many were."""
    return store_prepared(connection, prepare_predictions(rows, ingested_at=ingested_at,
                                                          dialect=dialect_of(connection)))


def _copies(rows: Sequence[PredictionRecord], ingested_at: datetime) -> list[dict[str, Any]]:
    """The ``prediction_batches`` rows holding the columnar copies of ``rows``, one per (model, version)."""
    groups: dict[tuple[str, str], list[PredictionRecord]] = {}
    for row in rows:
        groups.setdefault((row.model, row.model_version), []).append(row)
    copies = []
    for (model, version), group in groups.items():
        events = [row.event_time for row in group]
        copies.append({
            "model": model, "model_version": version, "row_count": len(group), "min_event_time": min(events),
            "max_event_time": max(events), "max_ingested_at": ingested_at,
            "data": serialise(rows_table(group, ingested_at=ingested_at)), "created_at": ingested_at,
        })
    return copies


@dataclass(frozen=True, slots=True)
class MergeReport:
    """What one :func:`merge_batches` call did."""

    merged: int
    into: int
    rows: int


def _groups(candidates: Sequence[Any], now: datetime, target_rows: int, wait: timedelta) -> list[list[Any]]:
    """Runs of consecutive small batches of one (model, version) worth merging."""
    groups: list[list[Any]] = []
    run: list[Any] = []
    rows = 0

    def close() -> None:
        if len(run) > 1 and (rows >= target_rows or now - max(part.created_at for part in run) >= wait):
            groups.append(list(run))

    for part in candidates:
        if run and (part.model, part.model_version) != (run[0].model, run[0].model_version):
            close()
            run, rows = [], 0
        run.append(part)
        rows += part.row_count
        if rows >= target_rows:
            close()
            run, rows = [], 0
    close()
    return groups


def merge_batches(engine: Engine, *, now: datetime | None = None, target_rows: int = MERGE_ROWS,
                  wait: timedelta = MERGE_WAIT) -> MergeReport:
    """Merge small batches (see the module docstring); each merge is one transaction."""
    moment = now or datetime.now(UTC)
    dialect = dialect_of(engine)
    with engine.connect() as connection:
        candidates = list(connection.execute(
            select(prediction_batches.c.id, prediction_batches.c.model, prediction_batches.c.model_version,
                   prediction_batches.c.row_count, prediction_batches.c.created_at)
            .where(prediction_batches.c.row_count < target_rows)
            .order_by(prediction_batches.c.model, prediction_batches.c.model_version,
                      prediction_batches.c.min_event_time, prediction_batches.c.id)
        ))
    merged = into = rows = 0
    for group in _groups(candidates, moment, target_rows, wait):
        ids = [part.id for part in group]
        with dialect.immediate(engine) as connection, connection.begin() as transaction:
            marks = ", ".join("{p}" for _ in ids)
            parts = [deserialise(data) for data in
                     dialect.blobs(connection, "prediction_batches", "data", f"id IN ({marks})", ids)]
            gone = connection.execute(delete(prediction_batches).where(prediction_batches.c.id.in_(ids)))
            if len(parts) != len(ids) or gone.rowcount != len(ids):
                transaction.rollback()  # another scheduler merged some of them
                continue
            table = combine(parts)
            events = table.column("event_time")
            connection.execute(insert(prediction_batches).values(
                model=group[0].model, model_version=group[0].model_version, row_count=table.num_rows,
                min_event_time=pc.min(events).as_py(), max_event_time=pc.max(events).as_py(),
                max_ingested_at=newest([table.column("ingested_at")]), data=serialise(table), created_at=moment,
            ))
        merged += len(ids)
        into += 1
        rows += table.num_rows
    if merged:
        log.info("prediction batches merged", extra=fields(merged=merged, into=into, rows=rows))
    return MergeReport(merged=merged, into=into, rows=rows)
