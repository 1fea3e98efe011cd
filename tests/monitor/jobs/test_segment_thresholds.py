"""Thresholds learned per segment: a small segment (3 % of the rows, windows of ~24 rows) of a
stationary stream raises no alert over 20 windows on rules with learned thresholds, while a real
shift in it is caught; the same on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from alerts.evaluation import evaluate_due
from monitor.config.models import DriftwatchConfig
from monitor.jobs.scheduler import WindowScheduler
from monitor.store.tables import alerts, metric_values
from tests.monitor.jobs.store_data import DAY, HOUR, Prediction, details, insert_predictions

COUNTRIES, SHARES = ("A", "B", "C"), (0.6, 0.37, 0.03)
LEVEL = {"A": 0.0, "B": -0.5, "C": 1.0}  # each segment's own level of risk: its own accuracy and positive rate
WINDOWS, PER_WINDOW, SHIFTED_FROM = 20, 800, 16  # segment C's amount and age shift in the last 4 windows
REFERENCE_ROWS = 20000


def _row(rng: random.Random, *, shift: float = 0.0) -> dict[str, Any]:
    country = rng.choices(COUNTRIES, SHARES)[0]
    moved = shift if country == "C" else 0.0
    amount, age = rng.gauss(100 + 20 * moved, 20), rng.gauss(400 + 150 * moved, 150)
    channel = rng.choices(("web", "app", "shop"), (0.5, 0.3, 0.2))[0]
    risk = LEVEL[country] + (amount - 100) / 20 - (age - 400) / 300
    score = 1 / (1 + math.exp(-(risk + rng.gauss(0, 0.5))))
    label = int(rng.random() < score)
    return {"amount": round(amount, 3), "account_age_days": round(age, 1), "channel": channel, "country": country,
            "score": round(score, 6), "prediction": int(score >= 0.5), "label": label}


def _model(reference: str) -> dict[str, Any]:
    return {
        "task": "binary_classification", "positive_label": 1, "window": "1h",
        "features": {"amount": {"type": "numeric"}, "account_age_days": {"type": "numeric"},
                     "channel": {"type": "categorical"}, "country": {"type": "categorical"}},
        "reference": {"file": reference}, "segments": ["country"],
        "drift": {"threshold": "reference"},
        # The whole model's windows are 800 rows: a segment's chunks are its share of that.
        "estimation": {"chunk_size": PER_WINDOW},
        "metrics": {"positive_rate": {"threshold": "reference"}},
    }


def _rules() -> list[dict[str, Any]]:
    watched = {"dataset_drift_share": "> 0.3", "estimated_accuracy": "outside reference",
               "estimated_roc_auc": "outside reference", "multivariate_drift": "outside reference",
               "positive_rate": "outside reference"}
    return [{"name": f"segment-{name}", "model": "fraud", "metric": name, "segment": "country=*", "when": when,
             "for": 1, "severity": "warning"} for name, when in watched.items()]


def _point(engine: Engine, name: str, window: Any, *, feature: str | None = None,
           segment: str | None = None) -> Any:
    c = metric_values.c
    with engine.connect() as connection:
        return connection.execute(select(metric_values).where(
            c.metric == name, c.window_start == window,
            c.feature.is_(None) if feature is None else c.feature == feature,
            c.segment.is_(None) if segment is None else c.segment == segment)).one()


@pytest.mark.slow  # ~25 s a backend: 20 windows of 4 segments, thresholds learned per segment
def test_a_small_clean_segment_stays_quiet_and_its_shift_is_caught(engine, tmp_path):
    rng = random.Random(3)
    reference = tmp_path / "reference.parquet"
    pd.DataFrame([_row(rng) for _ in range(REFERENCE_ROWS)]).to_parquet(reference)
    rows = []
    for window in range(WINDOWS):
        for index in range(PER_WINDOW):
            values = _row(rng, shift=2.0 if window >= SHIFTED_FROM else 0.0)
            rows.append(Prediction(f"w{window}-{index}", DAY + window * HOUR + timedelta(seconds=index * 4 + 1),
                                   {name: values[name] for name in ("amount", "account_age_days", "channel",
                                                                    "country")},
                                   values["prediction"], score=values["score"]))
    now = DAY + WINDOWS * HOUR + timedelta(minutes=5)
    insert_predictions(engine, rows, ingested_at=now - timedelta(minutes=2))
    settings = DriftwatchConfig.model_validate({"store": str(engine.url), "models": {"fraud": _model(str(reference))},
                                                "alerts": {"rules": _rules()}})
    evaluate_due(engine, settings, DAY)  # the rules exist before the first window: each window is judged
    report = WindowScheduler(config=settings, engine=engine, worker="w").tick(now)
    assert not report.failed and not report.model_errors, report
    evaluate_due(engine, settings, now)

    with engine.connect() as connection:
        fired = connection.execute(select(alerts.c.rule, alerts.c.segment, alerts.c.started_at)).all()
    early = DAY + SHIFTED_FROM * HOUR
    # Clean segments (A, B always; C before its shift) never alert ...
    assert [row for row in fired if row.segment != "country=C" or row.started_at < early] == []
    # ... while C's shift is caught: its features drift, and so does its multivariate drift.
    assert {row.rule for row in fired if row.segment == "country=C"} >= {"segment-dataset_drift_share",
                                                                          "segment-multivariate_drift"}

    # How C is judged: ~24-row windows against its own ~240 reference rows.
    window = DAY + 2 * HOUR
    count = _point(engine, "prediction_count", window, segment="country=C").value
    assert 10 <= count <= 45
    accuracy = details(_point(engine, "estimated_accuracy", window, segment="country=C"))
    assert accuracy["segment_thresholds"]["chunk_size"] == round(PER_WINDOW * accuracy["segment_thresholds"][
        "reference_rows"] / REFERENCE_ROWS)
    assert accuracy["segment_thresholds"]["chunks"] >= 5
    whole = details(_point(engine, "estimated_accuracy", window))
    assert "segment_thresholds" not in whole and whole["lower_threshold"] != accuracy["lower_threshold"]
    drift = details(_point(engine, "feature_drift_score", window, feature="amount", segment="country=C"))
    assert drift["learned"]["chunk_size"] == count and drift["learned"]["chunks"] >= 5
    # The segment's own column is constant in it: it learns a distance of 0 and scores 0, which is not drift.
    own = _point(engine, "feature_drift", window, feature="country", segment="country=C")
    assert own.value == 0.0


def test_a_fixed_distance_on_a_tiny_segment_window_is_not_judged(engine, tmp_path):
    rng = random.Random(8)
    reference = tmp_path / "reference.parquet"
    pd.DataFrame([{"amount": rng.gauss(100, 20), "country": country} for country in ("A", "C") * 1500]
                 ).to_parquet(reference)  # 1,500 reference rows a segment: auto picks Wasserstein (fixed 0.1)
    rows = [Prediction(f"p{index}", DAY + timedelta(seconds=index + 1),
                       {"amount": rng.gauss(100, 20), "country": "C" if index < 30 else "A"}, 0, score=0.2)
            for index in range(530)]
    insert_predictions(engine, rows, ingested_at=DAY + HOUR)
    model = {"task": "binary_classification", "positive_label": 1, "window": "1h", "segments": ["country"],
             "features": {"amount": {"type": "numeric"}, "country": {"type": "categorical"}},
             "reference": {"file": str(reference)}, "estimation": {"enabled": False}}
    settings = DriftwatchConfig.model_validate({"store": str(engine.url), "models": {"fraud": model}})
    report = WindowScheduler(config=settings, engine=engine, worker="w").tick(DAY + HOUR + timedelta(minutes=1))
    assert not report.failed and not report.model_errors, report

    # 30 clean rows: Wasserstein exceeds 0.1 by chance alone in nearly every such sample: not judged, never "no drift".
    tiny = _point(engine, "feature_drift_score", DAY, feature="amount", segment="country=C")
    assert tiny.value is None and tiny.is_breach is None
    assert "only 30 values: too few for wasserstein with a fixed threshold (0.1)" in details(tiny)["not_judged"]
    assert _point(engine, "dataset_drift_share", DAY, segment="country=C").value is None
    # The 500-row segment and the whole model are judged as before.
    big = _point(engine, "feature_drift_score", DAY, feature="amount", segment="country=A")
    assert big.value is not None and details(big)["method"] == "wasserstein" and big.is_breach is False
    assert _point(engine, "feature_drift_score", DAY, feature="amount").value is not None
