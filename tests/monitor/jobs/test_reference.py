"""Baselines from a file, a time window, or the first N predictions of each version; stored once."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import select

from monitor.jobs.scheduler import WindowScheduler
from monitor.store.tables import reference_data, reference_sets
from tests.monitor.jobs.store_data import (
    DAY,
    FRAUD_MODEL,
    HOUR,
    config,
    count,
    details,
    fraud_traffic,
    insert_predictions,
    metric,
    upsert_labels,
    value,
)

MINUTE = timedelta(minutes=1)


def _sets(engine):
    with engine.connect() as connection:
        return list(connection.execute(select(reference_sets).order_by(reference_sets.c.model_version)))


def test_file_reference_is_stored_once_and_used_with_its_labels(engine, tmp_path):
    baseline = fraud_traffic(DAY - 48 * HOUR, 1, 300, seed=9, prefix="ref")
    path = tmp_path / "fraud_reference.csv"
    pd.DataFrame({
        "amount": [row.features["amount"] for row in baseline],
        "country": [row.features["country"] for row in baseline],
        "prediction": [row.prediction for row in baseline],
        "score": [row.score for row in baseline],
        "label": [row.prediction for row in baseline],  # the model was always right on the baseline
        "unused": 1,
    }).to_csv(path, index=False)
    model = {**FRAUD_MODEL, "reference": {"file": str(path)}}
    rows = fraud_traffic(DAY, 2, 100, shift=1.0)  # amounts drift upwards
    insert_predictions(engine, rows, ingested_at=DAY + 2 * HOUR)
    upsert_labels(engine, {row.prediction_id: 1 - row.prediction for row in rows[100:150]},
                  ingested_at=DAY + 2 * HOUR)

    WindowScheduler(config=config({"fraud": model}), engine=engine, worker="a").tick(DAY + HOUR + MINUTE)
    [stored] = _sets(engine)
    assert (stored.model_version, stored.source, stored.row_count) == ("*", f"file:{path}", 300)
    with engine.connect() as connection:
        first_row = connection.execute(select(reference_data).where(reference_data.c.row_index == 0)).one()
    assert set(first_row.features) == {"amount", "country"}  # only the configured features are kept
    assert first_row.label == str(baseline[0].prediction) and first_row.prediction_id is None

    # The file goes away: the stored copy is the baseline from now on, for every scheduler.
    path.unlink()
    WindowScheduler(config=config({"fraud": model}), engine=engine, worker="b").tick(DAY + 2 * HOUR + MINUTE)
    assert _sets(engine) == [stored]
    window = DAY + HOUR
    drift = metric(engine, "feature_drift_score", window_start=window, feature="amount")
    assert drift.is_breach is True and details(drift)["n_reference"] == 300
    drop = metric(engine, "performance_drop", window_start=window)
    assert value(drop) == 1.0  # baseline accuracy 1.0, window accuracy 0.0 on its 50 labels
    assert value(metric(engine, "concept_drift", window_start=window)) == 1.0


def test_window_reference_is_taken_once_the_window_has_closed(engine):
    model = {**FRAUD_MODEL, "reference": {"window": {"start": DAY.isoformat(), "end": (DAY + 2 * HOUR).isoformat()}}}
    cfg = config({"fraud": model})
    insert_predictions(engine, fraud_traffic(DAY, 1, 40), ingested_at=DAY + HOUR)
    scheduler = WindowScheduler(config=cfg, engine=engine, worker="w")
    scheduler.tick(DAY + HOUR + MINUTE)
    reason = details(metric(engine, "dataset_drift", window_start=DAY))["reason"]
    assert "reference window ends at 2026-03-02T02:00:00Z" in reason
    assert _sets(engine) == []

    insert_predictions(engine, fraud_traffic(DAY + HOUR, 2, 40, seed=1, prefix="b"), ingested_at=DAY + 3 * HOUR)
    scheduler.tick(DAY + 3 * HOUR + MINUTE)
    [stored] = _sets(engine)
    assert stored.model_version == "*" and stored.row_count == 80 and stored.source.startswith("window:")
    drift = metric(engine, "feature_drift_score", window_start=DAY + 2 * HOUR, feature="amount")
    assert details(drift)["n_reference"] == 80 and drift.is_breach is False


def test_first_n_reference_per_version_and_late_reference_labels(engine):
    cfg = config({"fraud": {**FRAUD_MODEL, "reference": {"first": 50}}})
    v1 = fraud_traffic(DAY, 2, 40)
    insert_predictions(engine, v1, ingested_at=DAY + 2 * HOUR)
    scheduler = WindowScheduler(config=cfg, engine=engine, worker="w")
    scheduler.tick(DAY + 2 * HOUR + MINUTE)
    [v1_set] = _sets(engine)
    assert (v1_set.model_version, v1_set.row_count, v1_set.source) == ("v1", 50, "first:50")
    with engine.connect() as connection:
        ids = [row.prediction_id for row in connection.execute(
            select(reference_data.c.prediction_id).order_by(reference_data.c.row_index))]
    assert ids == [row.prediction_id for row in v1[:50]]  # the first 50 by event time
    assert "no label" in details(metric(engine, "concept_drift", window_start=DAY + HOUR))["reason"]

    # A new version with much larger amounts: it gets its own baseline, so it is
    # compared with itself, not with v1.
    v2 = fraud_traffic(DAY + 2 * HOUR, 2, 40, version="v2", shift=3.0, seed=5)
    insert_predictions(engine, v2, ingested_at=DAY + 4 * HOUR)
    # Labels of v1's baseline predictions arrive late; they reach its concept drift.
    upsert_labels(engine, {row.prediction_id: row.prediction for row in v1}, ingested_at=DAY + 4 * HOUR)
    scheduler.tick(DAY + 4 * HOUR + MINUTE)
    assert [(s.model_version, s.row_count) for s in _sets(engine)] == [("v1", 50), ("v2", 50)]
    v2_drift = metric(engine, "feature_drift_score", window_start=DAY + 3 * HOUR, feature="amount",
                      model_version="v2")
    assert v2_drift.is_breach is False and details(v2_drift)["n_reference"] == 50
    concept = metric(engine, "concept_drift", window_start=DAY + HOUR)  # recomputed: its labels arrived
    assert value(concept) == 0.0 and details(concept)["n_reference"] == 50
    assert count(engine, reference_sets) == 2
