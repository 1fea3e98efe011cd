"""Loading a window from the store: columns, labels, watermark, and JSON kinds kept, whatever the batches.

Each load test runs three ways: every prediction stored in its own batch (its own
transaction), all in one batch, and the small batches merged as the scheduler does.
"""

from __future__ import annotations

import gc
import math
import weakref
from datetime import timedelta

import pyarrow as pa
import pytest
from sqlalchemy import func, select, text

from monitor.metrics.column import ValueKind, value_kinds
from monitor.store.batches import merge_batches
from monitor.store.dialect import dialect_of
from monitor.store.row_format import OUTPUT_COLUMNS, combine, rows_table
from monitor.store.stored_rows import stored_rows
from monitor.store.tables import prediction_batches
from monitor.store.window_reader import _WINDOW_LABELS, load_window, read_window_rows, snapshot_connection
from tests.monitor.jobs.store_data import (
    DAY,
    HOUR,
    Prediction,
    insert_dead_letter,
    insert_predictions,
    record,
    upsert_labels,
)
from tests.monitor.store.conftest import at_once

TYPES = {"amount": "numeric", "country": "categorical", "flag": "categorical"}
READS = ["batch per row", "one batch", "merged"]


def store(engine, read, rows, *, ingested_at):
    """Store ``rows`` one per batch, all in one, or one per batch then merged (``read``)."""
    if read == "one batch":
        insert_predictions(engine, rows, ingested_at=ingested_at)
        return
    for row in rows:
        insert_predictions(engine, [row], ingested_at=ingested_at)
    if read == "merged":
        merge_batches(engine, now=ingested_at + 2 * HOUR, target_rows=3)


def load(engine, **window):
    return load_window(engine, model="fraud", model_version="v1", **window)


def _normal(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _frame_values(frame):
    return {name: [_normal(v) for v in frame[name].tolist()] for name in frame.columns}


CLEAN = [{"amount": 1.5, "country": "DE", "flag": True}, {"amount": 2, "country": None}, {"country": "FR",
                                                                                        "flag": False}]
MIXED = [{"amount": "n/a", "country": "DE"}, {"amount": 3, "country": 49, "flag": True}]


def test_features_keep_their_json_kinds_across_batches_typed_differently():
    first = rows_table([record(Prediction(f"a{i}", DAY, row, prediction=1)) for i, row in enumerate(CLEAN)],
                       ingested_at=DAY)
    assert first.schema.field("f:amount").type == pa.float64()  # 1.5 and 2: numbers
    second = rows_table([record(Prediction(f"b{i}", DAY, row, prediction=1)) for i, row in enumerate(MIXED)],
                        ingested_at=DAY)
    assert second.schema.field("f:amount").metadata  # "n/a" and 3: per-value JSON
    ints = rows_table([record(Prediction("c", DAY, {"country": 1}, prediction=1))], ingested_at=DAY)
    assert ints.schema.field("f:country").type == pa.int64()

    rows = stored_rows(combine([first, second, ints]))
    values = _frame_values(rows.features)
    assert values["amount"] == [1.5, 2.0, None, "n/a", 3, None]
    assert values["country"] == ["DE", None, "FR", "DE", 49, 1]
    assert values["flag"] == [True, None, False, None, True, None]
    kinds = value_kinds(rows.features["amount"])
    assert kinds.tolist()[:5] == [ValueKind.NUMBER, ValueKind.NUMBER, ValueKind.MISSING, ValueKind.STRING,
                                  ValueKind.NUMBER]
    fast = stored_rows(first).features  # one kind per feature: typed columns
    assert str(fast["amount"].dtype) == "float64" and _frame_values(fast)["flag"] == [True, None, False]


def test_a_boolean_after_a_number_is_a_kind_mismatch_not_the_number_one():
    """Arrow reads [0.5, True] as the doubles [0.5, 1.0]; the stored copy must keep the boolean."""
    rows = [{"amount": 0.5, "flag": 1.0}, {"amount": True, "flag": 0.0}, {"amount": 2.0}]
    table = rows_table([record(Prediction(f"p{i}", DAY, row, prediction=1)) for i, row in enumerate(rows)],
                       ingested_at=DAY)
    assert table.schema.field("f:amount").metadata and table.schema.field("f:flag").type == pa.float64()
    features = stored_rows(table).features
    assert _frame_values(features)["amount"] == [0.5, True, 2.0]
    assert value_kinds(features["amount"]).tolist() == [ValueKind.NUMBER, ValueKind.BOOL, ValueKind.NUMBER]


@pytest.mark.parametrize("read", READS)
def test_load_window_reads_columns_labels_and_watermark(engine, read):
    features = [*CLEAN, *MIXED, {"amount": 7.25, "country": "US", "extra": "x"}]
    rows = [
        Prediction(f"p{i}", DAY + timedelta(minutes=i), feature, prediction=i % 2, score=0.1 * i,
                   latency_ms=None if i == 2 else 10.0 + i, status="error" if i == 3 else "ok")
        for i, feature in enumerate(features)
    ]
    rows.append(Prediction("outside", DAY + HOUR, {"amount": 1.0}, prediction=1))
    rows.append(Prediction("other-version", DAY, {"amount": 1.0}, prediction=1, model_version="v2"))
    store(engine, read, rows, ingested_at=DAY + HOUR)
    upsert_labels(engine, {"p1": 1, "p4": "0"}, ingested_at=DAY + 2 * HOUR)
    upsert_labels(engine, {"unknown": 1}, ingested_at=DAY + 5 * HOUR)  # no prediction: not in any window
    insert_dead_letter(engine, model="fraud", received_at=DAY + timedelta(minutes=59), offset=1)
    insert_dead_letter(engine, model="fraud", received_at=DAY + HOUR, offset=2)

    window = load(engine, start=DAY, end=DAY + HOUR)
    assert len(window.rows) == 6
    assert window.watermark == DAY + 2 * HOUR
    assert window.dead_letter_count == 1
    by_prediction = window.rows.outputs.assign(amount=window.rows.features["amount"]).sort_values("score")
    assert by_prediction["prediction"].tolist() == ["0", "1", "0", "1", "0", "1"]
    assert [_normal(v) for v in by_prediction["label"]] == [None, "1", None, None, "0", None]
    assert [_normal(v) for v in by_prediction["latency_ms"]] == [10.0, 11.0, None, 13.0, 14.0, 15.0]
    assert by_prediction["status"].tolist() == ["ok", "ok", "ok", "error", "ok", "ok"]
    assert [_normal(v) for v in by_prediction["amount"]] == [1.5, 2, None, "n/a", 3, 7.25]
    assert sorted(window.rows.features.columns) == ["amount", "country", "extra", "flag"]


@pytest.mark.parametrize("read", READS)
def test_text_with_separators_and_quotes_survives(engine, read):
    odd = 'tab\there\nnewline \x01quote\x01 "double" \\ back, comma'
    rows = [Prediction(f"p{i}", DAY + timedelta(minutes=i), {"country": odd if i % 2 else "DE", "amount": i},
                       prediction=odd if i == 3 else "plain") for i in range(6)]
    store(engine, read, rows, ingested_at=DAY)
    upsert_labels(engine, {"p3": odd}, ingested_at=DAY)
    window = load(engine, start=DAY, end=DAY + HOUR)
    assert len(window.rows) == 6
    assert sorted(map(str, window.rows.outputs["prediction"])) == [*["plain"] * 5, odd]
    assert [value for value in window.rows.outputs["label"] if isinstance(value, str)] == [odd]
    assert sorted(map(str, window.rows.features["country"])) == ["DE"] * 3 + [odd] * 3


@pytest.mark.parametrize("read", READS)
def test_an_empty_window(engine, read):
    elsewhere = Prediction("elsewhere", DAY + 2 * HOUR, {"amount": 1.0}, prediction=1)
    store(engine, read, [elsewhere, Prediction("later", DAY + 3 * HOUR, {"amount": 1.0}, prediction=1)],
          ingested_at=DAY)
    window = load(engine, start=DAY, end=DAY + HOUR)
    assert len(window.rows) == 0 and window.watermark is None and window.dead_letter_count == 0
    assert list(window.rows.outputs.columns) == list(OUTPUT_COLUMNS)


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("value", [0.1, 1e-300, 123456789.123456789, -2.5e17, 0.30000000000000004])
def test_floats_survive_the_round_trip_exactly(engine, read, value):
    store(engine, read, [Prediction("p", DAY, {"amount": value}, prediction=value, score=value / 1e18),
                         Prediction("q", DAY, {"amount": 1}, prediction=1)], ingested_at=DAY)
    window = load(engine, start=DAY, end=DAY + HOUR)
    assert window.rows.features["amount"].tolist()[0] == value
    assert window.rows.outputs["prediction_numeric"].iloc[0] == value
    assert window.rows.outputs["score"].iloc[0] == value / 1e18


def test_label_texts_and_numbers_survive_exactly(engine):
    """Labels come back as stored: an empty text is not missing, "NA" or "null" is text, numbers are exact."""
    texts = ["", "NA", "null", "NaN", ' "quoted", and\nsplit ', "ünïcode"]
    numbers = [0.1 + 0.2, 1e-300, -2.5e17, 123456789.123456789, 5e-324]
    ids = [f"t{i}" for i in range(len(texts))] + [f"n{i}" for i in range(len(numbers))] + ["none"]
    rows = [Prediction(name, DAY + timedelta(minutes=i), {"amount": i}, prediction=1) for i, name in enumerate(ids)]
    insert_predictions(engine, rows, ingested_at=DAY)
    upsert_labels(engine, {**dict(zip(ids, texts, strict=False)),
                           **{f"n{i}": number for i, number in enumerate(numbers)}}, ingested_at=DAY + HOUR)
    window = load(engine, start=DAY, end=DAY + HOUR)
    outputs = window.rows.outputs
    as_text = [str(int(n)) if n.is_integer() else repr(n) for n in numbers]
    assert [_normal(value) for value in outputs["label"]] == [*texts, *as_text, None]
    assert [_normal(value) for value in outputs["label_numeric"]] == [None] * len(texts) + numbers + [None]
    assert window.watermark == DAY + HOUR


def test_features_read_gets_the_rows_before_their_labels(engine):
    """The window job starts the drift tests on these rows while the labels query runs."""
    rows = [Prediction(f"p{i}", DAY + timedelta(minutes=i), {"amount": i}, prediction=1) for i in range(4)]
    insert_predictions(engine, rows, ingested_at=DAY)
    upsert_labels(engine, {"p1": 0, "p2": 1}, ingested_at=DAY)
    early = []
    window = load_window(engine, model="fraud", model_version="v1", start=DAY, end=DAY + HOUR,
                         features_read=early.append)
    [before] = early
    assert before.features["amount"].tolist() == window.rows.features["amount"].tolist() == [0, 1, 2, 3]
    assert before.outputs["label"].isna().all()
    assert [_normal(value) for value in window.rows.outputs["label"]] == [None, "0", "1", None]
    assert [_normal(value) for value in window.rows.outputs["label_numeric"]] == [None, 0.0, 1.0, None]
    assert window.watermark == DAY  # labels no newer than the predictions leave it at theirs


def test_labels_corrected_by_hand_in_sql_are_read(engine):
    """No rule to follow: UPDATE, INSERT and DELETE on labels are seen by the next read."""
    rows = [Prediction(f"p{i}", DAY + timedelta(minutes=i), {"amount": i}, prediction=1) for i in range(4)]
    insert_predictions(engine, rows, ingested_at=DAY)
    upsert_labels(engine, {"p0": 1, "p1": 1, "p2": 1}, ingested_at=DAY)
    with engine.begin() as connection:
        connection.execute(text("UPDATE labels SET label = '0', label_numeric = 0 WHERE prediction_id = 'p0'"))
        connection.execute(text("DELETE FROM labels WHERE prediction_id = 'p1'"))
        connection.execute(text(
            "INSERT INTO labels (model, prediction_id, label, label_numeric, event_time, ingested_at) "
            "VALUES ('fraud', 'p3', '0', 0, '2026-03-02 05:00:00', '2026-03-02 05:00:00')"))
    window = load(engine, start=DAY, end=DAY + HOUR)
    assert [_normal(value) for value in window.rows.outputs["label"]] == ["0", None, "1", "0"]


def test_merging_keeps_every_row_once_even_with_two_mergers(engine):
    rows = [Prediction(f"p{i}", DAY + timedelta(minutes=i), {"amount": i if i % 7 else "n/a"}, prediction=1)
            for i in range(40)]
    for row in rows:
        insert_predictions(engine, [row], ingested_at=DAY)
    before = load(engine, start=DAY, end=DAY + HOUR)
    errors = at_once(lambda: merge_batches(engine, now=DAY + HOUR, target_rows=10), times=3)
    assert errors == []
    with engine.connect() as connection:
        counts = connection.execute(select(func.count(), func.sum(prediction_batches.c.row_count))).one()
    assert counts == (4, 40)
    after = load(engine, start=DAY, end=DAY + HOUR)
    assert _frame_values(after.rows.features) == _frame_values(before.rows.features)
    assert after.watermark == before.watermark
    assert merge_batches(engine, now=DAY + HOUR, target_rows=10).merged == 0  # nothing small left


def test_young_small_batches_wait_for_more(engine):
    for i in range(3):
        insert_predictions(engine, [Prediction(f"p{i}", DAY, {"amount": i}, prediction=1)], ingested_at=DAY)
    assert merge_batches(engine, now=DAY + timedelta(minutes=1)).merged == 0
    assert merge_batches(engine, now=DAY + HOUR).merged == 3


def test_the_labels_join_reads_the_event_time_index_only(engine):
    """A window's labels join needs no predictions row: the event-time index covers it (SQLite says so)."""
    dialect = dialect_of(engine)
    window = ("fraud", "v1", dialect.time_param(DAY), dialect.time_param(DAY + HOUR)) * 2
    with engine.connect() as connection:
        if dialect.name != "sqlite":  # PostgreSQL's plan depends on its statistics; the index is the same
            names = {row[0] for row in connection.execute(text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'predictions'"))}
            assert "ix_predictions_model_event_time_model_version_prediction_id" in names
            return
        plan = " ".join(str(row[-1]) for row in dialect.query(connection, "EXPLAIN QUERY PLAN " + _WINDOW_LABELS,
                                                                 window))
    assert "COVERING INDEX ix_predictions_model_event_time_model_version_prediction_id" in plan, plan


def test_a_label_newer_than_the_windows_predictions_counts_even_beside_newer_rows_outside(engine):
    """The watermark is exact when a batch holds the window's rows and newer rows outside it."""
    insert_predictions(engine, [Prediction("inside", DAY, {"amount": 1}, prediction=1)], ingested_at=DAY + HOUR)
    insert_predictions(engine, [Prediction("after", DAY + 2 * HOUR, {"amount": 2}, prediction=1)],
                       ingested_at=DAY + 4 * HOUR)
    merge_batches(engine, now=DAY + 10 * HOUR, target_rows=3)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(prediction_batches)).scalar_one() == 1
    upsert_labels(engine, {"inside": 1}, ingested_at=DAY + 2 * HOUR)
    assert load(engine, start=DAY, end=DAY + HOUR).watermark == DAY + 2 * HOUR
    # A batch wholly inside the window bounds the predictions' newest from below: labels older are not needed.
    insert_predictions(engine, [Prediction("inside-later", DAY, {"amount": 3}, prediction=1)],
                       ingested_at=DAY + 3 * HOUR)
    window = load(engine, start=DAY, end=DAY + HOUR)
    assert window.watermark == DAY + 3 * HOUR
    assert [_normal(value) for value in window.rows.outputs["label"]] == ["1", None]


def test_the_labels_are_read_in_the_windows_snapshot(engine):
    """On PostgreSQL the labels are read by a second session: it must see the first one's snapshot."""
    insert_predictions(engine, [Prediction(f"p{i}", DAY, {"amount": i}, prediction=1) for i in range(3)],
                       ingested_at=DAY)
    upsert_labels(engine, {"p0": 1}, ingested_at=DAY)
    with snapshot_connection(engine) as connection, connection.begin():
        connection.execute(select(func.count()).select_from(prediction_batches)).scalar_one()  # the snapshot
        upsert_labels(engine, {"p1": 0, "p0": 0}, ingested_at=DAY + HOUR)  # committed after it
        rows, watermark = read_window_rows(connection, model="fraud", model_version="v1", start=DAY,
                                           end=DAY + HOUR)
    assert [_normal(value) for value in rows.outputs["label"]] == ["1", None, None]
    assert watermark == DAY
    assert load(engine, start=DAY, end=DAY + HOUR).watermark == DAY + HOUR


class _StoredBytes(bytearray):
    """A batch's bytes as read from the store, that a test can watch being freed (bytes cannot be)."""


def test_the_stored_bytes_are_freed_once_the_rows_are_converted(engine, monkeypatch):
    """A window's Arrow columns are views of the stored batches' bytes, and one live column keeps a
    whole batch: the read keeps none of them once the features are converted (a million rows: ~270 MB),
    so they are gone before the drift tests start (``features_read``) and after the read."""
    store(engine, "batch per row", [Prediction(f"p{i}", DAY + timedelta(minutes=i), {"amount": i / 3, "country": "DE"},
                                               prediction=1, score=0.25) for i in range(6)], ingested_at=DAY)
    upsert_labels(engine, {"p1": 0}, ingested_at=DAY)
    dialect = type(dialect_of(engine))
    read = dialect.blobs
    watched = []

    def blobs(self, *args, **kwargs):
        found = [_StoredBytes(data) for data in read(self, *args, **kwargs)]
        watched.extend(weakref.ref(data) for data in found)
        return found

    monkeypatch.setattr(dialect, "blobs", blobs)
    alive_at_features_read = []

    def features_read(rows):
        gc.collect()
        alive_at_features_read.append(sum(ref() is not None for ref in watched))

    window = load(engine, start=DAY, end=DAY + HOUR, features_read=features_read)
    gc.collect()
    assert len(watched) == 6 and alive_at_features_read == [0]
    assert not any(ref() is not None for ref in watched)
    assert window.rows.features["amount"].tolist() == pytest.approx([i / 3 for i in range(6)])
    assert [_normal(value) for value in window.rows.outputs["label"]] == [None, "0", None, None, None, None]
