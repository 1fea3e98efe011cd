"""Label segments: the same labels as the SQL join, every pair once, safe beside writers."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
from sqlalchemy import select

from monitor.jobs.scheduler import WindowScheduler
from monitor.store import label_segments, segments
from monitor.store.arrow_rows import deserialise_table
from monitor.store.label_segments import compact_labels, read_window_labels
from monitor.store.segments import compact_predictions
from monitor.store.stored_rows import bind_time
from monitor.store.tables import label_segments as label_segments_table
from tests.monitor.jobs.store_data import (
    DAY,
    FRAUD_MODEL,
    HOUR,
    Prediction,
    config,
    insert_predictions,
    upsert_labels,
)
from tests.monitor.store.conftest import assert_waits_for_open_insert, at_once
from tests.monitor.store.test_segments import TYPES, json_window, rows_of, traffic, window


def compact(engine, **kwargs) -> None:
    compact_predictions(engine, feature_types={"fraud": TYPES}, **kwargs)
    compact_labels(engine, **kwargs)


def labels_from_segments(engine, start=DAY, end=DAY + 2 * HOUR) -> bool:
    """Whether the window's labels come from label segments (not from the SQL join)."""
    with engine.connect() as connection:
        window_ = ("fraud", "v1", bind_time(connection, start), bind_time(connection, end))
        return read_window_labels(connection, window_, 0, 2**62) is not None


def stored_pairs(engine) -> list[tuple[int, int]]:
    """Every (prediction row id, label id) pair in any label segment."""
    with engine.connect() as connection:
        payloads = connection.execute(select(label_segments_table.c.data)).scalars().all()
    tables = [deserialise_table(bytes(data)) for data in payloads]
    if not tables:
        return []
    pairs = pa.concat_tables(tables)
    return list(zip(pairs.column("id").to_pylist(), pairs.column("label_id").to_pylist(), strict=True))


def current_pairs(engine) -> set[tuple[int, int]]:
    with engine.connect() as connection:
        return set(connection.exec_driver_sql(
            "SELECT p.id, l.id FROM predictions p JOIN labels l "
            "ON l.model = p.model AND l.prediction_id = p.prediction_id").all())


def assert_same_as_json(engine, windows=((DAY, DAY + HOUR), (DAY + HOUR, DAY + 2 * HOUR), (DAY, DAY + 2 * HOUR))):
    assert labels_from_segments(engine)
    for start, end in windows:
        fast, slow = window(engine, start, end), json_window(engine, start=start, end=end)
        assert len(fast.rows) > 50
        assert rows_of(fast) == rows_of(slow)
        assert fast.watermark == slow.watermark


def test_label_segments_give_the_joined_labels_in_every_order_of_arrival(engine, monkeypatch):
    monkeypatch.setattr(segments, "CHUNK_ROWS", 70)
    monkeypatch.setattr(label_segments, "CHUNK_ROWS", 70)
    # Labels stored with their predictions, before any compaction.
    insert_predictions(engine, traffic(400, seed=21), ingested_at=DAY + 2 * HOUR)
    upsert_labels(engine, {f"p{i}": i % 2 for i in range(0, 400, 3)}, ingested_at=DAY + 2 * HOUR)
    # Labels stored before their predictions exist.
    upsert_labels(engine, {f"e{i}": 1 for i in range(0, 60, 2)}, ingested_at=DAY + 3 * HOUR)
    compact(engine)
    assert_same_as_json(engine)

    # The predictions of those early labels arrive (the pair is made from the prediction's side).
    insert_predictions(engine, traffic(60, seed=22, prefix="e"), ingested_at=DAY + 4 * HOUR)
    # Late labels, and labels replaced after they were compacted.
    upsert_labels(engine, {f"p{i}": 1 for i in range(1, 400, 5)}, ingested_at=DAY + 4 * HOUR)
    upsert_labels(engine, {f"p{i}": 1 - i % 2 for i in range(0, 400, 9)}, ingested_at=DAY + 5 * HOUR)
    assert_same_as_json(engine)  # all of it from the uncompacted pairs
    compact(engine)
    assert_same_as_json(engine)

    # Replaced again and not compacted: the old label sits in a segment, the new one in SQL.
    upsert_labels(engine, {f"p{i}": 7 for i in range(0, 400, 18)}, ingested_at=DAY + 6 * HOUR)
    insert_predictions(engine, traffic(40, seed=23, prefix="t"), ingested_at=DAY + 6 * HOUR)
    upsert_labels(engine, {f"t{i}": 0 for i in range(40)}, ingested_at=DAY + 6 * HOUR)
    assert_same_as_json(engine)
    loaded = window(engine, end=DAY + 2 * HOUR).rows.outputs
    assert set(loaded["label"].dropna()) == {"0", "1", "7"}
    compact(engine)
    assert_same_as_json(engine)


def test_each_pair_is_copied_once(engine, monkeypatch):
    monkeypatch.setattr(label_segments, "CHUNK_ROWS", 30)
    insert_predictions(engine, traffic(200, seed=24), ingested_at=DAY)
    upsert_labels(engine, {f"p{i}": i % 2 for i in range(0, 200, 2)}, ingested_at=DAY)
    compact(engine, max_rows=40)  # stops early; the rest next time
    upsert_labels(engine, {f"p{i}": 1 for i in range(0, 200, 4)}, ingested_at=DAY + HOUR)
    upsert_labels(engine, {f"x{i}": 1 for i in range(20)}, ingested_at=DAY + HOUR)
    insert_predictions(engine, traffic(20, seed=25, prefix="x"), ingested_at=DAY + HOUR)
    compact(engine)
    assert compact_labels(engine).pairs == 0
    pairs = stored_pairs(engine)
    assert len(pairs) == len(set(pairs))
    # Replaced labels stay in their segments; the newest pair of each prediction is the current one.
    newest: dict[int, int] = {}
    for prediction, label in pairs:
        newest[prediction] = max(label, newest.get(prediction, 0))
    assert set(newest.items()) == current_pairs(engine)
    # 60 labels copied by the first call; of the 40 left, 20 were replaced before being
    # copied (only their new label is); 50 replacing labels; 20 labels stored before their predictions.
    assert len(pairs) == 60 + 20 + 50 + 20


def test_two_label_compactors_at_once_copy_each_pair_once(engine, monkeypatch):
    monkeypatch.setattr(label_segments, "CHUNK_ROWS", 20)
    insert_predictions(engine, traffic(300, seed=26), ingested_at=DAY)
    compact_predictions(engine, feature_types={"fraud": TYPES})
    compact_labels(engine)
    upsert_labels(engine, {f"p{i}": i % 2 for i in range(300)}, ingested_at=DAY + HOUR)
    errors = at_once(lambda: compact_labels(engine), times=3)
    compact_labels(engine)  # whatever a loser left is finished here
    assert not errors
    pairs = stored_pairs(engine)
    assert len(pairs) == len(set(pairs)) == 300
    assert set(pairs) == current_pairs(engine)
    assert_same_as_json(engine)


def test_far_behind_label_compaction_joins_in_sql(engine, monkeypatch):
    insert_predictions(engine, traffic(200, seed=27), ingested_at=DAY)
    upsert_labels(engine, {f"p{i}": 1 for i in range(0, 200, 2)}, ingested_at=DAY)
    compact(engine)
    assert labels_from_segments(engine)
    upsert_labels(engine, {f"p{i}": 0 for i in range(1, 200, 2)}, ingested_at=DAY + HOUR)
    monkeypatch.setattr(label_segments, "LABEL_TAIL_LIMIT", 50)
    assert not labels_from_segments(engine)
    fast, slow = window(engine, end=DAY + 2 * HOUR), json_window(engine, end=DAY + 2 * HOUR)
    assert rows_of(fast) == rows_of(slow)


def test_a_label_committed_after_a_higher_id_is_not_lost(pg_engine):
    """As for predictions: a label id is handed out at insert, so label compaction waits for open inserts."""
    engine = pg_engine
    insert_predictions(engine, traffic(5, seed=28), ingested_at=DAY)
    insert_predictions(engine, [Prediction("late", DAY + timedelta(minutes=1), {"amount": 1.5}, prediction=1),
                                Prediction("higher", DAY + timedelta(minutes=2), {"amount": 2.5}, prediction=1)],
                       ingested_at=DAY)
    upsert_labels(engine, {"p0": 1}, ingested_at=DAY)
    compact(engine)
    assert_waits_for_open_insert(
        engine,
        "INSERT INTO labels (model, prediction_id, label, label_numeric, event_time, ingested_at) "
        "VALUES ('fraud', 'late', '0', 0, %s, %s)", (DAY, DAY + HOUR),
        commit_higher=lambda: upsert_labels(engine, {"higher": 1}, ingested_at=DAY + HOUR),
        compact=lambda: compact_labels(engine))
    assert len(stored_pairs(engine)) == 3 and set(stored_pairs(engine)) == current_pairs(engine)
    loaded = window(engine, end=DAY + 2 * HOUR).rows.outputs
    assert sorted(loaded["label"].dropna()) == ["0", "1", "1"]


def test_the_scheduler_compacts_labels_on_each_tick(engine):
    insert_predictions(engine, traffic(50, seed=29), ingested_at=DAY)
    upsert_labels(engine, {f"p{i}": 1 for i in range(0, 50, 2)}, ingested_at=DAY)
    scheduler = WindowScheduler(config=config({"fraud": FRAUD_MODEL}, store=str(engine.url)), engine=engine)
    scheduler.tick(now=DAY + 3 * HOUR)
    assert len(stored_pairs(engine)) == 25
    upsert_labels(engine, {f"p{i}": 0 for i in range(1, 50, 2)}, ingested_at=DAY + 3 * HOUR)
    scheduler.tick(now=DAY + 4 * HOUR)
    assert len(stored_pairs(engine)) == 50


def test_the_scheduler_compacts_in_batches(engine, monkeypatch):
    """A few fresh rows stay in the tail; a full batch, or an hour's wait, is compacted."""
    monkeypatch.setattr(segments, "BATCH_ROWS", 100)
    scheduler = WindowScheduler(config=config({"fraud": FRAUD_MODEL}, store=str(engine.url)), engine=engine)
    insert_predictions(engine, traffic(40, seed=30), ingested_at=DAY)
    upsert_labels(engine, {f"p{i}": 1 for i in range(0, 40, 2)}, ingested_at=DAY)
    scheduler._compact(DAY + 2 * HOUR, 2**62)  # an hour and more: compacted, however few
    assert (segment_count(engine), len(stored_pairs(engine))) == (40, 20)

    insert_predictions(engine, traffic(60, seed=31, prefix="n"), ingested_at=DAY + 3 * HOUR)
    upsert_labels(engine, {f"n{i}": 0 for i in range(0, 60, 2)}, ingested_at=DAY + 3 * HOUR)
    scheduler._compact(DAY + 3 * HOUR + timedelta(minutes=30), 2**62)  # 90 waiting for 30 minutes: not yet
    assert (segment_count(engine), len(stored_pairs(engine))) == (40, 20)
    assert_same_as_json(engine, windows=((DAY, DAY + 2 * HOUR),))  # the tail covers them

    insert_predictions(engine, traffic(40, seed=32, prefix="m"), ingested_at=DAY + 3 * HOUR)
    scheduler._compact(DAY + 3 * HOUR + timedelta(minutes=31), 2**62)  # 100 predictions: a batch
    assert (segment_count(engine), len(stored_pairs(engine))) == (140, 50)

    upsert_labels(engine, {f"m{i}": 1 for i in range(30)}, ingested_at=DAY + 3 * HOUR + timedelta(minutes=31))
    scheduler._compact(DAY + 4 * HOUR, 2**62)  # 30 labels for 29 minutes: not yet
    assert len(stored_pairs(engine)) == 50
    assert_same_as_json(engine, windows=((DAY, DAY + 2 * HOUR),))
    scheduler._compact(DAY + 4 * HOUR + timedelta(minutes=31), 2**62)
    assert len(stored_pairs(engine)) == 80
    assert_same_as_json(engine, windows=((DAY, DAY + 2 * HOUR),))


def segment_count(engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT coalesce(sum(row_count), 0) FROM prediction_segments")
                   .scalar_one())
