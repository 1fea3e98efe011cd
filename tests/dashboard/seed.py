"""Fill a store with known dashboard data: metric windows, alerts, dead letters, samples.

``seed_store(engine, spec)`` writes, for every model of ``spec``, hourly windows over
``spec.days`` days (the newest one partial), all metric rows DESIGN.md names, a
reference set and one window of predictions (and labels, when the model has them);
plus alerts in every state with notifications, a silence and dead letters. Values
follow the simple formulas below, so tests can state them as literals. Rows go in
with one executemany per table (``COPY`` for ``metric_values`` on PostgreSQL), so a
month of 5 models × 25 features seeds in seconds. Used by the dashboard tests and by
``benchmarks/dashboard.py``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Engine, Table

from monitor.store.tables import (
    alerts,
    dead_letters,
    labels,
    metric_values,
    notifications,
    predictions,
    reference_data,
    reference_sets,
    silences,
)

__all__ = ["SeedModel", "SeedResult", "SeedSpec", "benchmark_spec", "known_spec", "seed_store"]

HOUR = timedelta(hours=1)
DRIFT_SHARE_THRESHOLD = 0.5
NUMERIC_METHODS = (("ks", "p_value", 0.05), ("psi", "distance", 0.1), ("wasserstein", "distance", 0.1),
                   ("jensenshannon", "distance", 0.1))
CATEGORICAL_METHOD = ("chisquare", "p_value", 0.05)
COUNTRIES = ("DE", "FR", "US")
MISSING_THRESHOLD = 0.1


@dataclass(frozen=True, slots=True)
class SeedModel:
    name: str
    task: str = "binary_classification"
    versions: tuple[str, ...] = ("v1",)  # the windows are split evenly, oldest version first
    has_labels: bool = True
    drift_windows: int = 0  # the newest complete windows with dataset drift (feature 0 and the category)
    latency_breach: bool = False  # p95 over 250 ms in the newest complete window
    missing_breach_feature: str | None = None  # missing share 0.2 in the newest complete window


@dataclass(frozen=True, slots=True)
class SeedSpec:
    models: tuple[SeedModel, ...]
    features: int = 4  # numeric f00, f01, ... and the categorical "country" last
    days: int = 2
    end: datetime = datetime(2026, 1, 15, 12, tzinfo=UTC)  # end of the newest (partial) window
    predictions_per_model: int = 200
    reference_rows: int = 300
    dead_letters: bool = True
    alerts: bool = True
    window: timedelta = HOUR  # the windows' size
    window_count: int | None = None  # None: a day's worth of hours per day (days × 24)


@dataclass(slots=True)
class SeedResult:
    windows: list[datetime]  # every window start, oldest first; the last one is partial
    feature_names: list[str]
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def latest_complete(self) -> datetime:
        return self.windows[-2]


def known_spec(**overrides: Any) -> SeedSpec:
    """The scenario the dashboard tests assert: fraud is red, churn amber, price green."""
    models = (
        SeedModel("fraud", versions=("v1", "v2"), drift_windows=3, missing_breach_feature="f01"),
        SeedModel("churn", task="multiclass_classification", latency_breach=True),
        SeedModel("price", task="regression", has_labels=False),
    )
    return SeedSpec(models=models, **overrides)


def benchmark_spec(*, models: int = 5, features: int = 25, days: int = 30, end: datetime | None = None) -> SeedSpec:
    tasks = ("binary_classification", "multiclass_classification", "regression")
    chosen = tuple(
        SeedModel(f"model_{k:02d}", task=tasks[k % 3], versions=("v1", "v2"), has_labels=k % 3 != 2,
                  drift_windows=3 if k == 0 else 0, latency_breach=k == 1)
        for k in range(models)
    )
    return SeedSpec(models=chosen, features=features, days=days, end=end or _next_hour(), predictions_per_model=500,
                    reference_rows=1000)


def _next_hour() -> datetime:
    now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) + HOUR


# ---- formulas -------------------------------------------------------------------------------------------------

def traffic(k: int, i: int) -> float:
    """prediction_count of model index k in window index i."""
    return 500.0 + 100 * k + 10 * (i % 24)


def latency_p50(k: int, i: int) -> float:
    return 20.0 + 5 * k + (i % 24)


def prediction_mean(i: int) -> float:
    """prediction_mean of a regression model in window index i: 114.2 to 114.66."""
    return round(114.2 + 0.02 * (i % 24), 4)


def out_of_range(i: int) -> float:
    """out_of_range_share of feature f00 in window index i: 0.02% to 0.038%."""
    return round(0.0002 + 0.00002 * (i % 10), 6)


def _feature_method(j: int, features: int) -> tuple[str, str, float]:
    return CATEGORICAL_METHOD if j == features - 1 else NUMERIC_METHODS[j % len(NUMERIC_METHODS)]


def drift_score(kind: str, drifting: bool, elevated: bool, i: int) -> float:
    if kind == "p_value":
        return 0.001 if drifting else (0.08 if elevated else round(0.4 + 0.02 * (i % 10), 4))
    return 0.3 if drifting else (0.08 if elevated else round(0.03 + 0.002 * (i % 10), 4))


# ---- rows -----------------------------------------------------------------------------------------------------

def _metric_rows(spec: SeedSpec, k: int, model: SeedModel, windows: Sequence[datetime], names: Sequence[str],
                 computed_at: datetime) -> Iterator[dict[str, Any]]:
    n = len(windows)
    per_version = math.ceil(n / len(model.versions))
    for i, start in enumerate(windows):
        partial = i == n - 1
        newest_complete = i == n - 2
        drifting = n - 1 - model.drift_windows <= i < n - 1 or (partial and model.drift_windows > 0)
        base = {"model": model.name, "model_version": model.versions[min(i // per_version, len(model.versions) - 1)],
                "window_start": start, "window_end": start + spec.window, "is_partial": partial,
                "computed_at": computed_at}


        def row(metric: str, value: float | None, feature: str | None = None, threshold: float | None = None,
                breach: bool | None = None, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
            return {**base, "metric": metric, "feature": feature, "value": value, "threshold": threshold,  # noqa: B023
                    "is_breach": breach, "details": dict(details) if details is not None else None}

        count = 42.0 if partial else traffic(k, i)
        p50 = latency_p50(k, i)
        p95 = 300.0 if (model.latency_breach and newest_complete) else 3 * p50
        yield row("prediction_count", count)
        yield row("latency_p50_ms", p50)
        yield row("latency_p95_ms", p95, threshold=250.0, breach=p95 > 250)
        yield row("latency_p99_ms", 5 * p50)
        yield row("latency_mean_ms", 1.2 * p50)
        yield row("latency_max_ms", 8 * p50)
        yield row("error_rate", round(0.01 + 0.001 * k, 4), threshold=0.05, breach=False)
        yield row("dead_letter_count", 2.0 if i % 24 == 3 else 0.0)
        yield row("prediction_drift_score", 0.25 if drifting else 0.02, threshold=0.1, breach=drifting,
                  details={"method": "psi"})
        if model.task == "binary_classification":
            yield row("positive_rate", 0.18 if drifting else 0.1)
            yield row("score_mean", 0.2)
        elif model.task == "multiclass_classification":
            for label, share in zip("abc", (0.5, 0.3, 0.2), strict=True):
                yield row("class_share", share, feature=label)
        else:
            # A mean that moves by hundredths: its axis needs decimals to read.
            yield row("prediction_mean", prediction_mean(i))
        if model.has_labels:
            accuracy = 0.85 if drifting else 0.92
            yield row("label_count", round(count * 0.8))
            yield row("label_coverage", 0.8)
            yield row("accuracy", accuracy)
            yield row("f1", round(accuracy - 0.05, 4))
            yield row("performance_drop", round(0.92 - accuracy, 4), threshold=0.05, breach=drifting)
            yield row("label_drift_score", 0.0 if drifting else 0.6, threshold=0.05, breach=drifting,
                      details={"test": "chi2_contingency", "p_value": 0.0 if drifting else 0.6})
            yield row("concept_drift", 1.0 if drifting else 0.0, breach=drifting,
                      details={"test": "two-proportion z-test", "p_value": 0.001 if drifting else 0.6})
        else:
            yield row("label_count", 0.0)
            yield row("label_coverage", 0.0)
            for metric in ("mae", "rmse") if model.task == "regression" else ("accuracy",):
                yield row(metric, None, details={"reason": "no labels in this window"})
        drifted = 0
        for j, feature in enumerate(names):
            method, kind, threshold = _feature_method(j, len(names))
            feature_drifts = drifting and (j == 0 or j == len(names) - 1)
            elevated = j == 1 and 8 <= i % 24 < 12
            score = drift_score(kind, feature_drifts, elevated, i)
            drifted += feature_drifts
            details = {"method": method, "threshold": threshold, kind: score, "n_reference": spec.reference_rows,
                       "n_current": int(count), "feature_type": "categorical" if j == len(names) - 1 else "numeric",
                       "auto": False}
            yield row("feature_drift_score", score, feature, threshold, feature_drifts, details)
            yield row("feature_drift", float(feature_drifts), feature, None, feature_drifts, details)
            missing = 0.2 if (newest_complete and feature == model.missing_breach_feature) else round(0.01 * (j % 3), 4)
            yield row("missing_share", missing, feature, MISSING_THRESHOLD, missing > MISSING_THRESHOLD)
            # Hundredths of a percent, no rule: the axis alone must show it is small.
            yield row("out_of_range_share", out_of_range(i) if j == 0 else 0.0, feature)
            if j == len(names) - 1:
                yield row("unseen_category_share", 0.3 if drifting else 0.02, feature, 0.1, drifting)
            yield row("type_mismatch_share", 0.0, feature, 0.05, False)
        share = drifted / len(names)
        summary = {"number_of_drifted": drifted, "number_of_features": len(names),
                   "drift_share_threshold": DRIFT_SHARE_THRESHOLD}
        yield row("dataset_drift_share", share, None, DRIFT_SHARE_THRESHOLD, share >= DRIFT_SHARE_THRESHOLD, summary)
        yield row("dataset_drift", float(share >= DRIFT_SHARE_THRESHOLD), None, None, share >= DRIFT_SHARE_THRESHOLD,
                  summary)


def _feature_values(rng: np.random.Generator, names: Sequence[str], rows: int, shift: float) -> list[dict[str, Any]]:
    columns = {name: np.round(rng.normal(shift * (j == 0), 1.0, rows), 4) for j, name in enumerate(names[:-1])}
    weights = np.array([0.5, 0.3, 0.2]) if shift == 0 else np.array([0.2, 0.2, 0.6])
    countries = rng.choice(np.array(COUNTRIES), size=rows, p=weights)
    return [{**{name: float(values[r]) for name, values in columns.items()}, names[-1]: str(countries[r])}
            for r in range(rows)]


def _sample_rows(spec: SeedSpec, model: SeedModel, window: datetime, version: str, names: Sequence[str],
                 rng: np.random.Generator, ingested_at: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                                           list[dict[str, Any]]]:
    n = spec.predictions_per_model
    features = _feature_values(rng, names, n, 1.5 if model.drift_windows else 0.0)
    reference = _feature_values(rng, names, spec.reference_rows, 0.0)
    preds, labs = [], []
    for r, values in enumerate(features):
        pid = f"{model.name}-{r}"
        event = window + timedelta(seconds=int(r * 3600 / n))
        preds.append({"model": model.name, "model_version": version, "prediction_id": pid, "event_time": event,
                      "features": values, "prediction": str(r % 2), "prediction_numeric": float(r % 2),
                      "score": round(float(rng.random()), 4), "latency_ms": 40.0, "status": "ok",
                      "ingested_at": ingested_at})
        if model.has_labels and r % 5 != 0:
            labs.append({"model": model.name, "prediction_id": pid, "label": str(r % 2), "label_numeric": float(r % 2),
                         "event_time": event + timedelta(minutes=5), "ingested_at": ingested_at})
    refs = [{"row_index": r, "features": values} for r, values in enumerate(reference)]
    return preds, labs, refs


Rows = list[dict[str, Any]]


def _alert_rows(windows: Sequence[datetime], now: datetime, red_model: SeedModel,
                amber_model: SeedModel) -> tuple[Rows, Rows, Rows]:
    latest = windows[-2]
    red, amber = red_model.name, amber_model.name

    def alert(rule: str, model: str, version: str, metric: str, severity: str, state: str, condition: str,
              started: datetime, value: float, *, feature: str | None = None, fired: datetime | None = None,
              resolved: datetime | None = None) -> dict[str, Any]:
        return {"rule": rule, "model": model, "model_version": version, "feature": feature, "metric": metric,
                "severity": severity, "state": state, "condition": condition, "consecutive": 3,
                "started_at": started, "fired_at": fired, "resolved_at": resolved, "last_value": value,
                "last_window_start": latest, "last_window_end": latest + HOUR, "last_notified_at": fired,
                "updated_at": resolved or latest + HOUR}

    rows = [
        alert(f"{red}-data-drift", red, red_model.versions[-1], "dataset_drift_share", "critical", "firing", "> 0.3",
              latest - 2 * HOUR, 0.5, fired=latest - HOUR + timedelta(minutes=1)),
        alert(f"{red}-latency", red, red_model.versions[0], "latency_p95_ms", "warning", "resolved", "> 250",
              windows[2], 310.0, fired=windows[3], resolved=windows[5]),
        alert(f"{red}-missing-f01", red, red_model.versions[-1], "missing_share", "warning", "firing", "> 0.1",
              latest, 0.2, feature="f01", fired=latest + HOUR),
        alert(f"{amber}-latency", amber, amber_model.versions[-1], "latency_p95_ms", "warning", "pending", "> 250",
              latest, 300.0),
    ]
    for index, row in enumerate(rows, start=1):
        row["id"] = index

    def note(alert_id: int, channel: str, event: str, status: str, created: datetime, *, attempts: int = 1,
             error: str | None = None) -> dict[str, Any]:
        return {"alert_id": alert_id, "channel": channel, "event": event,
                "payload": {"rule": rows[alert_id - 1]["rule"]},
                "idempotency_key": f"{alert_id}-{channel}-{event}-{created.isoformat()}", "status": status,
                "attempts": attempts,
                "next_attempt_at": created + timedelta(minutes=5) if status == "pending" else None,
                "delivered_at": created + timedelta(seconds=2) if status == "delivered" else None,
                "last_error": error, "silenced_by": 1 if status == "silenced" else None, "created_at": created}

    fired = latest - HOUR + timedelta(minutes=1)
    notes = [
        note(1, "ml-team", "firing", "delivered", fired),
        note(1, "retrain-fraud", "firing", "failed", fired, attempts=5,
             error="HTTP 500 from https://ci.example.com/hooks/retrain after 5 attempts"),
        note(1, "ml-team", "repeat", "pending", fired + 4 * HOUR, attempts=0),
        note(2, "ml-team", "firing", "delivered", windows[3]),
        note(2, "ml-team", "resolved", "delivered", windows[5]),
        note(3, "ml-team", "firing", "silenced", latest + HOUR, attempts=0),
    ]
    silence = [{"id": 1, "rule": f"{red}-missing-f01", "model": red, "feature": "f01", "starts_at": latest,
                "ends_at": max(latest, now) + timedelta(days=1), "comment": "upstream fix for f01 is deploying",
                "created_by": "oncall@example.com", "created_at": latest}]
    return rows, notes, silence


def _dead_letter_rows(before: datetime) -> list[dict[str, Any]]:
    # The JSON errors differ only in their column: three texts, one kind of reason.
    reasons = [("not valid JSON: Expecting value at line 1 column {n}", 6, None, b"{not json"),
               ("missing required field 'model_version'", 4, "fraud", b'{"model": "fraud", "prediction_id": "x"}'),
               ("field 'score' must be a number in [0, 1], got 1.7", 2, "churn", b'{"model": "churn", "score": 1.7}')]
    rows, offset = [], 0
    for reason, count, model, raw in reasons:
        for n in range(count):
            rows.append({"topic": "predictions", "partition": 0, "offset": offset, "model": model, "raw": raw,
                         "raw_size": len(raw), "reason": reason.format(n=1 + n % 3),
                         "received_at": before - timedelta(minutes=10 * offset + 5)})
            offset += 1
    return rows


# ---- writing ------------------------------------------------------------------------------------------------

def _insert(engine: Engine, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert; large tables bypass SQLAlchemy's per-value bind processing."""
    if not rows:
        return
    if len(rows) > 5000:
        (_copy if engine.dialect.name == "postgresql" else _sqlite_executemany)(engine, table, rows)
        return
    with engine.begin() as connection:
        connection.execute(table.insert(), list(rows))


def _copy(engine: Engine, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL COPY: an order of magnitude faster than INSERT for a month of metrics."""
    columns = list(rows[0])
    json_columns = {name for name in columns if isinstance(table.c[name].type, JSON)}
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([Jsonb(row[c]) if c in json_columns and row[c] is not None else row[c] for c in columns])
        raw.commit()
    finally:
        raw.close()


def _sqlite_executemany(engine: Engine, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """One sqlite3 executemany with values already in the store's format (UTC text, JSON text)."""
    columns = list(rows[0])
    json_columns = {name for name in columns if isinstance(table.c[name].type, JSON)}
    stamps: dict[datetime, str] = {}

    def convert(column: str, value: Any) -> Any:
        if value is None:
            return None
        if column in json_columns:
            return json.dumps(value)
        if isinstance(value, datetime):
            text = stamps.get(value)
            if text is None:
                text = stamps[value] = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            return text
        return value

    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN")
        cursor.executemany(sql, [[convert(c, row[c]) for c in columns] for row in rows])
        cursor.execute("COMMIT")
    finally:
        raw.close()


def seed_store(engine: Engine, spec: SeedSpec, *, seed: int = 7) -> SeedResult:
    """Write the scenario of ``spec`` into an empty store with the schema."""
    n = spec.window_count or spec.days * 24
    windows = [spec.end - (n - i) * spec.window for i in range(n)]
    names = [f"f{j:02d}" for j in range(spec.features - 1)] + ["country"]
    computed_at = spec.end
    rng = np.random.default_rng(seed)
    metric_rows: list[dict[str, Any]] = []
    prediction_rows: list[dict[str, Any]] = []
    label_rows: list[dict[str, Any]] = []
    for k, model in enumerate(spec.models):
        metric_rows.extend(_metric_rows(spec, k, model, windows, names, computed_at))
        preds, labs, refs = _sample_rows(spec, model, windows[-2], model.versions[-1], names, rng, spec.end)
        prediction_rows.extend(preds)
        label_rows.extend(labs)
        with engine.begin() as connection:
            set_id = connection.execute(
                reference_sets.insert().returning(reference_sets.c.id),
                {"model": model.name, "model_version": "*", "source": "file: data/reference.parquet",
                 "row_count": len(refs), "created_at": windows[0]},
            ).scalar_one()
        _insert(engine, reference_data, [{**ref, "reference_set_id": set_id} for ref in refs])
    _insert(engine, metric_values, metric_rows)
    _insert(engine, predictions, prediction_rows)
    _insert(engine, labels, label_rows)
    result = SeedResult(windows=windows, feature_names=names,
                        rows={"metric_values": len(metric_rows), "predictions": len(prediction_rows)})
    if spec.alerts and len(spec.models) >= 2:
        alert_rows, note_rows, silence_rows = _alert_rows(windows, datetime.now(UTC), spec.models[0], spec.models[1])
        _insert(engine, alerts, alert_rows)
        _insert(engine, notifications, note_rows)
        _insert(engine, silences, silence_rows)
        if engine.dialect.name == "postgresql":  # explicit ids leave the sequences behind
            with engine.begin() as connection:
                for table in ("alerts", "silences"):
                    connection.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                    )
    if spec.dead_letters:
        _insert(engine, dead_letters, _dead_letter_rows(windows[-1]))
    return result
