"""Which feature to look at first: a stream where only `amount` drifts while performance drops."""

from __future__ import annotations

import math
import random
import re
from datetime import timedelta

import pandas as pd
from sqlalchemy import select

from alerts.channels.presentation import detail_lines
from alerts.evaluation import evaluate_window
from alerts.notification import Notification
from monitor.config.models import DriftwatchConfig
from monitor.jobs.feature_ranking import rank_window
from monitor.jobs.scheduler import WindowScheduler
from monitor.metrics.ranking import MIN_CORRELATION
from monitor.store.tables import notifications
from tests.monitor.jobs.store_data import DAY, HOUR, Prediction, details, insert_predictions, metric, upsert_labels

MINUTE = timedelta(minutes=1)
WINDOWS = 7
MODEL = {
    "task": "binary_classification", "positive_label": 1, "window": "1h",
    "features": {"amount": {"type": "numeric"}, "age": {"type": "numeric"}, "country": {"type": "categorical"}},
    "estimation": {"enabled": False},
}


def _rows(count: int, *, seed: int, shift: float = 0.0, flip: float = 0.05) -> list[dict]:
    """The model predicts amount > 0; labels agree except for a share ``flip`` of rows.
    Drifting `amount` comes with more flips: performance drops as only `amount` drifts."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        amount = rng.gauss(shift, 1.0)
        score = 1 / (1 + math.exp(-2 * amount))
        truth = int(amount > 0)
        rows.append({"amount": round(amount, 6), "age": round(rng.gauss(40, 10), 3),
                     "country": rng.choice(["DE", "FR", "US"]), "score": round(score, 6),
                     "prediction": int(score > 0.5), "label": 1 - truth if rng.random() < flip else truth})
    return rows


def _store_window(engine, rows, start, prefix):
    predictions = [Prediction(prediction_id=f"{prefix}-{i}", event_time=start + timedelta(seconds=i + 1),
                              features={k: row[k] for k in ("amount", "age", "country")},
                              prediction=row["prediction"], score=row["score"]) for i, row in enumerate(rows)]
    insert_predictions(engine, predictions, ingested_at=start + HOUR)
    upsert_labels(engine, {p.prediction_id: row["label"] for p, row in zip(predictions, rows, strict=True)},
                  ingested_at=start + HOUR)


def test_only_amount_drifts_while_performance_drops_so_look_at_amount_first(engine, tmp_path):
    path = tmp_path / "reference.csv"
    pd.DataFrame(_rows(3000, seed=0)).to_csv(path, index=False)
    model = {**MODEL, "reference": {"file": str(path)}}
    cfg = DriftwatchConfig.model_validate({
        "store": "sqlite://", "models": {"fraud": model},
        "alerts": {"rules": [{"name": "auc", "model": "fraud", "metric": "roc_auc", "when": "< 0.9",
                              "channels": ["hook"]}],
                   "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}}}})
    for index in range(WINDOWS):
        shift = 0.0 if index < 2 else 0.35 * (index - 1)
        _store_window(engine, _rows(300, seed=index + 1, shift=shift, flip=0.05 + 0.05 * max(index - 1, 0)),
                      DAY + index * HOUR, prefix=f"w{index}")
        WindowScheduler(config=cfg, engine=engine, worker="a").tick(DAY + (index + 1) * HOUR + MINUTE)

    last = DAY + (WINDOWS - 1) * HOUR
    ranking = details(metric(engine, "dataset_drift_share", window_start=last))["ranking"]
    assert ranking["performance_metric"] == "roc_auc" and ranking["windows"] == WINDOWS
    assert ranking["look_first"] == "amount"
    assert ranking["features"][0]["feature"] == "amount"
    top, *others = ranking["features"]
    assert top["rank"] == 1 and top["correlation"] > 0.9
    assert all(item["correlation"] < MIN_CORRELATION for item in others)
    # The first windows cannot rank yet, and say why.
    early = details(metric(engine, "dataset_drift_share", window_start=DAY + HOUR))["ranking"]
    assert early["features"] == [] and early["look_first"] is None and "at least 5" in early["reason"]

    # The performance alert's notification says where to look.
    evaluate_window(engine, cfg, model="fraud", model_version="v1", window_start=last, window_end=last + HOUR,
                    now=last + HOUR + MINUTE)
    with engine.connect() as connection:
        [payload] = connection.execute(select(notifications.c.payload)).scalars().all()
    key, line = detail_lines(Notification.from_dict(payload))[0]  # every channel shows it first
    assert key == "look_first"
    assert re.fullmatch(r"amount \(its drift tracks the drop of roc_auc: r = (0\.9\d|1\.00) over 7 windows\)", line)


def test_the_ranking_follows_an_estimated_metric_first_and_a_metric_that_falls_is_a_drop():
    start = DAY
    rows = []
    for index, (amount, age, mae) in enumerate([(0.1, 1.0, 5.0), (0.2, 0.2, 5.1), (0.5, 0.9, 6.0),
                                                (0.9, 0.1, 7.5), (1.4, 0.8, 9.0), (2.0, 0.3, 11.0)]):
        when = start + index * HOUR
        rows += [(when, "feature_drift_score", "amount", amount, 0.1, {"method": "wasserstein"}),
                 (when, "feature_drift_score", "age", 10 ** -age, 0.05, {"method": "ks"}),
                 (when, "estimated_mae", None, mae, None, {}), (when, "mae", None, 5.0, None, {})]
    ranking = rank_window(rows, "regression")
    assert ranking.performance_metric == "estimated_mae" and ranking.look_first == "amount"
    assert [name for name, _ in ranking.features] == ["amount", "age"]
    # realized mae never changes: no feature correlates with it
    realized = rank_window([row for row in rows if row[1] != "estimated_mae"], "regression")
    assert realized.performance_metric == "mae" and realized.features == () and "vary together" in realized.reason
