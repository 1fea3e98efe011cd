"""Estimated confusion-matrix cells in every window: as `driftwatch estimate`, realized beside, alertable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from alerts.evaluation import evaluate_window
from monitor.config.models import DriftwatchConfig
from monitor.jobs.scheduler import WindowScheduler
from monitor.store.tables import alerts, reference_models
from tests.monitor.jobs import test_estimation as binary
from tests.monitor.jobs import test_estimation_multiclass as multiclass
from tests.monitor.jobs.store_data import (
    DAY,
    HOUR,
    Prediction,
    details,
    insert_predictions,
    metric,
    metric_rows,
    upsert_labels,
    value,
)

MINUTE = timedelta(minutes=1)
BINARY_CELLS = ("true_positive", "true_negative", "false_positive", "false_negative")


def _offline(tmp_path, reference: pd.DataFrame, analysis: pd.DataFrame, *args: str) -> dict:
    """``driftwatch estimate ... --metrics confusion_matrix --json`` on the same rows, as a user runs it."""
    reference.to_csv(tmp_path / "offline_reference.csv", index=False)
    analysis.to_csv(tmp_path / "offline_analysis.csv", index=False)
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "estimate", "offline_reference.csv", "offline_analysis.csv",
         "--y-pred", "prediction", "--y-true", "label", "--metrics", "confusion_matrix", "--json", *args],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "COLUMNS": "200"}, timeout=300, check=False)
    assert result.returncode in (0, 1), result.stderr
    [chunk] = json.loads(result.stdout)["chunks"]
    return dict(chunk["metrics"])


def _same(row, want: dict, name: str) -> None:
    got = details(row)
    assert value(row) == pytest.approx(want["value"], rel=1e-9, abs=1e-9), name
    for key in ("lower_band", "upper_band", "lower_threshold", "upper_threshold", "sampling_error"):
        assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-9), (name, key)
    assert row.is_breach is want["alert"], name
    assert got["method"] == "cbpe"


def test_binary_windows_carry_the_four_cells_of_the_offline_estimate_command(engine, tmp_path):
    reference, window = binary._rows(2000, seed=1), binary._rows(400, seed=2)
    path = binary._reference_file(tmp_path, reference)
    model = {**binary.MODEL, "reference": {"file": str(path)}, "estimation": {"chunk_size": 400}}
    predictions = binary._window(engine, window, DAY, prefix="w1")
    # every label of the first window is in; the second window has half of them
    upsert_labels(engine, {p.prediction_id: row["label"] for p, row in zip(predictions, window, strict=True)},
                  ingested_at=DAY + HOUR)
    second = binary._rows(400, seed=3)
    later = binary._window(engine, second, DAY + HOUR, prefix="w2")
    upsert_labels(engine, {p.prediction_id: row["label"] for p, row in zip(later[:200], second[:200], strict=True)},
                  ingested_at=DAY + 2 * HOUR)
    WindowScheduler(config=binary._config(model), engine=engine, worker="a").tick(DAY + 2 * HOUR + MINUTE)

    expected = _offline(tmp_path, pd.DataFrame(reference), pd.DataFrame(window),
                        "--task", "binary_classification", "--y-pred-proba", "score", "--chunk-size", "400")
    assert set(expected) == set(BINARY_CELLS)
    for name in BINARY_CELLS:
        row = metric(engine, f"estimated_{name}", window_start=DAY)
        _same(row, expected[name], name)
        assert details(row)["realized"] == expected[name]["realized"] and details(row)["labelled_rows"] == 400
    # counts, not normalised: the four cells add up to the window's rows
    assert sum(value(metric(engine, f"estimated_{name}", window_start=DAY)) for name in BINARY_CELLS) == \
        pytest.approx(400, rel=1e-12)

    # Half the labels: the count so far is kept apart from `realized` (it is not comparable with the estimate yet).
    partial = details(metric(engine, "estimated_true_positive", window_start=DAY + HOUR))
    assert "realized" not in partial and partial["labelled_rows"] == 200
    assert partial["realized_so_far"] == sum(row["label"] == 1 and row["prediction"] == 1 for row in second[:200])
    [fit] = binary._fits(engine)
    assert {f"estimated_{name}" for name in BINARY_CELLS} <= set(fit.thresholds)


def test_multiclass_windows_carry_every_cell_of_the_offline_estimate_command(engine, tmp_path):
    reference, window = multiclass._rows(2000, seed=1), multiclass._rows(400, seed=2)
    path = tmp_path / "reference.csv"
    multiclass._frame(reference).to_csv(path, index=False)
    model = {**multiclass.MODEL, "reference": {"file": str(path), "probabilities": multiclass.PROBABILITY_COLUMNS},
             "estimation": {"chunk_size": 400}}
    predictions = multiclass._window(engine, window, DAY, prefix="w1")
    upsert_labels(engine, {p.prediction_id: row["label"] for p, row in zip(predictions, window, strict=True)},
                  ingested_at=DAY + HOUR, model="zoo")
    multiclass._tick(engine, model, DAY + HOUR + MINUTE)

    mapping = ",".join(f"{name}={column}" for name, column in multiclass.PROBABILITY_COLUMNS.items())
    expected = _offline(tmp_path, multiclass._frame(reference), multiclass._frame(window),
                        "--task", "multiclass_classification", "--y-pred-proba", mapping, "--chunk-size", "400")
    rows = metric_rows(engine, model="zoo", model_version="v1", metric="estimated_confusion_cell", window_start=DAY)
    assert sorted(row.feature for row in rows) == sorted(f"true={a},pred={b}" for a in multiclass.CLASSES
                                                         for b in multiclass.CLASSES)
    for a in multiclass.CLASSES:
        for b in multiclass.CLASSES:
            row = metric(engine, "estimated_confusion_cell", window_start=DAY, feature=f"true={a},pred={b}",
                         model="zoo")
            want = expected[f"true_{a}_pred_{b}"]
            _same(row, want, (a, b))
            got = details(row)
            assert (got["true_class"], got["predicted_class"]) == (a, b)
            assert got["realized"] == want["realized"] and got["labelled_rows"] == 400
    assert sum(value(row) for row in rows) == pytest.approx(400, rel=1e-12)
    with engine.connect() as connection:
        [fit] = connection.execute(select(reference_models)).all()
    assert "estimated_confusion_cell[true=cat,pred=dog]" in fit.thresholds
    # the scalar metrics are still there, model-level
    assert 0 < value(metric(engine, "estimated_accuracy", window_start=DAY, model="zoo")) < 1


def test_a_degrading_model_fires_a_rule_on_its_estimated_cells(engine):
    model = {**multiclass.MODEL, "reference": {"first": 1000}, "estimation": {"chunk_size": 200}}
    rule = {"name": "cells", "model": "zoo", "metric": "estimated_confusion_cell", "feature": "*",
            "when": "outside reference"}
    baseline = multiclass._rows(1000, seed=1)
    copied = multiclass._window(engine, baseline, DAY - HOUR, prefix="ref")
    upsert_labels(engine, {p.prediction_id: row["label"] for p, row in zip(copied, baseline, strict=True)},
                  ingested_at=DAY, model="zoo")
    multiclass._window(engine, multiclass._rows(200, seed=2), DAY, prefix="good")
    multiclass._window(engine, multiclass._rows(200, seed=3, confidence=0.25), DAY + HOUR, prefix="bad")
    multiclass._tick(engine, model, DAY + 2 * HOUR + MINUTE, rules=[rule])

    def breaching(start):
        return {row.feature for row in metric_rows(engine, model="zoo", model_version="v1",
                                                   metric="estimated_confusion_cell", window_start=start)
                if row.is_breach}

    assert breaching(DAY) == set()
    assert breaching(DAY + HOUR)  # no labels yet: only the estimate can tell

    cfg = DriftwatchConfig.model_validate({"store": "sqlite://", "models": {"zoo": model},
                                           "alerts": {"rules": [rule]}})
    report = evaluate_window(engine, cfg, model="zoo", model_version="v1", window_start=DAY + HOUR,
                             window_end=DAY + 2 * HOUR, now=DAY + 2 * HOUR + 2 * MINUTE)
    fired = {t.after.feature for t in report.transitions if t.event == "firing"}
    assert fired == breaching(DAY + HOUR)
    with engine.connect() as connection:
        states = {(row.rule, row.feature, row.state) for row in connection.execute(select(alerts))}
    assert states == {("cells", feature, "firing") for feature in fired}


def test_a_binary_model_that_grows_unsure_fires_a_false_negative_rule(engine, tmp_path):
    path = binary._reference_file(tmp_path, binary._rows(1000, seed=1))
    model = {**binary.MODEL, "reference": {"file": str(path)}, "estimation": {"chunk_size": 200}}
    rule = {"name": "missed-positives", "model": "fraud", "metric": "estimated_false_negative",
            "when": "outside reference"}
    unsure = [{**row, "score": round(0.5 * row["score"], 6), "prediction": 0} for row in binary._rows(200, seed=2)]
    binary._window(engine, unsure, DAY, prefix="w1")
    cfg = binary._config(model, [rule])
    WindowScheduler(config=cfg, engine=engine, worker="a").tick(DAY + HOUR + MINUTE)
    row = metric(engine, "estimated_false_negative", window_start=DAY)
    assert row.is_breach is True and value(row) > details(row)["upper_threshold"]
    report = evaluate_window(engine, cfg, model="fraud", model_version="v1", window_start=DAY,
                             window_end=DAY + HOUR, now=DAY + HOUR + 2 * MINUTE)
    assert [t.event for t in report.transitions] == ["firing"]


def test_a_rule_on_multiclass_cells_must_name_a_cell_or_every_cell():
    with pytest.raises(ValueError, match="true=cat,pred=dog"):
        DriftwatchConfig.model_validate({"store": "sqlite://", "models": {"zoo": multiclass.MODEL}, "alerts": {
            "rules": [{"name": "c", "metric": "estimated_confusion_cell", "when": "outside reference"}]}})


def _chunk_counts(reference: list[dict], chunk_size: int) -> dict[str, tuple[float, float]]:
    """Each cell's mean and (population) std count over the reference's consecutive chunks."""
    frame = pd.DataFrame(reference)
    label, prediction = frame["label"] == 1, frame["prediction"] == 1
    cells = {"true_positive": label & prediction, "true_negative": ~label & ~prediction,
             "false_positive": ~label & prediction, "false_negative": label & ~prediction}
    chunks = len(frame) // chunk_size
    spread = {}
    for name, hit in cells.items():
        counts = hit.to_numpy()[:chunks * chunk_size].reshape(chunks, chunk_size).sum(axis=1)
        spread[name] = (float(counts.mean()), float(counts.std()))
    return spread


def test_cell_thresholds_follow_each_windows_rows_for_the_model_and_its_segments(engine, tmp_path):
    """A count grows with the window: thresholds learned on 400-row chunks are scaled to each window's rows
    (mean·r ± 3·std·√r for r = rows / 400; rates mean ± 3·std/√r), so clean windows of 120 and 2,400 rows
    do not breach, while a 2,400-row window of an unsure model still does."""
    reference = binary._rows(4000, seed=1)
    path = binary._reference_file(tmp_path, reference)
    model = {**binary.MODEL, "reference": {"file": str(path)}, "estimation": {"chunk_size": 400},
             "segments": ["country"]}
    sizes = {DAY: 120, DAY + HOUR: 400, DAY + 2 * HOUR: 2400}
    for index, (start, size) in enumerate(sizes.items()):
        binary._window(engine, binary._rows(size, seed=10 + index), start, prefix=f"w{index}")
    unsure = [{**row, "score": round(0.5 * row["score"], 6), "prediction": 0} for row in binary._rows(2400, seed=20)]
    binary._window(engine, unsure, DAY + 3 * HOUR, prefix="unsure")
    WindowScheduler(config=binary._config(model), engine=engine, worker="a").tick(DAY + 4 * HOUR + MINUTE)

    spread = _chunk_counts(reference, 400)
    for start, size in sizes.items():
        share = size / 400
        for name in BINARY_CELLS:
            [row] = metric_rows(engine, model="fraud", model_version="v1", metric=f"estimated_{name}",
                                window_start=start, segment=None)
            mean, std = spread[name]
            got = details(row)
            assert got["rows"] == size
            assert got["lower_threshold"] == pytest.approx(max(0.0, mean * share - 3 * std * share ** 0.5), rel=1e-9)
            assert got["upper_threshold"] == pytest.approx(mean * share + 3 * std * share ** 0.5, rel=1e-9)
            assert row.is_breach is False, (size, name, value(row), got["lower_threshold"], got["upper_threshold"])
        # the rates too: their thresholds are drawn for the window's rows (mean ± 3·std/√r)
        rates = [row for name in ("roc_auc", "f1", "precision", "recall", "specificity", "accuracy")
                 for row in metric_rows(engine, model="fraud", model_version="v1", metric=f"estimated_{name}",
                                        window_start=start, segment=None)]
        assert len(rates) == 6 and not any(row.is_breach for row in rates), [
            (row.metric, value(row), details(row)["lower_threshold"]) for row in rates if row.is_breach]
        # each segment's cells are judged by its own chunks' counts, scaled to its share of the window
        segment_rows = [row for name in BINARY_CELLS
                        for row in metric_rows(engine, model="fraud", model_version="v1",
                                               metric=f"estimated_{name}", window_start=start)
                        if row.segment is not None]
        assert len(segment_rows) == 3 * len(BINARY_CELLS)
        for row in segment_rows:
            got = details(row)
            assert "threshold_not_learned" not in got and got["window_thresholds"]["chunk_size"] < 400
            assert row.is_breach is False, (size, row.segment, row.metric, value(row), got["upper_threshold"])
    [missed] = metric_rows(engine, model="fraud", model_version="v1", metric="estimated_false_negative",
                           window_start=DAY + 3 * HOUR, segment=None)
    assert missed.is_breach is True and value(missed) > details(missed)["upper_threshold"]


def test_a_multiclass_segments_cells_keep_their_cell_and_thresholds_scaled_to_the_segments_rows(engine, tmp_path):
    def regional(rows: list[dict]) -> list[dict]:
        return [{**row, "region": "north" if index % 3 else "south"} for index, row in enumerate(rows)]

    reference, window = regional(multiclass._rows(3000, seed=1)), regional(multiclass._rows(900, seed=2))
    path = tmp_path / "reference.csv"
    multiclass._frame(reference).to_csv(path, index=False)
    model = {**multiclass.MODEL, "features": {**multiclass.MODEL["features"], "region": {"type": "categorical"}},
             "reference": {"file": str(path), "probabilities": multiclass.PROBABILITY_COLUMNS},
             "estimation": {"chunk_size": 300}, "segments": ["region"]}
    insert_predictions(engine, [
        Prediction(prediction_id=f"w-{index}", event_time=DAY + timedelta(seconds=index + 1), model="zoo",
                   features={"x1": row["x1"], "x2": row["x2"], "region": row["region"]},
                   prediction=row["prediction"], probabilities=row["probabilities"])
        for index, row in enumerate(window)], ingested_at=DAY + HOUR)
    multiclass._tick(engine, model, DAY + HOUR + MINUTE)

    cells = {f"true={a},pred={b}" for a in multiclass.CLASSES for b in multiclass.CLASSES}
    rows = metric_rows(engine, model="zoo", model_version="v1", metric="estimated_confusion_cell", window_start=DAY)
    for segment, share in (("region=north", 600), ("region=south", 300)):
        mine = [row for row in rows if row.segment == segment]
        assert {row.feature for row in mine} == cells  # one row per cell, each named
        for row in mine:
            got = details(row)
            assert got["rows"] == share and "threshold_not_learned" not in got
            scale = got["window_thresholds"]  # the segment's chunks are its share of 300 rows
            assert scale["chunk_size"] == (200 if segment == "region=north" else 100)
            assert row.is_breach is False, (segment, row.feature, value(row), got["lower_threshold"],
                                            got["upper_threshold"])
    assert sum(value(row) for row in rows if row.segment == "region=south") == pytest.approx(300, rel=1e-12)
