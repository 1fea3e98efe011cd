"""Durable, idempotent batch writes of decoded messages.

One batch (predictions, labels, dead letters) is written in ONE transaction, so
the consumer can commit its Kafka offsets once :meth:`IngestWriter.write` returns.
``write`` is :meth:`IngestWriter.prepare` (rows and columnar copies built in Python,
no store touched) then :meth:`IngestWriter.write_prepared` (the transaction): the
consumer prepares the next batch while the last one is written.

- predictions: insert, ignore (model, prediction_id) already stored — a replayed
  message is a no-op;
  the columnar copy of the predictions inserted is written in the same transaction
  (:mod:`monitor.store.batches`);
- labels: upsert on (model, prediction_id); the newest event time wins, an equal
  time with a different label replaces it, a replay changes nothing;
- dead letters: insert, ignore (topic, partition, offset) already stored.

How rows reach each backend (one JSON array per batch, read by the database) is
:mod:`monitor.store.dialect`'s business.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

from monitor.errors import StoreError, StoreUnavailableError
from monitor.ingest.records import DeadLetterRecord, LabelRecord, PredictionRecord
from monitor.logs import fields
from monitor.store.batches import PreparedPredictions, prepare_predictions, store_prepared
from monitor.store.dialect import StoreDialect, dialect_of
from monitor.store.engine import redact_url
from monitor.store.tables import dead_letters

__all__ = ["IngestWriter", "PreparedBatch", "WriteResult", "translate_db_error"]

log = logging.getLogger("driftwatch.ingest")

_LABEL_COLUMNS = (
    "model", "prediction_id", "label", "label_numeric", "event_time", "kafka_topic", "kafka_partition",
    "kafka_offset", "ingested_at",
)
_LABEL_UPDATE = (
    "label = excluded.label, label_numeric = excluded.label_numeric, event_time = excluded.event_time, "
    "kafka_topic = excluded.kafka_topic, kafka_partition = excluded.kafka_partition, "
    "kafka_offset = excluded.kafka_offset, ingested_at = excluded.ingested_at "
    "WHERE excluded.event_time > labels.event_time "
    "OR (excluded.event_time = labels.event_time AND excluded.label <> labels.label)"
)
# Raised by SQLAlchemy or, from the driver's own cursor, by the driver itself.
_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, psycopg.OperationalError,
                psycopg.InterfaceError, sqlite3.OperationalError, sqlite3.InterfaceError)
# PostgreSQL rolled the transaction back and says to run it again (class 40).
_TRANSIENT_CONFLICTS = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
_CONFLICT_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class WriteResult:
    predictions_stored: int
    predictions_duplicate: int
    labels_stored: int
    dead_letters_stored: int


def translate_db_error(exc: BaseException, engine: Engine) -> StoreError:
    """Map a driver error to 'retry later' (unavailable) or 'this batch is bad'."""
    where = redact_url(str(engine.url))
    unavailable = isinstance(exc, _UNAVAILABLE) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
    detail = getattr(exc, "orig", None) or exc
    if unavailable:
        return StoreUnavailableError(f"store {where} is unavailable ({str(detail).strip()[:300]}); will retry")
    return StoreError(f"store {where} rejected the batch: {str(detail).strip()[:500]}")


def _latest_labels(labels: Sequence[LabelRecord]) -> list[LabelRecord]:
    """One label per (model, prediction_id): newest event time, then latest offset."""
    latest: dict[tuple[str, str], LabelRecord] = {}
    for label in labels:
        key = (label.model, label.prediction_id)
        current = latest.get(key)
        if current is None or (label.event_time, label.origin.offset) >= (current.event_time, current.origin.offset):
            latest[key] = label
    return list(latest.values())


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """One batch built by :meth:`IngestWriter.prepare`, ready for :meth:`IngestWriter.write_prepared`."""

    predictions: PreparedPredictions
    predictions_received: int
    """Predictions in the batch, a repeated id counted each time (the rest are reported as duplicates)."""
    labels: list[tuple[Any, ...]]
    letters: list[DeadLetterRecord]

    @property
    def ingested_at(self) -> datetime:
        return self.predictions.ingested_at


class _Conflict(Exception):
    """PostgreSQL rolled the batch back for a concurrent writer; its cause says why."""


class IngestWriter:
    """Writes batches for the consumer; see the module docstring for semantics."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = dialect_of(engine)

    def write(
        self,
        predictions: Sequence[PredictionRecord],
        labels: Sequence[LabelRecord],
        letters: Sequence[DeadLetterRecord],
        *,
        ingested_at: datetime,
    ) -> WriteResult:
        """Write everything in one transaction or nothing; raise StoreError subclasses."""
        return self.write_prepared(self.prepare(predictions, labels, letters, ingested_at=ingested_at))

    def prepare(
        self,
        predictions: Sequence[PredictionRecord],
        labels: Sequence[LabelRecord],
        letters: Sequence[DeadLetterRecord],
        *,
        ingested_at: datetime,
    ) -> PreparedBatch:
        """The batch's rows and columnar copies, built without touching the store (see :meth:`write_prepared`)."""
        unique_labels = _latest_labels(labels)
        unique_labels.sort(key=_row_key)
        return PreparedBatch(
            prepare_predictions(sorted(predictions, key=_row_key), ingested_at=ingested_at, dialect=self._dialect),
            len(predictions), _label_values(unique_labels, ingested_at, self._dialect),
            sorted(letters, key=_letter_key))

    def write_prepared(self, batch: PreparedBatch) -> WriteResult:
        """Write a prepared batch in one transaction or nothing; raise StoreError subclasses.

        On PostgreSQL, rows are written in key order, so two writers whose batches
        overlap (replays, duplicates on two partitions, a rebalance) wait for each
        other in one direction only and cannot deadlock. A transaction PostgreSQL rolls
        back anyway (deadlock, serialization failure) is retried here; only if that
        keeps happening is it reported as 'unavailable' for the consumer to pause on.
        """
        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            try:
                return self._write_once(batch)
            except _Conflict as conflict:
                exc = conflict.__cause__
                if attempt == _CONFLICT_ATTEMPTS:
                    raise StoreUnavailableError(
                        f"store {redact_url(str(self.engine.url))} rolled the batch back {attempt} times "
                        f"({str(exc).strip().splitlines()[0][:200]}); will retry"
                    ) from exc
                log.warning("store rolled the batch back (concurrent writer); retrying",
                            extra=fields(error=type(exc).__name__, attempt=attempt))
                time.sleep(random.uniform(0.05, 0.2) * attempt)
        raise AssertionError("unreachable")

    def _write_once(self, batch: PreparedBatch) -> WriteResult:
        try:
            with self._dialect.immediate(self.engine) as connection, connection.begin():
                stored = store_prepared(connection, batch.predictions)
                labelled = self._dialect.upsert_rows(connection, "labels", _LABEL_COLUMNS, batch.labels,
                                                     key=("model", "prediction_id"), update=_LABEL_UPDATE)
                dead = self._dead_letters(connection, batch.letters, batch.ingested_at)
        except (DBAPIError, DisconnectionError, psycopg.Error, sqlite3.Error) as exc:
            # The bulk inserts run on the driver's own cursor, so their errors
            # arrive unwrapped by SQLAlchemy; both kinds are judged the same way.
            cause = getattr(exc, "orig", None) or exc
            if isinstance(cause, _TRANSIENT_CONFLICTS):
                raise _Conflict from cause
            raise translate_db_error(exc, self.engine) from exc
        return WriteResult(stored, batch.predictions_received - stored, labelled, dead)

    def _dead_letters(self, connection: Connection, rows: Sequence[DeadLetterRecord], at: datetime) -> int:
        if not rows:
            return 0
        # RETURNING counts the rows inserted: an executemany's rowcount is not that on PostgreSQL (psycopg).
        statement = self._dialect.upsert(dead_letters).on_conflict_do_nothing(
            index_elements=["topic", "partition", "offset"]).returning(dead_letters.c.id)
        result = connection.execute(
            statement,
            [
                {
                    "topic": row.origin.topic,
                    "partition": row.origin.partition,
                    "offset": row.origin.offset,
                    "model": row.model,
                    "raw": row.raw,
                    "raw_size": row.raw_size,
                    "reason": row.reason,
                    "received_at": at,
                }
                for row in rows
            ],
        )
        return len(result.all())


def _row_key(row: PredictionRecord | LabelRecord) -> tuple[str, str]:
    return row.model, row.prediction_id


def _letter_key(row: DeadLetterRecord) -> tuple[str, int, int]:
    return row.origin.topic, row.origin.partition, row.origin.offset


def _label_values(rows: Sequence[LabelRecord], at: datetime, dialect: StoreDialect) -> list[tuple[Any, ...]]:
    if not rows:
        return []
    stamp = dialect.time_param(at)
    events = dialect.time_params([row.event_time for row in rows])
    return [
        (row.model, row.prediction_id, row.label, row.label_numeric, event,
         row.origin.topic, row.origin.partition, row.origin.offset, stamp)
        for row, event in zip(rows, events, strict=True)
    ]
