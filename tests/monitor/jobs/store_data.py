"""Rows written straight into the store for scheduler tests, and the queries they assert on.

The scheduler reads what ingestion wrote; these helpers write the same rows (with an
``ingested_at`` the test chooses) without a Kafka round trip.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from monitor.config.models import DriftwatchConfig
from monitor.ingest.records import Origin, PredictionRecord
from monitor.store.dialect import dialect_of
from monitor.store.tables import dead_letters, job_runs, labels, metric_values, window_state
from tests.support.seeding import seed_predictions

DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, 00:00 UTC
HOUR = timedelta(hours=1)


@dataclass
class Prediction:
    prediction_id: str
    event_time: datetime
    features: dict[str, Any]
    prediction: Any
    model: str = "fraud"
    model_version: str = "v1"
    score: float | None = None
    probabilities: dict[str, float] | None = None
    latency_ms: float | None = 12.0
    status: str = "ok"
    extra: dict[str, Any] = field(default_factory=dict)


def _text(value: Any) -> tuple[str, float | None]:
    if isinstance(value, str):
        return value, None
    number = float(value)
    return (str(int(number)) if number.is_integer() else repr(number)), number


def insert_predictions(engine: Engine, rows: Iterable[Prediction], *, ingested_at: datetime) -> int:
    """Store ``rows`` as ingestion does (rows and their columnar batch, one transaction)."""
    return seed_predictions(engine, [record(row) for row in rows], ingested_at=ingested_at)


def record(row: Prediction) -> PredictionRecord:
    text, numeric = _text(row.prediction)
    return PredictionRecord(
        model=row.model, model_version=row.model_version, prediction_id=row.prediction_id,
        event_time=row.event_time, features=row.features, prediction=text, prediction_numeric=numeric,
        score=row.score, probabilities=row.probabilities, latency_ms=row.latency_ms, status=row.status, error=None,
        extra=row.extra or None, origin=Origin("seed", 0, 0),
    )


def upsert_labels(engine: Engine, items: Mapping[str, Any], *, ingested_at: datetime, model: str = "fraud") -> None:
    """Store (or replace) the label of each prediction id."""
    insert = dialect_of(engine).upsert
    for prediction_id, label in items.items():
        text, numeric = _text(label)
        statement = insert(labels).values(
            model=model, prediction_id=prediction_id, label=text, label_numeric=numeric,
            event_time=ingested_at, ingested_at=ingested_at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["model", "prediction_id"],
            set_={"label": text, "label_numeric": numeric, "event_time": ingested_at, "ingested_at": ingested_at},
        )
        with engine.begin() as connection:
            connection.execute(statement)


def insert_dead_letter(engine: Engine, *, model: str, received_at: datetime, offset: int) -> None:
    with engine.begin() as connection:
        connection.execute(dead_letters.insert().values(
            topic="predictions", partition=0, offset=offset, model=model, raw=b"{bad", raw_size=4,
            reason="not valid JSON", received_at=received_at,
        ))


def fraud_traffic(
    start: datetime, hours: int, per_hour: int, *, model: str = "fraud", version: str = "v1", seed: int = 0,
    shift: float = 0.0, prefix: str = "p",
) -> list[Prediction]:
    """Binary-classification traffic with scores: amount (numeric), country (categorical)."""
    rng = random.Random(seed)
    rows = []
    for hour in range(hours):
        for index in range(per_hour):
            moment = start + hour * HOUR + timedelta(seconds=(index + 0.5) * 3600 / per_hour)
            score = rng.random()
            rows.append(Prediction(
                prediction_id=f"{prefix}{model}-{version}-{hour}-{index}", event_time=moment, model=model,
                model_version=version,
                features={"amount": round(rng.lognormvariate(3 + shift, 1), 4),
                          "country": rng.choice(["DE", "FR", "US"])},
                prediction=int(score > 0.5), score=score, latency_ms=round(rng.gammavariate(2, 10), 3),
                status="error" if rng.random() < 0.02 else "ok",
            ))
    return rows


def config(models: Mapping[str, Any], *, store: str = "sqlite://", interval: str = "1m") -> DriftwatchConfig:
    return DriftwatchConfig.model_validate({"store": store, "schedule": {"interval": interval},
                                            "models": dict(models)})


FRAUD_MODEL: dict[str, Any] = {
    "task": "binary_classification",
    "positive_label": 1,
    "window": "1h",
    "features": {"amount": {"type": "numeric", "min": 0}, "country": {"type": "categorical"}},
    "reference": {"first": 50},
}


def count(engine: Engine, table: Any, **where: Any) -> int:
    query = select(func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def metric_rows(engine: Engine, **where: Any) -> list[Any]:
    query = select(metric_values)
    for name, value in where.items():
        query = query.where(metric_values.c[name] == value)
    with engine.connect() as connection:
        return list(connection.execute(query.order_by(metric_values.c.window_start, metric_values.c.metric,
                                                      metric_values.c.feature)))


def metric(engine: Engine, name: str, *, window_start: datetime, feature: str | None = None,
           model: str = "fraud", model_version: str = "v1") -> Any:
    rows = [row for row in metric_rows(engine, model=model, model_version=model_version, metric=name,
                                       window_start=window_start) if row.feature == feature]
    assert len(rows) == 1, f"expected one {name} row for {feature} at {window_start}, got {len(rows)}"
    return rows[0]


def runs(engine: Engine, **where: Any) -> list[Any]:
    query = select(job_runs)
    for name, value in where.items():
        query = query.where(job_runs.c[name] == value)
    with engine.connect() as connection:
        return list(connection.execute(query.order_by(job_runs.c.id)))


def states(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(window_state).order_by(window_state.c.window_start)))


def value(row: Any) -> float:
    return math.nan if row.value is None else float(row.value)


def details(row: Any) -> dict[str, Any]:
    return row.details if isinstance(row.details, dict) else json.loads(row.details)
