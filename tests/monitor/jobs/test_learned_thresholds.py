"""``drift.threshold: reference`` in the service: learned per feature from the stored reference, stored, used."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from monitor.jobs.scheduler import WindowScheduler
from tests.monitor.jobs.store_data import DAY, HOUR, Prediction, config, details, insert_predictions, metric

NOW = DAY + 4 * HOUR + timedelta(minutes=1)
COUNTRIES = [f"c{index}" for index in range(40)]
SHARES = [0.2] * 4 + [0.2 / 36] * 36  # 4 common values, 36 rare ones


def _rows(rng: random.Random, n: int, *, shift: float = 0.0) -> list[dict[str, Any]]:
    shares = list(SHARES)
    if shift:
        shares[0] = 2.0  # c0 from 20 % to about 70 % of the rows
    return [{"amount": rng.gauss(100 + shift, 10), "country": rng.choices(COUNTRIES, shares)[0]} for _ in range(n)]


def _window(rng: random.Random, hour: int, n: int, *, shift: float = 0.0, prefix: str) -> list[Prediction]:
    start = DAY + hour * HOUR
    return [Prediction(f"{prefix}{index}", start + timedelta(seconds=index * 3600 / n + 1), features, 1, score=0.9)
            for index, features in enumerate(_rows(rng, n, shift=shift))]


def _model(reference: Path, drift: dict[str, Any]) -> dict[str, Any]:
    return {"task": "binary_classification", "positive_label": 1, "window": "1h",
            "features": {"amount": {"type": "numeric"}, "country": {"type": "categorical"}},
            "reference": {"file": str(reference)}, "drift": drift}


def test_learned_thresholds_are_stored_and_used(engine, tmp_path):
    rng = random.Random(14)
    reference = tmp_path / "reference.parquet"
    pd.DataFrame(_rows(rng, 3000)).to_parquet(reference)
    rows = [*_window(rng, 0, 120, prefix="clean"), *_window(rng, 1, 120, shift=15.0, prefix="shifted"),
            *_window(rng, 2, 700, prefix="big")]
    insert_predictions(engine, rows, ingested_at=NOW - timedelta(minutes=1))
    drift = {"threshold": "reference", "per_feature": {"country": {"threshold": "reference"}}}
    report = WindowScheduler(config=config({"fraud": _model(reference, drift)}), engine=engine, worker="w").tick(NOW)
    assert not report.model_errors and not report.failed, report

    clean, shifted, big = DAY, DAY + HOUR, DAY + 2 * HOUR
    for feature in ("amount", "country"):
        row = metric(engine, "feature_drift_score", window_start=clean, feature=feature)
        learned = details(row)
        assert learned["threshold_source"] == "reference"
        assert learned["learned"]["chunk_size"] == 120 and learned["learned"]["chunks"] == 25
        assert row.threshold == learned["threshold"]
        assert abs(row.threshold - (learned["learned"]["mean"] + 3 * learned["learned"]["std"])) < 1e-9
        assert row.threshold != 0.1  # not the method default (Wasserstein / Jensen-Shannon, 0.1)
        assert row.is_breach is (row.value >= row.threshold)
        # The same learned threshold (cached for the window size) judges the shifted window, which drifts.
        moved = metric(engine, "feature_drift_score", window_start=shifted, feature=feature)
        assert moved.threshold == row.threshold and moved.is_breach is True
        assert metric(engine, "feature_drift", window_start=shifted, feature=feature).value == 1.0
    # The clean window's many-valued categorical is far from the reference by chance alone: the fixed
    # 0.1 would flag it, the learned threshold does not.
    country = metric(engine, "feature_drift_score", window_start=clean, feature="country")
    assert country.value >= 0.1 and country.is_breach is False
    assert metric(engine, "dataset_drift", window_start=clean).value == 0.0

    # 700 rows a window need 5 chunks of 700 = 3,500 reference rows; the reference has 3,000: not judged.
    for feature in ("amount", "country"):
        verdict = metric(engine, "feature_drift", window_start=big, feature=feature)
        assert verdict.value is None and verdict.is_breach is None
        assert "at least 3500 reference values, but the reference has 3000" in details(verdict)["not_judged"]
