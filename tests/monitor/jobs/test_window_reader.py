"""Loading a window from the store: columns, labels, watermark, and JSON kinds kept on every parse path.

Each load test runs three ways: every row read from JSON (nothing compacted), every
row and label from columnar segments, and half of them from segments with the rest
as the uncompacted tail.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pyarrow as pa
import pytest

from monitor.metrics.column import ValueKind, value_kinds
from monitor.store import label_segments, postgres_rows, segments, stored_rows
from monitor.store.feature_json import combine_feature_chunks, parse_feature_objects
from monitor.store.window_reader import load_window
from tests.monitor.jobs.store_data import (
    DAY,
    HOUR,
    Prediction,
    insert_dead_letter,
    insert_predictions,
    upsert_labels,
)

TYPES = {"amount": "numeric", "country": "categorical", "flag": "categorical"}
READS = ["json", "segments", "segments+tail"]


def load(engine, read, monkeypatch, **window):
    """load_window after compacting all rows, half of them, or none (``read``)."""
    if read == "segments":
        segments.compact_predictions(engine, feature_types={"fraud": TYPES})
        label_segments.compact_labels(engine)
    elif read == "segments+tail":
        with engine.connect() as connection:
            total = connection.exec_driver_sql("SELECT count(*) FROM predictions").scalar_one()
            labelled = connection.exec_driver_sql("SELECT count(*) FROM labels").scalar_one()
        monkeypatch.setattr(segments, "CHUNK_ROWS", 2)
        monkeypatch.setattr(label_segments, "CHUNK_ROWS", 2)
        segments.compact_predictions(engine, feature_types={"fraud": TYPES}, max_rows=max(1, total // 2))
        label_segments.compact_labels(engine, max_rows=max(1, labelled // 2))
    return load_window(engine, model="fraud", model_version="v1", feature_types=TYPES, **window)


def _normal(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _frame_values(frame):
    return {name: [_normal(v) for v in frame[name].tolist()] for name in frame.columns}


CLEAN = [{"amount": 1.5, "country": "DE", "flag": True}, {"amount": 2, "country": None}, {"country": "FR",
                                                                                        "flag": False}]
MIXED = [{"amount": "n/a", "country": "DE"}, {"amount": 3, "country": 49, "flag": True}]


def test_every_parse_path_keeps_json_kinds():
    declared = parse_feature_objects([json.dumps(row) for row in CLEAN], TYPES)
    assert isinstance(declared, pa.Table)
    inferred = parse_feature_objects([json.dumps({"country": 1}), json.dumps({"country": 2})], TYPES)
    assert isinstance(inferred, pa.Table) and inferred.schema.field("country").type == pa.int64()
    fallback = parse_feature_objects([json.dumps(row) for row in MIXED], TYPES)
    assert not isinstance(fallback, pa.Table)  # one feature mixes kinds: Python values

    frame = combine_feature_chunks([declared, fallback], 5)
    values = _frame_values(frame)
    assert values["amount"] == [1.5, 2.0, None, "n/a", 3]
    assert values["country"] == ["DE", None, "FR", "DE", 49]
    assert values["flag"] == [True, None, False, None, True]
    kinds = value_kinds(frame["amount"])
    assert kinds.tolist() == [ValueKind.NUMBER, ValueKind.NUMBER, ValueKind.MISSING, ValueKind.STRING,
                              ValueKind.NUMBER]
    # The fast path alone gives typed columns.
    fast = combine_feature_chunks([declared], 3)
    assert str(fast["amount"].dtype) == "float64" and _frame_values(fast)["flag"] == [True, None, False]


@pytest.mark.parametrize("read", READS)
def test_load_window_reads_columns_labels_and_watermark(engine, monkeypatch, read):
    # Several chunks on both stores, one of them falling back to Python values.
    monkeypatch.setattr(stored_rows, "_CHUNK_ROWS", 3)
    monkeypatch.setattr(postgres_rows, "_CHUNK_BYTES", 300)
    features = [*CLEAN, *MIXED, {"amount": 7.25, "country": "US", "extra": "x"}]
    rows = [
        Prediction(f"p{i}", DAY + timedelta(minutes=i), feature, prediction=i % 2, score=0.1 * i,
                   latency_ms=None if i == 2 else 10.0 + i, status="error" if i == 3 else "ok")
        for i, feature in enumerate(features)
    ]
    rows.append(Prediction("outside", DAY + HOUR, {"amount": 1.0}, prediction=1))
    rows.append(Prediction("other-version", DAY, {"amount": 1.0}, prediction=1, model_version="v2"))
    insert_predictions(engine, rows, ingested_at=DAY + HOUR)
    upsert_labels(engine, {"p1": 1, "p4": "0"}, ingested_at=DAY + 2 * HOUR)
    upsert_labels(engine, {"unknown": 1}, ingested_at=DAY + 5 * HOUR)  # no prediction: not in any window
    insert_dead_letter(engine, model="fraud", received_at=DAY + timedelta(minutes=59), offset=1)
    insert_dead_letter(engine, model="fraud", received_at=DAY + HOUR, offset=2)

    window = load(engine, read, monkeypatch, start=DAY, end=DAY + HOUR)
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
def test_text_with_separators_and_quotes_survives(engine, monkeypatch, read):
    monkeypatch.setattr(postgres_rows, "_CHUNK_BYTES", 100)
    odd = 'tab\there\nnewline \x01quote\x01 "double" \\ back, comma'
    rows = [Prediction(f"p{i}", DAY + timedelta(minutes=i), {"country": odd if i % 2 else "DE", "amount": i},
                       prediction=odd if i == 3 else "plain") for i in range(6)]
    insert_predictions(engine, rows, ingested_at=DAY)
    upsert_labels(engine, {"p3": odd}, ingested_at=DAY)
    window = load(engine, read, monkeypatch, start=DAY, end=DAY + HOUR)
    assert len(window.rows) == 6
    assert sorted(map(str, window.rows.outputs["prediction"])) == [*["plain"] * 5, odd]
    assert [value for value in window.rows.outputs["label"] if isinstance(value, str)] == [odd]
    assert sorted(map(str, window.rows.features["country"])) == ["DE"] * 3 + [odd] * 3


@pytest.mark.parametrize("read", READS)
def test_an_empty_window(engine, monkeypatch, read):
    elsewhere = Prediction("elsewhere", DAY + 2 * HOUR, {"amount": 1.0}, prediction=1)
    insert_predictions(engine, [elsewhere], ingested_at=DAY)
    window = load(engine, read, monkeypatch, start=DAY, end=DAY + HOUR)
    assert len(window.rows) == 0 and window.watermark is None and window.dead_letter_count == 0
    assert list(window.rows.outputs.columns) == list(stored_rows.OUTPUT_COLUMNS)


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("value", [0.1, 1e-300, 123456789.123456789, -2.5e17, 0.30000000000000004])
def test_floats_survive_the_round_trip_exactly(engine, monkeypatch, read, value):
    insert_predictions(engine, [Prediction("p", DAY, {"amount": value}, prediction=value, score=value / 1e18)],
                       ingested_at=DAY)
    window = load(engine, read, monkeypatch, start=DAY, end=DAY + HOUR)
    assert window.rows.features["amount"].iloc[0] == value
    assert window.rows.outputs["prediction_numeric"].iloc[0] == value
    assert window.rows.outputs["score"].iloc[0] == value / 1e18
