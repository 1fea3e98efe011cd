"""Columnar segments: the same window as from JSON, every prediction exactly once, safe beside writers."""

from __future__ import annotations

import itertools
import math
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from monitor.jobs.scheduler import WindowScheduler
from monitor.store import segment_reader, segments
from monitor.store.segments import compact_predictions
from monitor.store.tables import labels, prediction_segments, segment_progress
from monitor.store.window_reader import load_window
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

TYPES = {"amount": "numeric", "country": "categorical"}


def _normal(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def rows_of(window) -> list[tuple]:
    """The window's rows as sortable tuples (order is not part of the contract)."""
    outputs, features = window.rows.outputs, window.rows.features
    names = sorted(features.columns)
    table = [
        tuple(repr(_normal(outputs[column].iloc[i])) for column in outputs.columns)
        + tuple(repr(_normal(features[name].iloc[i])) for name in names)
        for i in range(len(outputs))
    ]
    return sorted(table)


def traffic(count: int, *, seed: int, start=DAY, version="v1", prefix="p") -> list[Prediction]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        features = {"amount": round(rng.gauss(50, 20), 6), "country": rng.choice(["DE", "FR", "US"])}
        if i % 7 == 0:
            features["amount"] = None
        if i % 11 == 0:
            features.pop("country")
        if i % 13 == 0:
            features["undeclared"] = rng.choice(["a", "b"])
        rows.append(Prediction(f"{prefix}{i}", start + timedelta(seconds=rng.uniform(0, 7200)), features,
                               prediction=int(rng.random() > 0.5), score=rng.random(),
                               latency_ms=None if i % 17 == 0 else rng.uniform(1, 50),
                               status="error" if i % 19 == 0 else "ok", model_version=version))
    return rows


def window(engine, start=DAY, end=DAY + HOUR, version="v1"):
    return load_window(engine, model="fraud", model_version=version, start=start, end=end, feature_types=TYPES)


def json_window(engine, **kwargs):
    """The window as read with no segment at all (the reference behaviour)."""
    with engine.begin() as connection:
        saved = connection.execute(select(segment_progress)).all()
        connection.execute(segment_progress.delete())
    try:
        return window(engine, **kwargs)
    finally:
        with engine.begin() as connection:
            for row in saved:
                connection.execute(segment_progress.insert().values(**row._mapping))


def read_from_segments(engine, start, end) -> bool:
    """Whether load_window takes the segments for this window (rather than JSON)."""
    with engine.connect() as connection:
        return segment_reader.read_segmented_window(connection, model="fraud", model_version="v1", start=start, end=end,
                                              feature_types=TYPES) is not None


def segment_rows(engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.coalesce(func.sum(prediction_segments.c.row_count), 0)))
                   .scalar_one())


def prediction_count(engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM predictions").scalar_one())


def test_segments_give_the_json_window_row_for_row(engine, monkeypatch):
    monkeypatch.setattr(segments, "CHUNK_ROWS", 150)
    insert_predictions(engine, traffic(600, seed=1) + traffic(200, seed=2, version="v2", prefix="q"),
                       ingested_at=DAY + 2 * HOUR)
    upsert_labels(engine, {f"p{i}": i % 2 for i in range(0, 600, 3)}, ingested_at=DAY + 3 * HOUR)
    report = compact_predictions(engine, feature_types={"fraud": TYPES})
    assert report.rows == 800 and report.json_only_rows == 0
    assert segment_rows(engine) == 800 and report.segments >= 6  # 150-id steps, two versions

    # Labels arriving after compaction, and predictions not compacted yet (the tail).
    upsert_labels(engine, {f"p{i}": 1 for i in range(1, 600, 5)}, ingested_at=DAY + 4 * HOUR)
    insert_predictions(engine, traffic(50, seed=3, prefix="t"), ingested_at=DAY + 5 * HOUR)

    for start, end in [(DAY, DAY + HOUR), (DAY + HOUR, DAY + 2 * HOUR), (DAY, DAY + 2 * HOUR)]:
        assert read_from_segments(engine, start, end)
        fast, slow = window(engine, start, end), json_window(engine, start=start, end=end)
        assert len(fast.rows) > 100
        assert rows_of(fast) == rows_of(slow)
        assert fast.watermark == slow.watermark == DAY + 5 * HOUR
        assert dict(fast.rows.features.dtypes) == dict(slow.rows.features.dtypes)
    v2 = window(engine, version="v2", end=DAY + 2 * HOUR)
    assert rows_of(v2) == rows_of(json_window(engine, version="v2", end=DAY + 2 * HOUR))
    assert len(v2.rows) == 200


def test_compaction_takes_every_prediction_once(engine, monkeypatch):
    monkeypatch.setattr(segments, "CHUNK_ROWS", 40)
    insert_predictions(engine, traffic(100, seed=4), ingested_at=DAY)
    first = compact_predictions(engine, max_rows=60)  # stops after two steps; the rest next time
    assert first.rows == 80 and segment_rows(engine) == 80
    insert_predictions(engine, traffic(30, seed=5, prefix="n"), ingested_at=DAY)
    second = compact_predictions(engine)
    assert second.rows == 50 and second.last_id == first.last_id + 50
    assert compact_predictions(engine).rows == 0
    assert segment_rows(engine) == prediction_count(engine) == 130
    with engine.connect() as connection:
        spans = connection.execute(select(prediction_segments.c.first_id, prediction_segments.c.last_id)
                                   .order_by(prediction_segments.c.first_id)).all()
    assert all(a.last_id < b.first_id for a, b in itertools.pairwise(spans))


def test_two_compactors_at_once_write_each_row_once(engine, monkeypatch):
    monkeypatch.setattr(segments, "CHUNK_ROWS", 25)
    insert_predictions(engine, traffic(400, seed=6), ingested_at=DAY)
    errors = at_once(lambda: compact_predictions(engine), times=3)
    compact_predictions(engine)  # whatever a loser left is finished here
    assert not errors
    assert segment_rows(engine) == prediction_count(engine) == 400
    assert rows_of(window(engine, end=DAY + 2 * HOUR)) == rows_of(json_window(engine, end=DAY + 2 * HOUR))


def test_mixed_feature_types_keep_the_window_on_json(engine):
    rows = traffic(20, seed=7)
    rows[3] = Prediction("odd", DAY + timedelta(minutes=5), {"amount": "n/a", "country": "DE"}, prediction=1)
    insert_predictions(engine, rows, ingested_at=DAY)
    report = compact_predictions(engine, feature_types={"fraud": TYPES})
    assert report.json_only_rows == 20
    assert not read_from_segments(engine, DAY, DAY + 2 * HOUR)
    loaded = window(engine, end=DAY + 2 * HOUR)
    assert "n/a" in loaded.rows.features["amount"].tolist()  # the raw value, for type_mismatch_share
    assert rows_of(loaded) == rows_of(json_window(engine, end=DAY + 2 * HOUR))


def test_the_scheduler_compacts_on_each_tick(engine):
    insert_predictions(engine, traffic(50, seed=8), ingested_at=DAY)
    scheduler = WindowScheduler(config=config({"fraud": FRAUD_MODEL}, store=str(engine.url)), engine=engine)
    scheduler.tick(now=DAY + 3 * HOUR)
    assert segment_rows(engine) == 50
    insert_predictions(engine, traffic(10, seed=9, prefix="x"), ingested_at=DAY + 3 * HOUR)
    scheduler.tick(now=DAY + 4 * HOUR)
    assert segment_rows(engine) == 60


def test_a_row_committed_after_a_higher_id_is_not_lost(pg_engine):
    """PostgreSQL gives ids at insert, not commit: compaction must wait for open inserts.

    A transaction inserts a row and stays open; another inserts a higher id and
    commits. Compaction must not mark the lower id done before it is visible, or the
    row would belong to no segment and to no tail.
    """
    engine = pg_engine
    insert_predictions(engine, traffic(5, seed=10), ingested_at=DAY)
    higher = Prediction("higher", DAY + timedelta(minutes=2), {"amount": 2.5}, prediction=1)
    assert_waits_for_open_insert(
        engine,
        "INSERT INTO predictions (model, model_version, prediction_id, event_time, features, prediction, "
        "status, ingested_at) VALUES ('fraud', 'v1', 'late', %s, '{\"amount\": 1.5}', '1', 'ok', %s)",
        (DAY + timedelta(minutes=1), DAY),
        commit_higher=lambda: insert_predictions(engine, [higher], ingested_at=DAY),
        compact=lambda: compact_predictions(engine))
    ids = {value for value in window(engine, end=DAY + 2 * HOUR).rows.features["amount"].tolist()}
    assert {1.5, 2.5} <= ids
    assert segment_rows(engine) == prediction_count(engine) == 7


@pytest.mark.parametrize("text, number", [("one", 1.0), (" 2", 2.0), ("3abc", 3.0), ("1.10", 1.1), ("tab\there", None)])
def test_labels_whose_text_is_not_their_number_are_read_exactly(engine, text, number):
    """A label row written by hand, its text not the number's own text: still the stored values."""
    insert_predictions(engine, traffic(30, seed=11), ingested_at=DAY)
    upsert_labels(engine, {f"p{i}": i % 2 for i in range(0, 30, 2)}, ingested_at=DAY)
    compact_predictions(engine, feature_types={"fraud": TYPES})
    with engine.begin() as connection:
        connection.execute(labels.update().where(labels.c.prediction_id == "p4")
                           .values(label=text, label_numeric=number, ingested_at=DAY + HOUR))
    loaded = window(engine, end=DAY + 2 * HOUR)
    assert rows_of(loaded) == rows_of(json_window(engine, end=DAY + 2 * HOUR))
    assert loaded.watermark == DAY + HOUR
    outputs = loaded.rows.outputs
    (row,) = outputs.index[outputs["label"].astype(object) == text]
    assert _normal(outputs["label_numeric"].iloc[row]) == number


@pytest.mark.parametrize("ids", [[1, 2, 5, 9, 12], [9, 1, 12, 5, 2], [], [4]])
def test_each_prediction_finds_its_label_row(ids):
    import pyarrow as pa

    label_ids = [12, 4, 1, 7]  # 7: a label of no prediction here
    rows = segment_reader._label_rows(pa.chunked_array([ids], pa.int64()), pa.chunked_array([label_ids], pa.int64()))
    assert rows.to_pylist() == [label_ids.index(i) if i in label_ids else None for i in ids]
