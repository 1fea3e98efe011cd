"""The ingest writer under concurrent writers: no deadlock, no lost or doubled row.

Two ingest workers (``--workers 2``) write at once, and their batches overlap when an
id is sent twice to two partitions or a rebalance replays a batch. These tests hold a
second, real transaction open against the writer's and check what PostgreSQL does:
the writer takes its keys in order (so a second writer in the same order never waits
on it), survives being picked as a deadlock victim, and reports a connection killed
mid-batch as 'unavailable, retry' rather than crashing the worker.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text

from monitor.errors import StoreUnavailableError
from monitor.ingest.decode import MessageDecoder
from monitor.ingest.records import LabelRecord, Origin, PredictionRecord
from monitor.store import dialect
from monitor.store.engine import create_store_engine
from monitor.store.ingest_writer import IngestWriter, WriteResult
from monitor.store.row_format import deserialise
from monitor.store.schema import upgrade_schema
from monitor.store.tables import labels, prediction_batches, predictions
from tests.monitor.ingest.test_decode_paths import messages

AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
INSERT_ONE = (
    "INSERT INTO predictions (model, model_version, prediction_id, event_time, features, prediction, status, "
    "kafka_topic, kafka_partition, kafka_offset, ingested_at) "
    "VALUES ('fraud', 'v1', %s, now(), '{}', '0', 'ok', 'other', 0, 0, now())"
)


def record(prediction_id: str, offset: int = 0) -> PredictionRecord:
    return PredictionRecord(
        model="fraud", model_version="v1", prediction_id=prediction_id, event_time=AT,
        features={"amount": float(offset), "country": "DE"}, prediction="1", prediction_numeric=1.0, score=0.7,
        probabilities=None, latency_ms=12.5, status="ok", error=None, extra=None,
        origin=Origin("predictions", 0, offset),
    )


def label(prediction_id: str, value: str, offset: int, minutes: int = 0) -> LabelRecord:
    return LabelRecord(model="fraud", prediction_id=prediction_id, label=value, label_numeric=float(value),
                       event_time=AT + timedelta(minutes=minutes), origin=Origin("labels", 0, offset))


def stored(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return dict(connection.execute(select(predictions.c.prediction_id, predictions.c.kafka_topic)).all())


class Background:
    """Runs one write on a thread and keeps its result or its exception."""

    def __init__(self, write: Callable[[], WriteResult]) -> None:
        self.result: WriteResult | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(write,), daemon=True)
        self._thread.start()

    def _run(self, write: Callable[[], WriteResult]) -> None:
        try:
            self.result = write()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def join(self, timeout: float = 60) -> WriteResult:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the write never returned"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


# -- both stores -------------------------------------------------------------------


def test_replays_and_in_batch_duplicates_store_each_id_once(engine):
    writer = IngestWriter(engine)
    first = writer.write([record("b", 1), record("a", 2), record("b", 3)], [], [], ingested_at=AT)
    assert (first.predictions_stored, first.predictions_duplicate) == (2, 1)
    again = writer.write([record("c", 4), record("a", 2)], [], [], ingested_at=AT)
    assert (again.predictions_stored, again.predictions_duplicate) == (1, 1)
    assert sorted(stored(engine)) == ["a", "b", "c"]


def test_the_newest_label_wins_whatever_the_order(engine):
    writer = IngestWriter(engine)
    writer.write([record("a")], [label("a", "1", 5, minutes=2), label("a", "0", 6, minutes=1)], [], ingested_at=AT)
    writer.write([], [label("a", "0", 7, minutes=0)], [], ingested_at=AT)
    with engine.connect() as connection:
        assert connection.execute(select(labels.c.label, labels.c.kafka_offset)).all() == [("1", 5)]


def batched_ids(engine: Engine) -> list[str]:
    """The prediction ids of every columnar batch, in batch order (a repeat would be a doubled row)."""
    with engine.connect() as connection:
        payloads = connection.execute(select(prediction_batches.c.data).order_by(prediction_batches.c.id)).scalars()
        return [pid for data in payloads for pid in deserialise(data).column("prediction_id").to_pylist()]


def test_the_columnar_copy_holds_exactly_the_rows_inserted_in_the_same_transaction(engine):
    """Every stored prediction is in exactly one batch, written with its row; a replay
    (in the batch or later) adds none, and a batch that fails leaves neither."""
    writer = IngestWriter(engine)
    writer.write([record("a"), record("b"), record("a", 9)], [], [], ingested_at=AT)
    assert batched_ids(engine) == ["a", "b"]
    writer.write([record("b", 3), record("c", 4)], [], [], ingested_at=AT)  # b replayed
    assert sorted(batched_ids(engine)) == ["a", "b", "c"] and sorted(stored(engine)) == ["a", "b", "c"]
    with engine.connect() as connection:
        first = deserialise(connection.execute(select(prediction_batches.c.data)).scalars().first())
    assert first.column("f:amount").to_pylist() == [0.0, 0.0]  # the first of a repeated id wins
    too_long = record("x" * 300)  # longer than the column allows on PostgreSQL; SQLite stores it
    try:
        writer.write([record("d"), too_long], [], [], ingested_at=AT)
    except Exception:  # noqa: BLE001 - the store refused the batch: nothing of it is kept
        assert sorted(batched_ids(engine)) == ["a", "b", "c"] and "d" not in stored(engine)
    else:
        assert sorted(batched_ids(engine)) == sorted(stored(engine))


def test_a_batch_prepared_before_a_replay_copies_only_the_rows_it_inserts(engine):
    """Ingestion prepares a batch (rows and columnar copy) before its write: when some of its
    ids are stored in between (a replay, another worker), the write skips them and the copy
    it stores holds only the new rows."""
    writer = IngestWriter(engine)
    prepared = writer.prepare([record("a", 1), record("b", 2), record("c", 3)], [label("a", "1", 4)], [],
                              ingested_at=AT)
    assert stored(engine) == {} and batched_ids(engine) == []  # preparing touches no store
    writer.write([record("b", 9)], [], [], ingested_at=AT)
    result = writer.write_prepared(prepared)
    assert result == WriteResult(predictions_stored=2, predictions_duplicate=1, labels_stored=1,
                                 dead_letters_stored=0)
    assert batched_ids(engine) == ["b", "a", "c"]
    with engine.connect() as connection:
        latest = deserialise(connection.execute(select(prediction_batches.c.data).order_by(
            prediction_batches.c.id.desc())).scalars().first())
    assert latest.column("f:amount").to_pylist() == [1.0, 3.0]


@pytest.mark.parametrize("limit", [("_JSON_ROWS", 2), ("_JSON_BYTES", 700)], ids=["rows", "bytes"])
def test_a_batch_written_in_several_statements_copies_every_row_it_inserts(engine, monkeypatch, limit):
    """A batch larger than one bulk statement (20,000 rows or 64 MB of JSON; 2 rows or 700 bytes
    here) with a replayed id in a later statement: every new row is stored and in the columnar
    copy, the replayed one in neither twice."""
    monkeypatch.setattr(dialect, *limit)
    writer = IngestWriter(engine)
    writer.write([record("d", 1)], [], [], ingested_at=AT)
    result = writer.write([record(name, offset) for offset, name in enumerate("abcdef")], [], [], ingested_at=AT)
    assert (result.predictions_stored, result.predictions_duplicate) == (5, 1)
    assert sorted(batched_ids(engine)) == ["a", "b", "c", "d", "e", "f"] and sorted(stored(engine)) == list("abcdef")


def test_two_writers_with_overlapping_batches_in_opposite_orders(engine):
    """The shape of the failure seen with two workers: the same ids, at once, in
    opposite orders. Every id ends up stored once and every write returns."""
    rounds, size = 12, 300
    results: list[WriteResult] = []
    for round_ in range(rounds):
        ids = [f"r{round_}-{i:04d}" for i in range(size)]
        forward = [record(i, n) for n, i in enumerate(ids)]
        backward = list(reversed(forward))
        writers = [Background(lambda batch=batch: IngestWriter(engine).write(batch, [], [], ingested_at=AT))
                   for batch in (forward, backward)]
        results.extend(writer.join() for writer in writers)
    assert sum(r.predictions_stored for r in results) == rounds * size
    assert sum(r.predictions_duplicate for r in results) == rounds * size
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(predictions)).scalar_one() == rounds * size


def numbers_as_floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: numbers_as_floats(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [numbers_as_floats(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(messages(), min_size=1, max_size=6))
def test_whatever_the_decoder_accepts_is_stored_exactly(engine, raw):
    """A batch sent as one JSON array (read by SQLite's json_extract, PostgreSQL's jsonb and each
    column's input function) keeps every accepted value as it was decoded: hostile text
    (backslashes, tabs, newlines), extreme numbers, nested JSON, any time zone."""
    decoder = MessageDecoder()
    accepted = {}
    for offset, message in enumerate(raw):
        item = decoder.decode(message, Origin("pred\\t\tions", 3, offset))
        if isinstance(item, PredictionRecord):
            accepted.setdefault((item.model, item.prediction_id), item)
    with engine.begin() as connection:
        connection.execute(predictions.delete())
    IngestWriter(engine).write(list(accepted.values()), [], [], ingested_at=AT)
    with engine.connect() as connection:
        rows = connection.execute(select(predictions)).mappings().all()
    assert len(rows) == len(accepted)
    for row in rows:
        item = accepted[(row["model"], row["prediction_id"])]
        assert row["model_version"] == item.model_version and row["prediction"] == item.prediction
        assert row["event_time"] == item.event_time and row["ingested_at"] == AT
        assert row["features"] == item.features
        # jsonb keeps numbers as decimals: 3.602879701896397e+16 comes back as the int
        # 36028797018963970, the same decimal number, so those compare as numbers.
        assert numbers_as_floats((row["probabilities"], row["extra"])) == numbers_as_floats(
            (item.probabilities, item.extra))
        assert (row["prediction_numeric"], row["score"], row["latency_ms"]) == (
            item.prediction_numeric, item.score, item.latency_ms)
        assert (row["status"], row["error"]) == (item.status, item.error)
        assert (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == (
            item.origin.topic, item.origin.partition, item.origin.offset)


# -- PostgreSQL: a second transaction held open against the writer's ---------------


# (Row-level lock waits are PostgreSQL's: SQLite lets one writer in at a time.)
pg = pytest.mark.postgres


@pytest.fixture
def pg_engine(postgres_server: Any) -> Iterator[Engine]:
    engine = create_store_engine(postgres_server.create_database(f"w_{uuid.uuid4().hex[:12]}"))
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def other(pg_engine: Engine) -> Iterator[psycopg.Connection[Any]]:
    """A second session on the same database, outside the writer's pool."""
    dsn = pg_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection:
        yield connection


def waiting_backend(connection: psycopg.Connection[Any], timeout: float = 30) -> int:
    """The pid of the session that waits on a row lock (the writer's), once it does."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(connection.info.dsn, password=connection.info.password, autocommit=True) as probe:
        while time.monotonic() < deadline:
            row = probe.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                "AND wait_event_type = 'Lock'").fetchone()
            if row is not None:
                return int(row[0])
            time.sleep(0.02)
    raise AssertionError("the writer never waited on the other transaction's row")


@pg
def test_keys_are_taken_in_order_so_a_second_ordered_writer_never_waits(pg_engine, other):
    other.execute(INSERT_ONE, ("m",))  # the other writer holds "m", uncommitted
    write = Background(lambda: IngestWriter(pg_engine).write([record("z"), record("a"), record("m")], [], [],
                                                             ingested_at=AT))
    waiting_backend(other)  # our writer has stored "a" and now waits on "m"
    # The other writer goes on in key order, past "m": our writer must not hold "z".
    other.execute("SET lock_timeout = '200ms'")  # below the 1 s deadlock check
    try:
        other.execute(INSERT_ONE, ("z",))
    except psycopg.errors.LockNotAvailable:
        pytest.fail("the writer held 'z' while waiting on 'm': it does not take its keys in order")
    other.commit()
    result = write.join()
    assert (result.predictions_stored, result.predictions_duplicate) == (1, 2)
    assert stored(pg_engine) == {"a": "predictions", "m": "other", "z": "other"}


@pg
def test_a_deadlock_victim_retries_its_batch(pg_engine, other):
    # The writer's session detects the deadlock (1 s); the other's would take a minute.
    other.execute("SET deadlock_timeout = '60s'")
    other.execute(INSERT_ONE, ("z",))
    write = Background(lambda: IngestWriter(pg_engine).write([record("a"), record("m"), record("z")], [], [],
                                                             ingested_at=AT))
    waiting_backend(other)  # our writer holds "a" and "m" and waits on "z"
    other.execute(INSERT_ONE, ("a",))  # a cycle: PostgreSQL rolls our writer back, this goes through
    other.commit()
    result = write.join()
    assert (result.predictions_stored, result.predictions_duplicate) == (1, 2)
    assert stored(pg_engine) == {"a": "other", "m": "predictions", "z": "other"}


@pg
def test_a_connection_killed_mid_batch_is_unavailable_then_the_batch_lands(pg_engine, other):
    other.execute(INSERT_ONE, ("m",))
    writer = IngestWriter(pg_engine)
    write = Background(lambda: writer.write([record("a"), record("m")], [], [], ingested_at=AT))
    pid = waiting_backend(other)
    with psycopg.connect(other.info.dsn, password=other.info.password, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StoreUnavailableError, match="will retry"):
        write.join()
    other.rollback()
    result = writer.write([record("a"), record("m")], [], [], ingested_at=AT)
    assert (result.predictions_stored, result.predictions_duplicate) == (2, 0)
    assert stored(pg_engine) == {"a": "predictions", "m": "predictions"}


@pg
def test_repeated_deadlocks_become_unavailable_for_the_consumer_to_pause_on(pg_engine, other):
    # The writer cannot retry forever: the same cycle is made five times (the other
    # session keeps "z" and gives "a" back each time); the fifth is reported, with why.
    other.execute("SET deadlock_timeout = '60s'")
    other.execute(INSERT_ONE, ("z",))
    write = Background(lambda: IngestWriter(pg_engine).write([record("a"), record("z")], [], [], ingested_at=AT))
    for _ in range(5):
        waiting_backend(other)  # the writer holds "a" and waits on "z"
        other.execute("SAVEPOINT cycle")
        other.execute(INSERT_ONE, ("a",))  # deadlock: PostgreSQL rolls the writer back
        other.execute("ROLLBACK TO SAVEPOINT cycle")
    with pytest.raises(StoreUnavailableError, match=r"rolled the batch back 5 times.*deadlock"):
        write.join()
    other.rollback()
    with pg_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM predictions")).scalar_one() == 0
