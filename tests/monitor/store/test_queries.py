"""The example queries in ``sql/queries/`` run unchanged on both stores, against data the
service computed itself, and say what the tables say."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from monitor.store.tables import alerts, dead_letters, metric_values, notifications, predictions
from tests.support.computed import compute_simulated_store

QUERIES = Path(__file__).resolve().parents[3] / "sql" / "queries"


def as_time(value: datetime | str) -> datetime:
    """A time as the query returned it: a datetime (PostgreSQL) or its text (SQLite)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run(engine: Engine, name: str) -> list[dict]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(text((QUERIES / name).read_text())).mappings()]


def count(engine: Engine, statement) -> int:
    with engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


@pytest.fixture
def computed(engine: Engine, store_url: str, tmp_path: Path) -> Engine:
    compute_simulated_store(engine, store_url, tmp_path / "reference")
    return engine


def test_every_query_is_tested():
    assert {path.name for path in QUERIES.glob("*.sql")} == {
        "model_health.sql", "drifted_features.sql", "performance_over_time.sql", "open_alerts.sql",
        "dead_letter_reasons.sql", "undelivered_notifications.sql",
        "versions_side_by_side.sql"}  # tested in tests/monitor/jobs/test_compare_versions.py


def test_the_example_queries_agree_with_the_tables(computed: Engine):
    health = run(computed, "model_health.sql")
    assert {row["model"] for row in health} == {"fraud", "demand"}
    for row in health:  # the newest complete window's traffic, counted from the predictions
        stored = count(computed, select(func.count()).select_from(predictions).where(
            predictions.c.model == row["model"], predictions.c.model_version == row["model_version"],
            predictions.c.event_time >= as_time(row["window_start"]),
            predictions.c.event_time < as_time(row["window_end"])))
        assert row["predictions"] == stored > 0 and type(row["predictions"]) is int
        assert 0 <= row["error_rate"] <= 1 and row["latency_p95_ms"] > 0
    assert next(row for row in health if row["model"] == "fraud")["drift_share"] > 0.3

    drifted = run(computed, "drifted_features.sql")
    assert {"amount", "country"} <= {row["feature"] for row in drifted if row["model"] == "fraud"}
    assert len(drifted) == count(computed, select(func.count()).select_from(metric_values).where(
        metric_values.c.metric == "feature_drift_score", metric_values.c.is_breach.is_(True),
        metric_values.c.is_partial.is_(False)))
    assert all(row["method"] for row in drifted)

    performance = run(computed, "performance_over_time.sql")
    fraud = [row for row in performance if row["model"] == "fraud"]
    assert fraud and all(0 <= row["accuracy"] <= 1 and 0 < row["label_coverage"] <= 1 for row in fraud)
    assert all(type(row["labels"]) is int and row["labels"] > 0 for row in performance)
    assert any(row["mae"] is not None for row in performance if row["model"] == "demand")

    open_alerts = run(computed, "open_alerts.sql")
    assert len(open_alerts) == count(computed, select(func.count()).select_from(alerts).where(
        alerts.c.state.in_(["pending", "firing"]))) >= 1
    assert {row["rule"] for row in open_alerts} == {"fraud-drift"}

    reasons = run(computed, "dead_letter_reasons.sql")
    assert sum(row["messages"] for row in reasons) == count(computed, select(func.count()).select_from(dead_letters))
    assert reasons and all(row["reason"] for row in reasons)

    undelivered = run(computed, "undelivered_notifications.sql")
    assert len(undelivered) == count(computed, select(func.count()).select_from(notifications).where(
        notifications.c.status.in_(["failed", "pending"])))


def rows(engine: Engine, sql: str) -> list[dict]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(text(sql)).mappings()]


def test_the_views_give_counts_as_integers_and_keep_the_open_window_apart(computed: Engine):
    """latest_vitals: each metric's newest complete window, counts as integers in
    count_value; partial_vitals: the open window so far; confusion_counts: integers."""
    latest = rows(computed, "SELECT * FROM latest_vitals")
    assert latest and not any(row["is_partial"] for row in latest)
    complete = rows(computed, "SELECT model, model_version, metric, MAX(window_start) AS newest FROM metric_values "
                              "WHERE NOT is_partial AND feature IS NULL GROUP BY model, model_version, metric")
    newest = {(r["model"], r["model_version"], r["metric"]): as_time(r["newest"]) for r in complete}
    model_level = [row for row in latest if row["feature"] is None]
    assert {(r["model"], r["model_version"], r["metric"]): as_time(r["window_start"]) for r in model_level} == newest
    counts = [row for row in latest if row["metric"] in ("prediction_count", "label_count", "dead_letter_count")]
    assert {row["metric"] for row in counts} == {"prediction_count", "label_count", "dead_letter_count"}
    for row in counts:
        assert type(row["count_value"]) is int and row["count_value"] == row["value"]
    for row in (r for r in counts if r["metric"] == "prediction_count"):
        assert row["count_value"] == count(computed, select(func.count()).select_from(predictions).where(
            predictions.c.model == row["model"], predictions.c.event_time >= as_time(row["window_start"]),
            predictions.c.event_time < as_time(row["window_end"]))) > 0
    assert all(row["count_value"] is None for row in latest if row not in counts)

    partial = rows(computed, "SELECT * FROM partial_vitals")
    assert partial and all(row["is_partial"] for row in partial)
    for row in partial:  # the open window comes after every complete one
        if row["feature"] is None and (key := (row["model"], row["model_version"], row["metric"])) in newest:
            assert as_time(row["window_start"]) > newest[key]
    assert all(type(row["count_value"]) is int for row in partial if row["metric"] == "prediction_count")

    confusion = rows(computed, "SELECT * FROM confusion_counts WHERE NOT is_partial")
    labels = {(r["model"], as_time(r["window_start"])): r["labels"] for r in run(computed, "performance_over_time.sql")}
    assert confusion and {row["model"] for row in confusion} == {"fraud"}  # the binary classifier
    for row in confusion:
        cells = [row["true_positives"], row["false_positives"], row["false_negatives"], row["true_negatives"]]
        assert all(type(cell) is int and cell >= 0 for cell in cells)
        assert sum(cells) == labels[("fraud", as_time(row["window_start"]))]
        assert row["positive_label"]
