"""Multiclass CBPE in every window: per-class probabilities of the window and the reference, fitted once."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import select, update

from alerts.evaluation import evaluate_window
from monitor.config.models import DriftwatchConfig
from monitor.jobs.scheduler import WindowScheduler
from monitor.store.row_format import deserialise, serialise
from monitor.store.tables import alerts, reference_models, reference_sets
from tests.monitor.jobs.store_data import (
    DAY,
    HOUR,
    Prediction,
    details,
    insert_predictions,
    metric,
    upsert_labels,
    value,
)

MINUTE = timedelta(minutes=1)
CLASSES = ("bird", "cat", "dog")
ESTIMATED = ("roc_auc", "f1", "precision", "recall", "specificity", "accuracy")
MODEL = {"task": "multiclass_classification", "window": "1h",
         "features": {"x1": {"type": "numeric"}, "x2": {"type": "numeric"}}}
PROBABILITY_COLUMNS = {name: f"p_{name}" for name in CLASSES}


def _rows(count: int, *, seed: int, confidence: float = 1.0) -> list[dict]:
    """Rows of a calibrated three-class model; ``confidence`` < 1 flattens the model's probabilities
    (a silently degraded model: its predictions get less sure, labels follow the original odds)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
        logits = {"bird": 1.6 * x1, "cat": 1.6 * x2, "dog": -1.2 * (x1 + x2)}
        truth = _softmax(logits)
        model = _softmax({name: confidence * logit for name, logit in logits.items()})
        probabilities = {name: round(model[name], 6) for name in CLASSES}
        prediction = max(CLASSES, key=lambda name: probabilities[name])
        label = rng.choices(CLASSES, weights=[truth[name] for name in CLASSES])[0]
        rows.append({"x1": round(x1, 6), "x2": round(x2, 6), "prediction": prediction, "label": label,
                     "probabilities": probabilities})
    return rows


def _softmax(logits: dict[str, float]) -> dict[str, float]:
    top = max(logits.values())
    weights = {name: math.exp(logit - top) for name, logit in logits.items()}
    total = sum(weights.values())
    return {name: weight / total for name, weight in weights.items()}


def _frame(rows: list[dict], *, labels: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame([{**{k: v for k, v in row.items() if k != "probabilities"},
                           **{PROBABILITY_COLUMNS[name]: p for name, p in row["probabilities"].items()}}
                          for row in rows])
    return frame if labels else frame.drop(columns="label")


def _window(engine, rows, start, *, prefix, probabilities=True):
    predictions = [
        Prediction(prediction_id=f"{prefix}-{index}", event_time=start + timedelta(seconds=index + 1), model="zoo",
                   features={"x1": row["x1"], "x2": row["x2"]}, prediction=row["prediction"],
                   probabilities=row["probabilities"] if probabilities else None)
        for index, row in enumerate(rows)
    ]
    insert_predictions(engine, predictions, ingested_at=start + HOUR)
    return predictions


def _config(model, rules=()):
    return DriftwatchConfig.model_validate({"store": "sqlite://", "models": {"zoo": model},
                                            "alerts": {"rules": list(rules)}})


def _tick(engine, model, at, *, worker="a", rules=()):
    WindowScheduler(config=_config(model, rules), engine=engine, worker=worker).tick(at)


def _estimate_offline(tmp_path, reference: pd.DataFrame, analysis: pd.DataFrame, chunk_size: int) -> dict:
    """``driftwatch estimate`` on the same rows, as a user runs it."""
    reference.to_csv(tmp_path / "offline_reference.csv", index=False)
    analysis.to_csv(tmp_path / "offline_analysis.csv", index=False)
    mapping = ",".join(f"{name}={column}" for name, column in PROBABILITY_COLUMNS.items())
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "estimate", "offline_reference.csv", "offline_analysis.csv",
         "--task", "multiclass_classification", "--y-pred", "prediction", "--y-true", "label",
         "--y-pred-proba", mapping, "--chunk-size", str(chunk_size), "--metrics", ",".join(ESTIMATED), "--json"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "COLUMNS": "200"}, timeout=300, check=False)
    assert result.returncode in (0, 1), result.stderr
    [chunk] = json.loads(result.stdout)["chunks"]
    return dict(chunk["metrics"])


def test_multiclass_windows_are_estimated_as_the_offline_estimate_command(engine, tmp_path):
    reference, window = _rows(2000, seed=1), _rows(400, seed=2)
    path = tmp_path / "reference.csv"
    _frame(reference).to_csv(path, index=False)
    # the window is one chunk; thresholds from reference chunks of the window's size, as offline
    model = {**MODEL, "reference": {"file": str(path), "probabilities": PROBABILITY_COLUMNS},
             "estimation": {"chunk_size": 400}}
    predictions = _window(engine, window, DAY, prefix="w1")
    upsert_labels(engine, {p.prediction_id: row["label"] for p, row in zip(predictions[:200], window[:200],
                                                                          strict=True)},
                  ingested_at=DAY + HOUR, model="zoo")
    _tick(engine, model, DAY + HOUR + MINUTE)

    analysis = _frame(window)
    analysis.loc[200:, "label"] = None  # the labels not in yet
    expected = _estimate_offline(tmp_path, _frame(reference), analysis, chunk_size=400)
    for name in ESTIMATED:
        row = metric(engine, f"estimated_{name}", window_start=DAY, model="zoo")
        got, want = details(row), expected[name]
        assert value(row) == pytest.approx(want["value"], rel=1e-9), name
        assert got["realized"] == pytest.approx(want["realized"], rel=1e-9), name
        assert (got["lower_band"], got["upper_band"]) == pytest.approx((want["lower_band"], want["upper_band"]),
                                                                       rel=1e-9), name
        assert (got["lower_threshold"], got["upper_threshold"]) == pytest.approx(
            (want["lower_threshold"], want["upper_threshold"]), rel=1e-9), name
        assert row.is_breach is want["alert"] is False, name  # drawn like the reference
        assert got["method"] == "cbpe" and got["classes"] == list(CLASSES) and got["rows"] == 400
    with engine.connect() as connection:
        [fit] = connection.execute(select(reference_models)).all()
    assert "probabilities=2000" in fit.fingerprint
    cells = {f"estimated_confusion_cell[true={a},pred={b}]" for a in CLASSES for b in CLASSES}
    assert set(fit.thresholds) == {f"estimated_{name}" for name in ESTIMATED} | {"multivariate_drift"} | cells

    # The next window loads the stored fit: no refit.
    _window(engine, _rows(300, seed=3), DAY + HOUR, prefix="w2")
    _tick(engine, model, DAY + 2 * HOUR + MINUTE, worker="b")
    assert not math.isnan(value(metric(engine, "estimated_f1", window_start=DAY + HOUR, model="zoo")))
    with engine.connect() as connection:
        assert [row.fitted_at for row in connection.execute(select(reference_models))] == [fit.fitted_at]


def test_a_model_that_silently_degrades_leaves_its_learned_accuracy_thresholds(engine):
    # The baseline: the first 600 predictions (with their probabilities), labelled.
    model = {**MODEL, "reference": {"first": 600}, "estimation": {"chunk_size": 200}}
    rule = {"name": "accuracy-estimate", "model": "zoo", "metric": "estimated_accuracy", "when": "outside reference"}
    baseline = _rows(600, seed=1)
    copied = _window(engine, baseline, DAY - HOUR, prefix="ref")
    upsert_labels(engine, {p.prediction_id: row["label"] for p, row in zip(copied, baseline, strict=True)},
                  ingested_at=DAY, model="zoo")
    _window(engine, _rows(200, seed=2), DAY, prefix="good")
    _window(engine, _rows(200, seed=3, confidence=0.25), DAY + HOUR, prefix="bad")  # no labels: silent
    _tick(engine, model, DAY + 2 * HOUR + MINUTE, rules=[rule])

    good = metric(engine, "estimated_accuracy", window_start=DAY, model="zoo")
    bad = metric(engine, "estimated_accuracy", window_start=DAY + HOUR, model="zoo")
    lower = details(good)["lower_threshold"]
    assert lower is not None and details(bad)["lower_threshold"] == lower
    assert good.is_breach is False and value(good) > lower
    assert bad.is_breach is True and value(bad) < lower and "realized" not in details(bad)

    cfg = _config(model, [rule])
    report = evaluate_window(engine, cfg, model="zoo", model_version="v1", window_start=DAY + HOUR,
                             window_end=DAY + 2 * HOUR, now=DAY + 2 * HOUR + 2 * MINUTE)
    assert [t.event for t in report.transitions] == ["firing"]
    with engine.connect() as connection:
        [alert] = connection.execute(select(alerts)).all()
    assert (alert.rule, alert.state) == ("accuracy-estimate", "firing")


def test_baselines_without_per_class_probabilities_say_why(engine, tmp_path):
    enabled = {"enabled": True, "chunk_size": 100}
    # a file without a probabilities mapping
    path = tmp_path / "reference.csv"
    _frame(_rows(400, seed=1)).to_csv(path, index=False)
    by_file = {**MODEL, "reference": {"file": str(path)}, "estimation": enabled}
    _window(engine, _rows(50, seed=2), DAY, prefix="w1")
    _tick(engine, by_file, DAY + HOUR + MINUTE)
    row = metric(engine, "estimated_accuracy", window_start=DAY, model="zoo")
    assert row.value is None and row.is_breach is None
    assert "reference.probabilities" in details(row)["not_estimated"]


def test_a_copied_baseline_without_probabilities_says_why(engine):
    model = {**MODEL, "reference": {"first": 200}, "estimation": {"enabled": True, "chunk_size": 50}}
    baseline = _rows(200, seed=1)
    copied = _window(engine, baseline, DAY - HOUR, prefix="ref", probabilities=False)
    upsert_labels(engine, {p.prediction_id: row["label"] for p, row in zip(copied, baseline, strict=True)},
                  ingested_at=DAY, model="zoo")
    _window(engine, _rows(50, seed=2), DAY, prefix="w1")
    _tick(engine, model, DAY + HOUR + MINUTE)
    row = metric(engine, "estimated_f1", window_start=DAY, model="zoo")
    assert row.value is None and "send probabilities" in details(row)["not_estimated"]

    # A baseline stored before probabilities were kept (its columns lack them) says so too.
    with engine.begin() as connection:
        [(set_id, blob)] = connection.execute(select(reference_sets.c.id, reference_sets.c.columns)).all()
        table = deserialise(blob)
        assert "probabilities" in table.column_names
        old = table.drop_columns(["probabilities"])
        connection.execute(update(reference_sets).where(reference_sets.c.id == set_id)
                           .values(columns=serialise(old)))
        connection.execute(reference_models.delete())
    _window(engine, _rows(50, seed=3), DAY + HOUR, prefix="w2")
    _tick(engine, model, DAY + 2 * HOUR + MINUTE, worker="b")
    row = metric(engine, "estimated_f1", window_start=DAY + HOUR, model="zoo")
    assert row.value is None and "stored without per-class probabilities" in details(row)["not_estimated"]


def test_a_window_with_a_class_the_reference_lacks_is_not_estimated(engine, tmp_path):
    path = tmp_path / "reference.csv"
    _frame(_rows(400, seed=1)).to_csv(path, index=False)
    model = {**MODEL, "reference": {"file": str(path), "probabilities": PROBABILITY_COLUMNS},
             "estimation": {"chunk_size": 100}}
    window = _rows(50, seed=2)
    for row in window[:5]:
        row["probabilities"] = {**row["probabilities"], "fish": 0.0}
    _window(engine, window, DAY, prefix="w1")
    _tick(engine, model, DAY + HOUR + MINUTE)
    row = metric(engine, "estimated_roc_auc", window_start=DAY, model="zoo")
    assert row.value is None and "class(es) 'fish' the reference does not" in details(row)["not_estimated"]


def test_reference_probabilities_name_a_files_columns():
    with pytest.raises(ValueError, match="leave it out"):
        _config({**MODEL, "reference": {"first": 100, "probabilities": PROBABILITY_COLUMNS}})


def test_integer_classes_from_a_file_match_the_streams_class_names(engine, tmp_path):
    number = {name: index for index, name in enumerate(CLASSES)}

    def numbered(rows):
        return [{**row, "prediction": number[row["prediction"]], "label": number[row["label"]],
                 "probabilities": {str(number[name]): p for name, p in row["probabilities"].items()}}
                for row in rows]

    reference = numbered(_rows(400, seed=1))
    frame = pd.DataFrame([{**{k: v for k, v in row.items() if k != "probabilities"},
                           **{f"p{name}": p for name, p in row["probabilities"].items()}} for row in reference])
    frame.to_csv(tmp_path / "reference.csv", index=False)
    model = {**MODEL, "reference": {"file": str(tmp_path / "reference.csv"),
                                    "probabilities": {0: "p0", 1: "p1", 2: "p2"}},
             "estimation": {"chunk_size": 100}}
    _window(engine, numbered(_rows(50, seed=2)), DAY, prefix="w1")
    _tick(engine, model, DAY + HOUR + MINUTE)
    row = metric(engine, "estimated_accuracy", window_start=DAY, model="zoo")
    assert 0 < value(row) < 1 and details(row)["classes"] == ["0", "1", "2"]
