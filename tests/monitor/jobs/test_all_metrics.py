"""Every metric name of DESIGN.md is produced, with known answers where the data fixes them."""

from __future__ import annotations

import random
from datetime import timedelta

import pandas as pd
import pytest

from monitor.jobs.scheduler import WindowScheduler
from monitor.metrics.names import ALL_METRICS, FEATURE_METRICS
from tests.monitor.jobs.store_data import (
    DAY,
    FRAUD_MODEL,
    HOUR,
    Prediction,
    config,
    details,
    fraud_traffic,
    insert_dead_letter,
    insert_predictions,
    metric,
    metric_rows,
    upsert_labels,
    value,
)

REGRESSION_MODEL = {
    "task": "regression",
    "window": "1h",
    "features": {"rooms": {"type": "numeric", "min": 1, "max": 10}, "city": {"type": "categorical"}},
}


def _regression_rows(start, n, *, seed, drift=0.0, prefix="r"):
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        rooms = rng.randint(1, 8)
        price = 50.0 * rooms + rng.gauss(0, 10)
        rows.append(Prediction(
            prediction_id=f"{prefix}{index}", event_time=start + timedelta(seconds=index * 3600 / n),
            features={"rooms": rooms, "city": rng.choice(["Berlin", "Paris"])}, model="price",
            prediction=round(price + drift, 3), score=None, latency_ms=5.0 + index % 7,
        ))
    return rows


def test_every_metric_name_is_produced(engine, tmp_path):
    # Binary model: first-N reference, labels and scores, some dead letters.
    fraud = fraud_traffic(DAY, 2, 60)
    insert_predictions(engine, fraud, ingested_at=DAY + 2 * HOUR)
    upsert_labels(engine, {row.prediction_id: row.prediction if i % 5 else 1 - row.prediction
                           for i, row in enumerate(fraud)}, ingested_at=DAY + 2 * HOUR)
    for offset in range(3):
        insert_dead_letter(engine, model="fraud", received_at=DAY + HOUR + timedelta(minutes=offset), offset=offset)
    insert_dead_letter(engine, model="other", received_at=DAY + HOUR, offset=99)

    # Regression model: reference file with predictions and labels.
    reference = _regression_rows(DAY - 24 * HOUR, 200, seed=1, prefix="ref")
    pd.DataFrame({
        "rooms": [row.features["rooms"] for row in reference],
        "city": [row.features["city"] for row in reference],
        "prediction": [row.prediction for row in reference],
        "label": [round(50.0 * row.features["rooms"], 3) for row in reference],
    }).to_parquet(tmp_path / "price_reference.parquet")
    price_model = {**REGRESSION_MODEL, "reference": {"file": str(tmp_path / "price_reference.parquet")}}
    price = _regression_rows(DAY + HOUR, 100, seed=2, drift=30.0)
    insert_predictions(engine, price, ingested_at=DAY + 2 * HOUR)
    upsert_labels(engine, {row.prediction_id: round(50.0 * row.features["rooms"], 3) for row in price},
                  ingested_at=DAY + 2 * HOUR, model="price")

    # A model whose reference file holds its amounts as text: reference_problem.
    (tmp_path / "legacy_reference.csv").write_text("amount,country\n" + "12.5 EUR,DE\n" * 30)
    legacy_model = {**FRAUD_MODEL, "reference": {"file": str(tmp_path / "legacy_reference.csv")}}
    insert_predictions(engine, fraud_traffic(DAY + HOUR, 1, 10, model="legacy"), ingested_at=DAY + 2 * HOUR)

    cfg = config({"fraud": FRAUD_MODEL, "price": price_model, "legacy": legacy_model})
    report = WindowScheduler(config=cfg, engine=engine, worker="w").tick(DAY + 2 * HOUR + timedelta(minutes=1))
    assert not report.failed and not report.model_errors
    assert {o.status for o in report.outcomes if o.job.key.model != "legacy"} == {"succeeded"}

    window = DAY + HOUR
    fraud_rows = [row for row in metric_rows(engine, model="fraud", window_start=window) if row.value is not None]
    price_rows = [row for row in metric_rows(engine, model="price", window_start=window) if row.value is not None]
    legacy_rows = metric_rows(engine, model="legacy", metric="reference_problem", window_start=window)
    assert [(row.feature, row.value) for row in legacy_rows] == [("amount", 1.0)]
    produced = {row.metric for row in fraud_rows + price_rows + legacy_rows}
    # The one multiclass-only metric: its rows are checked in test_estimation_cells.py.
    expected = set(ALL_METRICS) - {"estimated_confusion_cell"}
    assert produced == expected, f"missing: {sorted(expected - produced)}"
    for row in fraud_rows + price_rows + legacy_rows:
        assert (row.feature is not None) == (row.metric in FEATURE_METRICS), row.metric

    # Known answers.
    assert value(metric(engine, "dead_letter_count", window_start=window)) == 3
    assert value(metric(engine, "prediction_count", window_start=window)) == 60
    assert value(metric(engine, "label_coverage", window_start=window)) == 1.0
    assert value(metric(engine, "accuracy", window_start=window)) == pytest.approx(48 / 60)
    assert value(metric(engine, "latency_p99_ms", window_start=window, model="price")) == pytest.approx(11.0)
    assert value(metric(engine, "mae", window_start=window, model="price")) == pytest.approx(30.0, abs=3.0)
    drop = metric(engine, "performance_drop", window_start=window, model="price")
    assert value(drop) > 20 and details(drop)["main_metric"] == "rmse"
    concept = metric(engine, "concept_drift", window_start=window, model="price")
    assert value(concept) == 1.0 and concept.is_breach is True and details(concept)["p_value"] < 0.05
    prediction_drift = metric(engine, "prediction_drift_score", window_start=window, model="price")
    assert prediction_drift.is_breach is True and details(prediction_drift)["method"] == "ks"
