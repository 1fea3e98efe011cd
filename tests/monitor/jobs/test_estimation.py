"""Performance estimation and multivariate drift in every window: fitted once per reference, stored, alertable."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import timedelta
from functools import partial

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from alerts.evaluation import evaluate_window
from alerts.rules import evaluate_rule
from monitor.config.models import AlertRule, DriftwatchConfig
from monitor.jobs.scheduler import WindowScheduler
from monitor.metrics.estimation import fit_cbpe, fit_reconstruction, reference_thresholds
from monitor.metrics.estimation.thresholds import outside
from monitor.metrics.point import MetricPoint
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
ESTIMATED = ("roc_auc", "f1", "precision", "recall", "specificity", "accuracy")
MODEL = {
    "task": "binary_classification",
    "positive_label": 1,
    "window": "1h",
    "features": {"x1": {"type": "numeric"}, "x2": {"type": "numeric"}, "country": {"type": "categorical"}},
}


def _rows(count: int, *, seed: int, correlated: bool = True) -> list[dict]:
    """x2 follows x1 on the reference; a drifted sample breaks that (same marginals)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        x1 = rng.gauss(0, 1)
        x2 = x1 + rng.gauss(0, 0.3) if correlated else rng.gauss(0, math.sqrt(1.09))
        score = 1 / (1 + math.exp(-(1.5 * x1 + 0.3)))
        rows.append({"x1": round(x1, 6), "x2": round(x2, 6), "country": rng.choice(["DE", "FR", "US"]),
                     "score": round(score, 6), "prediction": int(score > 0.5), "label": int(rng.random() < score)})
    return rows


def _reference_file(tmp_path, rows, *, labels=True, name="reference.csv"):
    frame = pd.DataFrame(rows)
    if not labels:
        frame = frame.drop(columns="label")
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _window(engine, rows, start, *, prefix):
    predictions = [
        Prediction(prediction_id=f"{prefix}-{index}", event_time=start + timedelta(seconds=index + 1),
                   features={"x1": row["x1"], "x2": row["x2"], "country": row["country"]},
                   prediction=row["prediction"], score=row["score"])
        for index, row in enumerate(rows)
    ]
    insert_predictions(engine, predictions, ingested_at=start + HOUR)
    return predictions


def _config(model, rules=()):
    return DriftwatchConfig.model_validate({"store": "sqlite://", "models": {"fraud": model},
                                            "alerts": {"rules": list(rules)}})


def _fits(engine):
    with engine.connect() as connection:
        return list(connection.execute(select(reference_models).order_by(reference_models.c.id)))


def test_window_estimates_equal_the_pure_modules_and_the_fit_is_stored_once(engine, tmp_path):
    reference = _rows(2000, seed=1)
    path = _reference_file(tmp_path, reference)
    model = {**MODEL, "reference": {"file": str(path)}, "estimation": {"chunk_size": 250}}
    window = _rows(400, seed=2)
    predictions = _window(engine, window, DAY, prefix="w1")
    # half the window's labels are in: the realized value sits beside the estimate
    upsert_labels(engine, {p.prediction_id: row["label"] for p, row in zip(predictions[:200], window[:200],
                                                                          strict=True)},
                  ingested_at=DAY + HOUR)
    scheduler = WindowScheduler(config=_config(model), engine=engine, worker="a")
    scheduler.tick(DAY + HOUR + MINUTE)

    # What the pure modules give for the same rows.
    ref = pd.DataFrame(reference)
    fitted = fit_cbpe(ref["label"].to_numpy(), ref["score"].to_numpy(), ref["prediction"].to_numpy(),
                      metrics=ESTIMATED, chunk_size=250, threshold_rule=partial(reference_thresholds, multiplier=3.0))
    frame = pd.DataFrame(window)
    labels = np.r_[frame["label"].to_numpy(dtype=float)[:200], np.full(200, np.nan)]
    expected = replace(fitted, chunk_size=400).estimate(frame["score"].to_numpy(), frame["prediction"].to_numpy(),
                                                        labels).chunks[0].metrics
    for name in ESTIMATED:
        row = metric(engine, f"estimated_{name}", window_start=DAY)
        got, want = details(row), expected[name]
        assert value(row) == pytest.approx(want.value, rel=1e-9), name
        assert got["realized"] == pytest.approx(want.realized, rel=1e-9), name
        assert got["lower_band"] == pytest.approx(want.lower_band, rel=1e-9)
        assert got["upper_band"] == pytest.approx(want.upper_band, rel=1e-9)
        assert got["sampling_error"] == pytest.approx(want.sampling_error, rel=1e-9)
        # learned on 250-row chunks, drawn for the window's 400 rows: mean ± 3·std·√(250/400)
        lower, upper = fitted.spreads[name].thresholds(3.0, share=400 / 250)
        assert upper - lower < want.upper_threshold - want.lower_threshold or upper == 1.0, name
        assert (got["lower_threshold"], got["upper_threshold"]) == pytest.approx((lower, upper), rel=1e-9)
        assert row.is_breach is outside(value(row), lower, upper) and got["method"] == "cbpe"
        assert got["window_thresholds"]["chunk_size"] == 250 and got["window_thresholds"]["scales_as"] == "mean"

    pca = fit_reconstruction(ref, ["x1", "x2", "country"], chunk_size=250)
    pca_expected = replace(pca, chunk_size=400).estimate(frame[["x1", "x2", "country"]]).chunks[0].metrics
    multivariate = metric(engine, "multivariate_drift", window_start=DAY)
    assert value(multivariate) == pytest.approx(pca_expected["reconstruction_error"].value, rel=1e-9)
    assert pca.spread is not None
    _, pca_upper = pca.spread.thresholds(3.0, share=400 / 250)
    assert multivariate.threshold == pytest.approx(pca_upper, rel=1e-9)
    assert details(multivariate)["upper_threshold"] == pytest.approx(pca_upper, rel=1e-9)
    assert multivariate.is_breach is False  # drawn like the reference

    # One fit, stored; the next window loads it (same row, same fit time), never refits.
    [first] = _fits(engine)
    assert first.chunk_size == 250 and "scikit-learn" in first.library_versions
    assert first.thresholds["estimated_roc_auc"] == pytest.approx(list(fitted.thresholds["roc_auc"]), rel=1e-9)
    _window(engine, _rows(300, seed=3), DAY + HOUR, prefix="w2")
    WindowScheduler(config=_config(model), engine=engine, worker="b").tick(DAY + 2 * HOUR + MINUTE)
    assert not math.isnan(value(metric(engine, "estimated_f1", window_start=DAY + HOUR)))
    assert [(row.id, row.fitted_at) for row in _fits(engine)] == [(first.id, first.fitted_at)]

    # A fit made by other library versions is refitted, in place.
    with engine.begin() as connection:
        connection.execute(reference_models.update().values(library_versions={**first.library_versions,
                                                                               "scikit-learn": "0.1"}))
    _window(engine, _rows(300, seed=6), DAY + 3 * HOUR, prefix="w4")
    WindowScheduler(config=_config(model), engine=engine, worker="d").tick(DAY + 4 * HOUR + MINUTE)
    [renewed] = _fits(engine)
    assert renewed.fitted_at > first.fitted_at and renewed.library_versions == first.library_versions

    # A new reference refits (and drops the old set's fit).
    other = _reference_file(tmp_path, _rows(2000, seed=4), name="other.csv")
    _window(engine, _rows(300, seed=5), DAY + 4 * HOUR, prefix="w3")
    moved = {**model, "reference": {"file": str(other)}}
    WindowScheduler(config=_config(moved), engine=engine, worker="c").tick(DAY + 5 * HOUR + MINUTE)
    with engine.connect() as connection:
        [set_id] = connection.execute(select(reference_sets.c.id)).scalars().all()
    [refit] = _fits(engine)
    assert refit.reference_set_id == set_id and refit.fitted_at > renewed.fitted_at
    assert refit.thresholds != first.thresholds


def test_a_drifted_window_fires_an_outside_reference_rule(engine, tmp_path):
    path = _reference_file(tmp_path, _rows(2000, seed=1))
    model = {**MODEL, "reference": {"file": str(path)}, "estimation": {"chunk_size": 250}}
    rule = {"name": "multivariate", "model": "fraud", "metric": "multivariate_drift", "when": "outside reference"}
    cfg = _config(model, [rule])
    _window(engine, _rows(400, seed=2, correlated=False), DAY, prefix="w1")
    WindowScheduler(config=cfg, engine=engine, worker="a").tick(DAY + HOUR + MINUTE)
    drifted = metric(engine, "multivariate_drift", window_start=DAY)
    assert drifted.is_breach is True and value(drifted) > details(drifted)["upper_threshold"]

    report = evaluate_window(engine, cfg, model="fraud", model_version="v1", window_start=DAY,
                             window_end=DAY + HOUR, now=DAY + HOUR + 2 * MINUTE)
    assert [t.event for t in report.transitions] == ["firing"]
    with engine.connect() as connection:
        [alert] = connection.execute(select(alerts)).all()
    assert (alert.rule, alert.state, alert.condition) == ("multivariate", "firing", "outside reference")


def test_a_reference_without_labels_gives_not_estimated_rows(engine, tmp_path):
    path = _reference_file(tmp_path, _rows(1000, seed=1), labels=False)
    model = {**MODEL, "reference": {"file": str(path)}, "estimation": {"enabled": True, "metrics": ["roc_auc", "f1"]}}
    _window(engine, _rows(200, seed=2), DAY, prefix="w1")
    WindowScheduler(config=_config(model), engine=engine, worker="a").tick(DAY + HOUR + MINUTE)
    for name in ("estimated_roc_auc", "estimated_f1"):
        row = metric(engine, name, window_start=DAY)
        assert row.value is None and row.is_breach is None
        assert "no row with a label" in details(row)["not_estimated"]
    # multivariate drift needs no labels
    assert not math.isnan(value(metric(engine, "multivariate_drift", window_start=DAY)))


def test_too_few_scored_rows_are_not_estimated(engine, tmp_path):
    path = _reference_file(tmp_path, _rows(1000, seed=1))
    model = {**MODEL, "reference": {"file": str(path)}}
    _window(engine, _rows(5, seed=2), DAY, prefix="w1")
    WindowScheduler(config=_config(model), engine=engine, worker="a").tick(DAY + HOUR + MINUTE)
    row = metric(engine, "estimated_accuracy", window_start=DAY)
    assert row.value is None and "only 5 scored predictions" in details(row)["not_estimated"]
    assert "only 5 predictions" in details(metric(engine, "multivariate_drift", window_start=DAY))["not_estimated"]


def test_outside_band_compares_the_realized_value_with_the_estimates_band():
    rule = AlertRule(name="missed", model="fraud", metric="estimated_f1", when="outside band")
    band = {"lower_band": 0.70, "upper_band": 0.80, "lower_threshold": 0.6, "upper_threshold": None}
    missed = {"v1": [MetricPoint("estimated_f1", 0.75, details={**band, "realized": 0.62})]}
    close = {"v1": [MetricPoint("estimated_f1", 0.75, details={**band, "realized": 0.72})]}
    unlabelled = {"v1": [MetricPoint("estimated_f1", 0.75, details=band)]}
    assert [o.breach for o in evaluate_rule(rule, missed)] == [True]
    assert [o.breach for o in evaluate_rule(rule, close)] == [False]
    assert [o.breach for o in evaluate_rule(rule, unlabelled)] == [False]
    reference = AlertRule(name="low", model="fraud", metric="estimated_f1", when="outside reference")
    assert [o.breach for o in evaluate_rule(reference, {"v1": [MetricPoint("estimated_f1", 0.55, details=band)]})] \
        == [True]


def test_learned_conditions_need_a_metric_that_learns_them():
    with pytest.raises(ValueError, match="needs a metric that learns its thresholds"):
        AlertRule(name="x", model="fraud", metric="prediction_count", when="outside reference")
    with pytest.raises(ValueError, match="unknown binary_classification estimated metric 'mae'"):
        DriftwatchConfig.model_validate({"models": {"fraud": {**MODEL, "estimation": {"metrics": ["mae"]}}}})


def _price_rows(count: int, *, seed: int, noisy: bool = False) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        size = rng.uniform(20, 200)
        area = rng.choice(["centre", "suburb"])
        truth = 3 * size + (100 if area == "centre" else 0) + rng.gauss(0, 5 + size / 10)
        prediction = 3 * size + (100 if area == "centre" else 0) + (rng.gauss(0, 40) if noisy else 0)
        rows.append({"size": round(size, 4), "area": area, "prediction": round(prediction, 4),
                     "label": round(truth, 4)})
    return rows


PRICE_MODEL = {"task": "regression", "window": "1h",
               "features": {"size": {"type": "numeric"}, "area": {"type": "categorical"}}}


def test_regression_windows_carry_dle_estimates_equal_to_the_pure_module(engine, tmp_path):
    from monitor.metrics.estimation.dle import fit_dle

    reference = _price_rows(600, seed=1)
    path = _reference_file(tmp_path, reference)
    model = {**PRICE_MODEL, "reference": {"file": str(path)},
             "estimation": {"chunk_size": 100, "metrics": ["mae", "rmse"]}}
    window = _price_rows(200, seed=2)
    insert_predictions(engine, [
        Prediction(prediction_id=f"r-{index}", event_time=DAY + timedelta(seconds=index + 1),
                   features={"size": row["size"], "area": row["area"]}, prediction=row["prediction"])
        for index, row in enumerate(window)], ingested_at=DAY + HOUR)
    WindowScheduler(config=_config(model), engine=engine, worker="a").tick(DAY + HOUR + MINUTE)

    ref = pd.DataFrame(reference)
    fitted = fit_dle(ref, ["size", "area"], "prediction", "label", metrics=("mae", "rmse"),
                     chunk_size=100)
    expected = replace(fitted, chunk_size=200).estimate(pd.DataFrame(window)).chunks[0].metrics
    for name in ("mae", "rmse"):
        row = metric(engine, f"estimated_{name}", window_start=DAY)
        assert value(row) == pytest.approx(expected[name].value, rel=1e-6), name
        _, upper = fitted.spreads[name].thresholds(3.0, share=200 / 100)  # two chunks' rows: std / √2
        assert upper < expected[name].upper_threshold
        assert details(row)["upper_threshold"] == pytest.approx(upper, rel=1e-9)
        assert details(row)["method"] == "dle" and "realized" not in details(row)  # no labels yet
    assert "lightgbm" in _fits(engine)[0].library_versions


def test_labels_reaching_a_copied_reference_refit_it(engine):
    model = {**MODEL, "reference": {"first": 400}, "estimation": {"chunk_size": 100}}
    cfg = _config(model)
    baseline = _rows(400, seed=1)
    copied = _window(engine, baseline, DAY, prefix="ref")
    _window(engine, _rows(200, seed=2), DAY + HOUR, prefix="w1")
    WindowScheduler(config=cfg, engine=engine, worker="a").tick(DAY + 2 * HOUR + MINUTE)
    [before] = _fits(engine)
    # no labels yet: no performance estimate (auto), multivariate drift only
    assert metric_names(engine, DAY + HOUR) & {"estimated_f1", "multivariate_drift"} == {"multivariate_drift"}

    upsert_labels(engine, {p.prediction_id: row["label"] for p, row in zip(copied, baseline, strict=True)},
                  ingested_at=DAY + 2 * HOUR)
    _window(engine, _rows(200, seed=3), DAY + 2 * HOUR, prefix="w2")
    WindowScheduler(config=cfg, engine=engine, worker="b").tick(DAY + 3 * HOUR + MINUTE)
    [after] = _fits(engine)
    assert after.fitted_at > before.fitted_at and "labels=400" in after.fingerprint
    assert not math.isnan(value(metric(engine, "estimated_f1", window_start=DAY + 2 * HOUR)))


def metric_names(engine, window_start):
    from tests.monitor.jobs.store_data import metric_rows

    return {row.metric for row in metric_rows(engine, model="fraud", window_start=window_start)}


def test_the_domain_classifier_scores_a_window_as_the_pure_module(engine, tmp_path):
    from monitor.jobs.estimation import canonical_order
    from monitor.metrics.estimation.classifier import fit_domain_classifier

    reference = _rows(300, seed=1)
    path = _reference_file(tmp_path, reference)
    model = {**MODEL, "reference": {"file": str(path)}, "estimation": {"multivariate": "classifier"}}
    window = _rows(100, seed=2, correlated=False)
    _window(engine, window, DAY, prefix="w1")
    WindowScheduler(config=_config(model), engine=engine, worker="a").tick(DAY + HOUR + MINUTE)

    features = ["x1", "x2", "country"]
    pure = fit_domain_classifier(pd.DataFrame(reference)[features], features)
    # The store returns a window's rows in no set order; the service puts them in a canonical one.
    rows = canonical_order(pd.DataFrame(window)[features].sample(frac=1, random_state=5), features)
    expected = replace(pure, chunk_size=100).estimate(rows).chunks[0].metrics["auroc"]
    row = metric(engine, "multivariate_drift", window_start=DAY)
    assert value(row) == pytest.approx(expected.value, rel=1e-6)
    assert details(row)["method"] == "domain_classifier" and row.threshold == 0.65
    assert row.is_breach is expected.alert is True  # the broken relation between x1 and x2 is told apart


def test_a_zero_reference_label_leaves_mape_not_estimated_and_the_rest_estimated(engine, tmp_path):
    reference = _price_rows(300, seed=1)
    reference[7]["label"] = 0.0
    path = _reference_file(tmp_path, reference)
    model = {**PRICE_MODEL, "reference": {"file": str(path)}, "estimation": {"chunk_size": 50}}
    insert_predictions(engine, [
        Prediction(prediction_id=f"r-{index}", event_time=DAY + timedelta(seconds=index + 1),
                   features={"size": row["size"], "area": row["area"]}, prediction=row["prediction"])
        for index, row in enumerate(_price_rows(50, seed=2))], ingested_at=DAY + HOUR)
    WindowScheduler(config=_config(model), engine=engine, worker="a").tick(DAY + HOUR + MINUTE)
    mape = metric(engine, "estimated_mape", window_start=DAY)
    assert mape.value is None and "label is 0" in details(mape)["not_estimated"]
    assert value(metric(engine, "estimated_mae", window_start=DAY)) > 0
