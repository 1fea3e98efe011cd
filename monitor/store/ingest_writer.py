"""Durable, idempotent batch writes of decoded messages.

One batch (predictions, labels, dead letters) is written in ONE transaction, so
the consumer can commit its Kafka offsets once :meth:`IngestWriter.write` returns:

- predictions: insert, ignore (model, prediction_id) already stored — a replayed
  message is a no-op;
- labels: upsert on (model, prediction_id); the newest event time wins, an equal
  time with a different label replaces it, a replay changes nothing; a label that
  replaces another takes a new id (:func:`next_label_id_sql`);
- dead letters: insert, ignore (topic, partition, offset) already stored.

PostgreSQL COPYs new predictions straight into the table (a batch with a replayed
id goes through a temporary table and INSERT … SELECT … ON CONFLICT instead);
SQLite uses executemany on the raw connection.
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

import msgspec
import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

from monitor.errors import StoreError, StoreUnavailableError
from monitor.ingest.records import DeadLetterRecord, LabelRecord, PredictionRecord
from monitor.logs import fields
from monitor.store.engine import redact_url
from monitor.store.tables import dead_letters

__all__ = ["IngestWriter", "WriteResult", "next_label_id_sql", "translate_db_error"]

log = logging.getLogger("driftwatch.ingest")

_PREDICTION_COLUMNS = (
    "model", "model_version", "prediction_id", "event_time", "features", "prediction", "prediction_numeric",
    "score", "probabilities", "latency_ms", "status", "error", "extra", "kafka_topic", "kafka_partition",
    "kafka_offset", "ingested_at",
)
_LABEL_COLUMNS = (
    "model", "prediction_id", "label", "label_numeric", "event_time", "kafka_topic", "kafka_partition",
    "kafka_offset", "ingested_at",
)
_PG_TEMP_TABLES = """
CREATE TEMP TABLE IF NOT EXISTS _dw_predictions (
    model varchar(64), model_version varchar(64), prediction_id varchar(128), event_time timestamptz,
    features json, prediction text, prediction_numeric double precision, score double precision,
    probabilities jsonb, latency_ms double precision, status varchar(8), error text, extra jsonb,
    kafka_topic varchar(255), kafka_partition integer, kafka_offset bigint, ingested_at timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS _dw_labels (
    model varchar(64), prediction_id varchar(128), label text, label_numeric double precision,
    event_time timestamptz, kafka_topic varchar(255), kafka_partition integer, kafka_offset bigint,
    ingested_at timestamptz
) ON COMMIT DELETE ROWS;
"""
_P_COLS = ", ".join(_PREDICTION_COLUMNS)
_L_COLS = ", ".join(_LABEL_COLUMNS)
_LABEL_UPDATE = (
    "label = excluded.label, label_numeric = excluded.label_numeric, event_time = excluded.event_time, "
    "kafka_topic = excluded.kafka_topic, kafka_partition = excluded.kafka_partition, "
    "kafka_offset = excluded.kafka_offset, ingested_at = excluded.ingested_at, id = {next_id} "
    "WHERE excluded.event_time > labels.event_time "
    "OR (excluded.event_time = labels.event_time AND excluded.label <> labels.label)"
)


def next_label_id_sql(dialect: str) -> str:
    """SQL for the id of a label that replaces another: after every id handed out so far.

    So label ids follow the order in which labels were stored, as prediction ids do;
    label compaction relies on it (see :mod:`monitor.store.label_segments`).
    """
    if dialect == "postgresql":
        return "nextval(pg_get_serial_sequence('labels', 'id'))"
    # One writer at a time: the highest id is the last one handed out (new rowids count on from it).
    return "(SELECT max(id) FROM labels) + 1"


_PG_LABEL_UPDATE = _LABEL_UPDATE.format(next_id=next_label_id_sql("postgresql"))
_SQLITE_LABEL_UPDATE = _LABEL_UPDATE.format(next_id=next_label_id_sql("sqlite"))
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
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


class _Conflict(Exception):
    """PostgreSQL rolled the batch back for a concurrent writer; its cause says why."""


class IngestWriter:
    """Writes batches for the consumer; see the module docstring for semantics."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def write(
        self,
        predictions: Sequence[PredictionRecord],
        labels: Sequence[LabelRecord],
        letters: Sequence[DeadLetterRecord],
        *,
        ingested_at: datetime,
    ) -> WriteResult:
        """Write everything in one transaction or nothing; raise StoreError subclasses.

        On PostgreSQL, rows are written in key order, so two writers whose batches
        overlap (replays, duplicates on two partitions, a rebalance) wait for each
        other in one direction only and cannot deadlock. A transaction PostgreSQL rolls
        back anyway (deadlock, serialization failure) is retried here; only if that
        keeps happening is it reported as 'unavailable' for the consumer to pause on.
        """
        unique_labels = _latest_labels(labels)
        if self._postgres:
            predictions = sorted(predictions, key=_row_key)
            unique_labels.sort(key=_row_key)
            letters = sorted(letters, key=_letter_key)
        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            try:
                return self._write_once(predictions, unique_labels, letters, ingested_at)
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

    def _write_once(self, predictions: Sequence[PredictionRecord], labels: Sequence[LabelRecord],
                    letters: Sequence[DeadLetterRecord], at: datetime) -> WriteResult:
        try:
            with self.engine.begin() as connection:
                if self._postgres:
                    stored = self._pg_predictions(connection, predictions, at)
                    labelled = self._pg_labels(connection, labels, at)
                else:
                    stored = self._sqlite_predictions(connection, predictions, at)
                    labelled = self._sqlite_labels(connection, labels, at)
                dead = self._dead_letters(connection, letters, at)
        except (DBAPIError, DisconnectionError, psycopg.Error, sqlite3.Error) as exc:
            # COPY and executemany run on the driver's own cursor, so their errors
            # arrive unwrapped by SQLAlchemy; both kinds are judged the same way.
            cause = getattr(exc, "orig", None) or exc
            if isinstance(cause, _TRANSIENT_CONFLICTS):
                raise _Conflict from cause
            raise translate_db_error(exc, self.engine) from exc
        return WriteResult(stored, len(predictions) - stored, labelled, dead)

    # -- PostgreSQL --------------------------------------------------------------

    @staticmethod
    def _pg_cursor(connection: Connection, *, temp_tables: bool = False) -> Any:
        """The driver's cursor; with ``temp_tables``, the session's staging tables exist.

        (Created IF NOT EXISTS in the batch's own transaction, not remembered: a rolled
        back batch takes its CREATE with it.)"""
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if temp_tables:
            cursor.execute(_PG_TEMP_TABLES)
        return cursor

    def _pg_predictions(self, connection: Connection, rows: Sequence[PredictionRecord], at: datetime) -> int:
        if not rows:
            return 0
        # Almost every batch is new predictions: COPY them straight into the table. A
        # replayed or duplicated id makes the COPY fail on the unique key; then (and only
        # then) the batch goes through a temporary table and INSERT … ON CONFLICT.
        # (An explicit savepoint: psycopg's transaction() would COMMIT the batch's
        # transaction if this were its first statement.)
        cursor = self._pg_cursor(connection)
        cursor.execute("SAVEPOINT dw_direct")
        try:
            _copy_predictions(cursor, "predictions", rows, at)
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT dw_direct")
        else:
            cursor.execute("RELEASE SAVEPOINT dw_direct")
            return len(rows)
        cursor = self._pg_cursor(connection, temp_tables=True)
        _copy_predictions(cursor, "_dw_predictions", rows, at)
        cursor.execute(
            f"INSERT INTO predictions ({_P_COLS}) SELECT {_P_COLS} FROM _dw_predictions "
            "ORDER BY model, prediction_id ON CONFLICT (model, prediction_id) DO NOTHING"
        )
        return int(cursor.rowcount)

    def _pg_labels(self, connection: Connection, rows: Sequence[LabelRecord], at: datetime) -> int:
        if not rows:
            return 0
        cursor = self._pg_cursor(connection, temp_tables=True)
        with cursor.copy(f"COPY _dw_labels ({_L_COLS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(_label_values(row, at))
        cursor.execute(
            f"INSERT INTO labels ({_L_COLS}) SELECT {_L_COLS} FROM _dw_labels ORDER BY model, prediction_id "
            f"ON CONFLICT (model, prediction_id) DO UPDATE SET {_PG_LABEL_UPDATE}"
        )
        return int(cursor.rowcount)

    # -- SQLite --------------------------------------------------------------------

    def _sqlite_predictions(self, connection: Connection, rows: Sequence[PredictionRecord], at: datetime) -> int:
        if not rows:
            return 0
        stamp = at.strftime(_SQLITE_TIME)
        values = [_prediction_values(row, stamp, sqlite=True) for row in rows]
        placeholders = ", ".join("?" for _ in _PREDICTION_COLUMNS)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        before = connection.connection.driver_connection.total_changes  # type: ignore[union-attr]
        cursor.executemany(
            f"INSERT INTO predictions ({_P_COLS}) VALUES ({placeholders}) "
            "ON CONFLICT (model, prediction_id) DO NOTHING",
            values,
        )
        return int(connection.connection.driver_connection.total_changes - before)  # type: ignore[union-attr]

    def _sqlite_labels(self, connection: Connection, rows: Sequence[LabelRecord], at: datetime) -> int:
        if not rows:
            return 0
        stamp = at.strftime(_SQLITE_TIME)
        values = [_label_values(row, stamp, sqlite=True) for row in rows]
        placeholders = ", ".join("?" for _ in _LABEL_COLUMNS)
        driver = connection.connection.driver_connection
        before = driver.total_changes  # type: ignore[union-attr]
        driver.cursor().executemany(  # type: ignore[union-attr]
            f"INSERT INTO labels ({_L_COLS}) VALUES ({placeholders}) "
            f"ON CONFLICT (model, prediction_id) DO UPDATE SET {_SQLITE_LABEL_UPDATE}",
            values,
        )
        return int(driver.total_changes - before)  # type: ignore[union-attr]

    # -- both ------------------------------------------------------------------------

    def _dead_letters(self, connection: Connection, rows: Sequence[DeadLetterRecord], at: datetime) -> int:
        if not rows:
            return 0
        insert = pg_insert if self._postgres else sqlite_insert
        # RETURNING counts the rows inserted: an executemany's rowcount is not that on PostgreSQL (psycopg).
        statement = insert(dead_letters).on_conflict_do_nothing(
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


def _copy_predictions(cursor: Any, table: str, rows: Sequence[PredictionRecord], at: datetime) -> None:
    with cursor.copy(f"COPY {table} ({_P_COLS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(_prediction_values(row, at))


def _time(value: datetime, sqlite: bool) -> Any:
    return value.strftime(_SQLITE_TIME) if sqlite else value


_encode_json = msgspec.json.Encoder().encode


def _json(value: Any) -> str:
    return _encode_json(value).decode("utf-8")


def _prediction_values(row: PredictionRecord, at: Any, *, sqlite: bool = False) -> tuple[Any, ...]:
    return (
        row.model, row.model_version, row.prediction_id, _time(row.event_time, sqlite), _json(row.features),
        row.prediction, row.prediction_numeric, row.score,
        None if row.probabilities is None else _json(row.probabilities),
        row.latency_ms, row.status, row.error,
        None if row.extra is None else _json(row.extra),
        row.origin.topic, row.origin.partition, row.origin.offset, at,
    )


def _label_values(row: LabelRecord, at: Any, *, sqlite: bool = False) -> tuple[Any, ...]:
    return (
        row.model, row.prediction_id, row.label, row.label_numeric, _time(row.event_time, sqlite),
        row.origin.topic, row.origin.partition, row.origin.offset, at,
    )
