"""``threshold: reference`` for latency percentiles and the error rate: baselines keep latency_ms and status."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, norm
from sqlalchemy import select, update

from alerts.evaluation import evaluate_window
from monitor.config.models import DriftwatchConfig
from monitor.store.row_format import deserialise, serialise
from monitor.store.tables import alerts, reference_sets
from tests.monitor.jobs.store_data import DAY, HOUR, Prediction, details, insert_predictions, metric, value

MINUTE = timedelta(minutes=1)
SERVING = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate")
MODEL = {"task": "binary_classification", "positive_label": 1, "window": "1h",
         "features": {"x1": {"type": "numeric"}}, "estimation": {"enabled": False},
         "metrics": {name: {"threshold": "reference"} for name in SERVING}}


def _rows(count: int, *, seed: int, latency: float = 50.0, errors: float = 0.02) -> list[dict]:
    rng = random.Random(seed)
    return [{"x1": round(rng.gauss(0, 1), 6), "prediction": int(rng.random() < 0.3),
             "latency_ms": round(rng.gauss(latency, 5), 3), "status": "error" if rng.random() < errors else "ok"}
            for _ in range(count)]


def _window(engine, rows, start, *, prefix):
    insert_predictions(engine, [
        Prediction(prediction_id=f"{prefix}-{index}", event_time=start + timedelta(seconds=index + 1),
                   features={"x1": row["x1"]}, prediction=row["prediction"], latency_ms=row["latency_ms"],
                   status=row["status"])
        for index, row in enumerate(rows)
    ], ingested_at=start + HOUR)


def _config(model, rules=()):
    return DriftwatchConfig.model_validate({"store": "sqlite://", "models": {"fraud": model},
                                            "alerts": {"rules": list(rules)}})


def _tick(engine, model, at, *, rules=(), worker="a"):
    from monitor.jobs.scheduler import WindowScheduler

    WindowScheduler(config=_config(model, rules), engine=engine, worker=worker).tick(at)


def _by_hand(reference: list[dict], chunk: int) -> dict[str, tuple[float, float]]:
    """mean ± 3 std over consecutive reference chunks of the window's size."""
    frame = pd.DataFrame(reference)
    chunks = [frame.iloc[start:start + chunk] for start in range(0, len(frame) - chunk + 1, chunk)]
    series = {
        "latency_p50_ms": [float(np.percentile(c["latency_ms"], 50)) for c in chunks],
        "latency_p95_ms": [float(np.percentile(c["latency_ms"], 95)) for c in chunks],
        "latency_p99_ms": [float(np.percentile(c["latency_ms"], 99)) for c in chunks],
        "error_rate": [float((c["status"] == "error").mean()) for c in chunks],
    }
    bounds = {name: (float(np.mean(s) - 3 * np.std(s)), float(np.mean(s) + 3 * np.std(s)))
              for name, s in series.items()}
    # The error rate is a share of rows: no tighter than the binomial counts of the chunk at its mean.
    low, high = binom.ppf([1.0 - norm.cdf(3.0), norm.cdf(3.0)], chunk, float(np.mean(series["error_rate"]))) / chunk
    bounds["error_rate"] = (min(bounds["error_rate"][0], float(low)), max(bounds["error_rate"][1], float(high)))
    return bounds


def test_latency_and_error_rate_learn_from_a_copied_baseline_and_fire_outside_reference(engine):
    model = {**MODEL, "reference": {"first": 500}}
    rule = {"name": "slow", "model": "fraud", "metric": "latency_p95_ms", "when": "outside reference"}
    baseline = _rows(500, seed=1)
    _window(engine, baseline, DAY - HOUR, prefix="ref")
    _window(engine, _rows(100, seed=2), DAY, prefix="clean")
    _window(engine, _rows(100, seed=3, latency=120.0, errors=0.3), DAY + HOUR, prefix="bad")
    _tick(engine, model, DAY + 2 * HOUR + MINUTE, rules=[rule])

    expected = _by_hand(baseline, 100)
    for name in SERVING:
        clean = metric(engine, name, window_start=DAY)
        got = details(clean)
        lower, upper = expected[name]
        assert got["threshold_source"] == "reference" and got["learned"]["chunks"] == 5, name
        assert got["upper_threshold"] == pytest.approx(upper, rel=1e-9), name
        if lower > 0:
            assert got["lower_threshold"] == pytest.approx(lower, rel=1e-9), name
        else:  # at the bound (0): dropped
            assert got["lower_threshold"] is None, name
        assert clean.is_breach is False, name
        bad = metric(engine, name, window_start=DAY + HOUR)
        assert bad.is_breach is True and value(bad) > upper, name

    cfg = _config(model, [rule])
    report = evaluate_window(engine, cfg, model="fraud", model_version="v1", window_start=DAY + HOUR,
                             window_end=DAY + 2 * HOUR, now=DAY + 2 * HOUR + 2 * MINUTE)
    assert [t.event for t in report.transitions] == ["firing"]
    with engine.connect() as connection:
        [alert] = connection.execute(select(alerts)).all()
    assert (alert.rule, alert.state, alert.condition) == ("slow", "firing", "outside reference")


def test_a_reference_file_with_latency_and_status_columns_teaches_them(engine, tmp_path):
    reference = _rows(500, seed=1)
    path = tmp_path / "reference.csv"
    pd.DataFrame(reference).to_csv(path, index=False)
    model = {**MODEL, "reference": {"file": str(path)}}
    _window(engine, _rows(100, seed=2), DAY, prefix="w1")
    _tick(engine, model, DAY + HOUR + MINUTE)
    expected = _by_hand(reference, 100)
    for name in SERVING:
        row = metric(engine, name, window_start=DAY)
        assert details(row)["upper_threshold"] == pytest.approx(expected[name][1], rel=1e-9), name
        assert row.is_breach is False


def test_a_reference_without_latency_or_status_says_why_and_never_learns_a_zero_error_rate(engine, tmp_path):
    path = tmp_path / "reference.csv"
    pd.DataFrame(_rows(500, seed=1)).drop(columns=["latency_ms", "status"]).to_csv(path, index=False)
    model = {**MODEL, "reference": {"file": str(path)}}
    _window(engine, _rows(100, seed=2), DAY, prefix="w1")
    _tick(engine, model, DAY + HOUR + MINUTE)
    for name, column in (("latency_p95_ms", "latency_ms"), ("error_rate", "status")):
        row = metric(engine, name, window_start=DAY)
        assert f"the reference has no {column}" in details(row)["threshold_not_learned"], name
        assert "upper_threshold" not in details(row) and row.is_breach is not True


def test_a_baseline_stored_before_latency_was_kept_is_still_read(engine):
    """A copied baseline whose stored columns predate latency_ms/status: windows still compute, and say why."""
    model = {**MODEL, "reference": {"first": 500}}
    _window(engine, _rows(500, seed=1), DAY - HOUR, prefix="ref")
    _window(engine, _rows(100, seed=2), DAY, prefix="w1")
    _tick(engine, model, DAY + HOUR + MINUTE)
    assert details(metric(engine, "error_rate", window_start=DAY))["threshold_source"] == "reference"
    with engine.begin() as connection:
        [(set_id, blob)] = connection.execute(select(reference_sets.c.id, reference_sets.c.columns)).all()
        table = deserialise(blob)
        old = table.drop_columns(["latency_ms", "status", "probabilities"])
        connection.execute(update(reference_sets).where(reference_sets.c.id == set_id)
                           .values(columns=serialise(old)))
    _window(engine, _rows(100, seed=3), DAY + HOUR, prefix="w2")
    _tick(engine, model, DAY + 2 * HOUR + MINUTE, worker="b")
    row = metric(engine, "latency_p99_ms", window_start=DAY + HOUR)
    assert value(row) > 0
    assert "the reference has no latency_ms" in details(row)["threshold_not_learned"]
    # the rest of the window still uses the old baseline
    assert metric(engine, "feature_drift_score", window_start=DAY + HOUR, feature="x1").value is not None
