"""Two versions of fraud serving in one window: a champion and a (worse) challenger."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tests.monitor.jobs.store_data import DAY, HOUR, Prediction


def traffic(version: str, n: int, *, seed: int, error_rate: float, latency: float, shift: float,
            start: datetime = DAY, span: timedelta = HOUR, prefix: str = "") -> list[Prediction]:
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        score = rng.random()
        rows.append(Prediction(
            prediction_id=f"{prefix}{version}-{index}", event_time=start + span * (index + 0.5) / n,
            model_version=version,
            features={"amount": round(rng.lognormvariate(3 + shift, 1), 4), "country": rng.choice(["DE", "FR", "US"])},
            prediction=int(score > 0.5), score=round(score, 4), latency_ms=round(rng.gammavariate(2, latency), 3),
            status="error" if rng.random() < error_rate else "ok"))
    return rows


def labels_of(rows: list[Prediction], *, accuracy: float, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    return {row.prediction_id: row.prediction if rng.random() < accuracy else 1 - row.prediction
            for row in rows if row.status == "ok"}
