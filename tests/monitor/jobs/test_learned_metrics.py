"""Thresholds learned from the reference for any metric (``models.<name>.metrics.<m>.threshold: reference``)."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, norm
from sqlalchemy import select

from alerts.evaluation import evaluate_window
from monitor.config.models import DriftwatchConfig
from monitor.errors import ConfigError
from monitor.jobs.learned_metrics import apply_learned, learn_bounds
from monitor.jobs.scheduler import WindowScheduler
from monitor.metrics.point import MetricPoint
from monitor.store.stored_rows import StoredRows
from monitor.store.tables import alerts
from tests.monitor.jobs.store_data import DAY, HOUR, Prediction, details, insert_predictions, metric, value

MINUTE = timedelta(minutes=1)
MODEL = {
    "task": "binary_classification",
    "positive_label": 1,
    "window": "1h",
    "features": {"x1": {"type": "numeric"}, "country": {"type": "categorical"}},
}


def _rows(count: int, *, seed: int, missing: float = 0.05, positive: float = 0.3) -> list[dict]:
    rng = random.Random(seed)
    return [{"x1": None if rng.random() < missing else round(rng.gauss(0, 1), 6),
             "country": rng.choice(["DE", "FR", "US"]), "prediction": int(rng.random() < positive)}
            for _ in range(count)]


def _reference_file(tmp_path, rows):
    path = tmp_path / "reference.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _window(engine, rows, start, *, prefix):
    insert_predictions(engine, [
        Prediction(prediction_id=f"{prefix}-{index}", event_time=start + timedelta(seconds=index + 1),
                   features={"country": row["country"], **({} if row["x1"] is None else {"x1": row["x1"]})},
                   prediction=row["prediction"])
        for index, row in enumerate(rows)
    ], ingested_at=start + HOUR)


def _config(model, rules=()):
    return DriftwatchConfig.model_validate({"store": "sqlite://", "models": {"fraud": model},
                                            "alerts": {"rules": list(rules)}})


def _by_hand(series: list[float], k: float = 3.0) -> tuple[float, float]:
    data = np.asarray(series, dtype=float)
    return float(data.mean() - k * data.std()), float(data.mean() + k * data.std())


def _share_by_hand(series: list[float], rows: int, k: float = 3.0) -> tuple[float, float]:
    """A share of rows: mean ± k std, but no tighter than the binomial counts of ``rows`` rows at the mean share."""
    lower, upper = _by_hand(series, k)
    low, high = binom.ppf([1.0 - norm.cdf(k), norm.cdf(k)], rows, float(np.mean(series))) / rows
    return min(lower, float(low)), max(upper, float(high))


def test_missing_share_and_positive_rate_learn_their_thresholds_and_fire_outside_reference(engine, tmp_path):
    reference = _rows(2000, seed=1)
    path = _reference_file(tmp_path, reference)
    model = {**MODEL, "reference": {"file": str(path)}, "estimation": {"enabled": False},
             "metrics": {"missing_share": {"threshold": "reference"},
                         "positive_rate": {"threshold": "reference", "threshold_std": 2}}}
    rule = {"name": "missing", "model": "fraud", "metric": "missing_share", "feature": "x1",
            "when": "outside reference"}
    cfg = _config(model, [rule])
    # 400 rows, a third of x1 missing (the reference: 5 %), positives as in the reference
    _window(engine, _rows(400, seed=2, missing=0.33), DAY, prefix="w1")
    WindowScheduler(config=cfg, engine=engine, worker="a").tick(DAY + HOUR + MINUTE)

    # By hand: the reference in consecutive chunks of the window's 400 rows (5 chunks), mean ± k std.
    frame = pd.DataFrame(reference)
    chunks = [frame.iloc[start:start + 400] for start in range(0, 2000, 400)]
    lower, upper = _share_by_hand([float(chunk["x1"].isna().mean()) for chunk in chunks], 400)
    missing = metric(engine, "missing_share", window_start=DAY, feature="x1")
    got = details(missing)
    assert got["threshold_source"] == "reference" and got["learned"]["chunk_size"] == 400
    assert got["learned"]["chunks"] == 5
    assert got["upper_threshold"] == pytest.approx(upper, rel=1e-9) and missing.threshold == pytest.approx(upper)
    assert (got["lower_threshold"] is None) == (lower <= 0) and lower < upper
    assert value(missing) > upper and missing.is_breach is True
    # country is never missing, in the reference either: its learned band is [0, 0] (upper 0), and 0 is inside.
    country = metric(engine, "missing_share", window_start=DAY, feature="country")
    assert details(country)["upper_threshold"] == 0.0 and country.is_breach is False

    rate_lower, rate_upper = _share_by_hand([float(chunk["prediction"].mean()) for chunk in chunks], 400, k=2.0)
    rate = metric(engine, "positive_rate", window_start=DAY)
    assert (details(rate)["lower_threshold"], details(rate)["upper_threshold"]) == pytest.approx(
        (rate_lower, rate_upper), rel=1e-9)
    assert details(rate)["learned"]["std_multiplier"] == 2.0
    assert rate.is_breach is (not rate_lower <= value(rate) <= rate_upper)
    # a metric not configured keeps no learned thresholds
    assert "lower_threshold" not in details(metric(engine, "type_mismatch_share", window_start=DAY, feature="x1"))

    report = evaluate_window(engine, cfg, model="fraud", model_version="v1", window_start=DAY,
                             window_end=DAY + HOUR, now=DAY + HOUR + 2 * MINUTE)
    assert [t.event for t in report.transitions] == ["firing"]
    with engine.connect() as connection:
        [alert] = connection.execute(select(alerts)).all()
    assert (alert.rule, alert.feature, alert.condition) == ("missing", "x1", "outside reference")


def test_a_clean_window_stays_inside_and_a_small_reference_says_why(engine, tmp_path):
    model = {**MODEL, "reference": {"file": str(_reference_file(tmp_path, _rows(4000, seed=1)))},
             "estimation": {"enabled": False}, "metrics": {"missing_share": {"threshold": "reference"}}}
    _window(engine, _rows(400, seed=4), DAY, prefix="w1")
    # 1000 rows: the reference holds only 4 chunks of this window's size
    _window(engine, _rows(1000, seed=5), DAY + HOUR, prefix="w2")
    WindowScheduler(config=_config(model), engine=engine, worker="a").tick(DAY + 2 * HOUR + MINUTE)
    clean = metric(engine, "missing_share", window_start=DAY, feature="x1")
    assert clean.is_breach is False and details(clean)["upper_threshold"] > value(clean)
    big = metric(engine, "missing_share", window_start=DAY + HOUR, feature="x1")
    assert "lower_threshold" not in details(big)
    assert "at least 5 chunks of 1000 rows" in details(big)["threshold_not_learned"]
    assert not math.isnan(value(big))  # the value itself stands


def test_learn_bounds_takes_mean_and_std_over_the_chunks_and_drops_thresholds_at_the_bound():
    outputs = pd.DataFrame({"prediction": [str(i % 2) for i in range(60)]})
    rows = StoredRows(outputs=outputs, features=pd.DataFrame(index=pd.RangeIndex(60)))
    seen: list[int] = []

    def compute(chunk: StoredRows) -> list[MetricPoint]:
        seen.append(len(chunk))
        share = float((len(seen) - 1) % 6 + 1) / 10  # 0.1 .. 0.6 over the 6 chunks
        return [MetricPoint("missing_share", share, feature="a"), MetricPoint("r2", -share)]

    learned = learn_bounds(rows, compute, {"missing_share": 1.0, "r2": 3.0}, chunk_size=10)
    assert seen == [10] * 6
    bounds = learned[("missing_share", "a")]
    mean, std = np.mean([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), np.std([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert (bounds.lower, bounds.upper) == pytest.approx((mean - std, mean + std))
    r2 = learned[("r2", None)]
    assert r2.lower == pytest.approx(-mean - 3 * std) and r2.upper == pytest.approx(-mean + 3 * std)
    wide = learn_bounds(rows, compute, {"missing_share": 3.0}, chunk_size=10)[("missing_share", "a")]
    assert wide.lower is None  # mean - 3 std < 0: a share cannot go there, so no lower threshold
    [point] = apply_learned([MetricPoint("missing_share", 0.9, feature="a")], learned, {"missing_share": 1.0})
    assert point.is_breach is True and point.details["upper_threshold"] == pytest.approx(mean + std)
    [unknown] = apply_learned([MetricPoint("missing_share", 0.9, feature="b")], learned, {"missing_share": 1.0})
    assert unknown.is_breach is None and "no missing_share for this feature" in unknown.details["threshold_not_learned"]


def test_feature_drift_scores_with_learned_thresholds_fire_outside_reference(engine, tmp_path):
    reference = _rows(3000, seed=1, missing=0.0)
    model = {**MODEL, "reference": {"file": str(_reference_file(tmp_path, reference))},
             "estimation": {"enabled": False}, "drift": {"threshold": "reference"}}
    rule = {"name": "x1-drift", "model": "fraud", "metric": "feature_drift_score", "feature": "x1",
            "when": "outside reference"}
    cfg = _config(model, [rule])
    shifted = [{**row, "x1": row["x1"] + 1.0} for row in _rows(300, seed=2, missing=0.0)]
    _window(engine, shifted, DAY, prefix="w1")
    WindowScheduler(config=cfg, engine=engine, worker="a").tick(DAY + HOUR + MINUTE)
    score = metric(engine, "feature_drift_score", window_start=DAY, feature="x1")
    got = details(score)
    assert got["threshold_source"] == "reference"
    # a distance drifts above its learned threshold, a p-value below it
    if got["learned"]["scale"] == "distance":
        assert got["upper_threshold"] == pytest.approx(score.threshold) and got["lower_threshold"] is None
    else:
        assert got["lower_threshold"] == pytest.approx(score.threshold) and got["upper_threshold"] is None
    report = evaluate_window(engine, cfg, model="fraud", model_version="v1", window_start=DAY,
                             window_end=DAY + HOUR, now=DAY + HOUR + 2 * MINUTE)
    assert [t.event for t in report.transitions] == ["firing"]


@pytest.mark.parametrize(("model_extra", "rule", "message"), [
    ({}, {"metric": "missing_share", "feature": "x1", "when": "outside reference"},
     "needs models.fraud.metrics.missing_share.threshold: reference"),
    ({}, {"metric": "feature_drift_score", "feature": "x1", "when": "outside reference"},
     "needs drift.threshold: reference"),
    ({}, {"metric": "prediction_count", "when": "outside reference"}, "needs a metric that learns its thresholds"),
    ({"metrics": {"missing_share": {"threshold": "reference"}}}, {"metric": "missing_share", "when": "outside band"},
     "needs a metric with a sampling-error band"),
    ({"metrics": {"latency_max_ms": {"threshold": "reference"}}}, None,
     "unknown metric whose threshold can be learned from the reference 'latency_max_ms'"),
    ({"metrics": {"missing_share": {"threshold": 0.2}}}, None, "threshold must be 'reference'"),
])
def test_bad_learned_threshold_settings_are_named(model_extra, rule, message):
    rules = [] if rule is None else [{"name": "r", "model": "fraud", **rule}]
    with pytest.raises((ValueError, ConfigError)) as info:
        _config({**MODEL, **model_extra}, rules)
    assert message in str(info.value)


def test_outside_reference_on_a_configured_metric_loads():
    cfg = _config({**MODEL, "metrics": {"missing_share": {"threshold": "reference"}}},
                  [{"name": "r", "model": "*", "metric": "missing_share", "feature": "*", "when": "outside reference"}])
    assert cfg.models["fraud"].metrics["missing_share"].threshold_std == 3.0
