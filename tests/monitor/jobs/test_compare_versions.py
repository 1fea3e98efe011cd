"""Two versions in one window, on both stores: the scheduler compares the challenger with the
champion on the same traffic and stores the numbers with a ``compare`` label.

The expected numbers come from the rows the test wrote, through scipy (the oracle), so
SQLite and PostgreSQL must produce the same values.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from scipy import stats

from monitor.jobs.scheduler import WindowScheduler
from tests.monitor.jobs.canary_data import labels_of as _labels
from tests.monitor.jobs.canary_data import traffic as _traffic
from tests.monitor.jobs.store_data import (
    DAY,
    FRAUD_MODEL,
    HOUR,
    config,
    details,
    insert_predictions,
    metric_rows,
    upsert_labels,
    value,
)

NOW = DAY + HOUR + timedelta(minutes=1)


def _compare_rows(engine, version: str) -> dict[tuple[str, str | None], object]:
    rows = [row for row in metric_rows(engine, model="fraud", model_version=version, window_start=DAY)
            if row.compare]
    keyed = {(row.metric, row.feature): row for row in rows}
    assert len(keyed) == len(rows), "duplicate comparison rows"
    return keyed


@pytest.fixture
def canary(engine):
    champion = _traffic("v1", 600, seed=1, error_rate=0.02, latency=10, shift=0.0)
    challenger = _traffic("v2", 150, seed=2, error_rate=0.15, latency=16, shift=1.0)
    insert_predictions(engine, champion + challenger, ingested_at=DAY + HOUR)
    upsert_labels(engine, _labels(champion, accuracy=0.9, seed=3) | _labels(challenger, accuracy=0.6, seed=4),
                  ingested_at=DAY + HOUR)
    return champion, challenger


def test_a_canary_is_compared_with_the_champion_on_the_same_window(engine, canary):
    champion, challenger = canary
    WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="w").tick(NOW)

    assert _compare_rows(engine, "v1") == {}  # the champion is not compared with itself
    rows = _compare_rows(engine, "v2")
    assert {row.compare for row in rows.values()} == {"champion=v1"}
    assert set(rows) >= {
        ("compare_error_rate_diff", None), ("compare_latency_p50_diff_ms", None),
        ("compare_latency_p95_diff_ms", None), ("compare_accuracy_diff", None), ("compare_roc_auc_diff", None),
        ("compare_feature_drift_score", "amount"), ("compare_feature_drift_score", "country"),
        ("compare_feature_drift", "amount"), ("compare_dataset_drift_share", None), ("compare_dataset_drift", None),
        ("compare_prediction_drift_score", None)}

    # Error rate: the difference and the two-proportion test (= chi-square of the 2x2 table).
    errors = [sum(row.status == "error" for row in rows_) for rows_ in (champion, challenger)]
    error = rows[("compare_error_rate_diff", None)]
    assert value(error) == pytest.approx(errors[1] / 150 - errors[0] / 600, abs=1e-12)
    table = [[errors[0], 600 - errors[0]], [errors[1], 150 - errors[1]]]
    assert details(error)["p_value"] == pytest.approx(stats.chi2_contingency(table, correction=False)[1], rel=1e-9)
    assert details(error)["significant"] is True
    assert (details(error)["champion"], details(error)["challenger"]) == ("v1", "v2")

    # Latency: the p95 difference and the Mann-Whitney U test of the two distributions.
    a = np.array([row.latency_ms for row in champion])
    b = np.array([row.latency_ms for row in challenger])
    p95 = rows[("compare_latency_p95_diff_ms", None)]
    assert value(p95) == pytest.approx(np.percentile(b, 95) - np.percentile(a, 95), rel=1e-12)
    assert details(p95)["p_value"] == pytest.approx(
        stats.mannwhitneyu(b, a, method="asymptotic").pvalue, rel=1e-9)

    # Accuracy on the labelled rows.
    labels = _labels(champion, accuracy=0.9, seed=3), _labels(challenger, accuracy=0.6, seed=4)
    hits = [sum(label == next(r.prediction for r in rows_ if r.prediction_id == pid) for pid, label in got.items())
            for rows_, got in zip((champion, challenger), labels, strict=True)]
    accuracy = rows[("compare_accuracy_diff", None)]
    assert value(accuracy) == pytest.approx(hits[1] / len(labels[1]) - hits[0] / len(labels[0]), abs=1e-12)
    assert details(accuracy)["p_value"] < 1e-6

    # Drift of the challenger's inputs against the champion's rows (KS test for amount, as in Evidently).
    drift = rows[("compare_feature_drift_score", "amount")]
    expected = stats.ks_2samp([r.features["amount"] for r in champion], [r.features["amount"] for r in challenger])
    assert details(drift)["method"] == "ks"
    assert value(drift) == pytest.approx(expected.pvalue, rel=1e-6)
    assert rows[("compare_feature_drift", "amount")].is_breach is True
    assert not math.isnan(value(rows[("compare_prediction_drift_score", None)]))

    # The versions' own rows are still there, without a compare label.
    own = [row for row in metric_rows(engine, model="fraud", model_version="v2", window_start=DAY,
                                      metric="error_rate")]
    assert [(row.compare, value(row)) for row in own] == [(None, pytest.approx(errors[1] / 150))]


def test_late_labels_recompute_the_comparison_without_duplicates(engine, canary):
    _, challenger = canary
    scheduler = WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="w")
    scheduler.tick(NOW)
    before = value(_compare_rows(engine, "v2")[("compare_accuracy_diff", None)])
    # Every challenger label turns out right after all: the challenger is now the better one.
    upsert_labels(engine, {row.prediction_id: row.prediction for row in challenger if row.status == "ok"},
                  ingested_at=NOW + timedelta(minutes=1))
    scheduler.tick(NOW + timedelta(minutes=2))
    after = _compare_rows(engine, "v2")
    assert before < 0 < value(after[("compare_accuracy_diff", None)])
    assert details(after[("compare_accuracy_diff", None)])["challenger_value"] == 1.0


def test_the_configured_champion_is_the_one_compared_with(engine, canary):
    model = {**FRAUD_MODEL, "champion": "v2"}
    WindowScheduler(config=config({"fraud": model}), engine=engine, worker="w").tick(NOW)
    assert _compare_rows(engine, "v2") == {}
    rows = _compare_rows(engine, "v1")
    assert {row.compare for row in rows.values()} == {"champion=v2"}
    assert value(rows[("compare_error_rate_diff", None)]) < 0  # v1 fails less often than v2


def test_the_default_champion_is_the_version_that_started_first_not_the_first_name(engine):
    old = _traffic("z-old", 300, seed=5, error_rate=0.02, latency=10, shift=0.0)
    new = _traffic("a-new", 100, seed=6, error_rate=0.02, latency=10, shift=0.0, start=DAY + HOUR / 2,
                   span=HOUR / 2)
    insert_predictions(engine, old + new, ingested_at=DAY + HOUR)
    WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="w").tick(NOW)
    assert _compare_rows(engine, "z-old") == {}
    assert {row.compare for row in _compare_rows(engine, "a-new").values()} == {"champion=z-old"}


def test_a_configured_champion_that_served_nothing_leaves_the_comparison_not_judged(engine, canary):
    model = {**FRAUD_MODEL, "champion": "v9"}
    WindowScheduler(config=config({"fraud": model}), engine=engine, worker="w").tick(NOW)
    for version in ("v1", "v2"):
        error = _compare_rows(engine, version)[("compare_error_rate_diff", None)]
        assert error.value is None and "'v9'" in details(error)["reason"]
        assert error.compare == "champion=v9"


def test_one_version_alone_has_no_comparison(engine):
    insert_predictions(engine, _traffic("v1", 200, seed=1, error_rate=0.02, latency=10, shift=0.0),
                       ingested_at=DAY + HOUR)
    WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="w").tick(NOW)
    assert _compare_rows(engine, "v1") == {}
    assert metric_rows(engine, model="fraud", model_version="v1", window_start=DAY, metric="error_rate")


def test_the_simulated_canary_is_compared_end_to_end(engine, store_url, tmp_path):
    """The demo's path: a simulated stream with a worse canary, decoded, stored, computed."""
    from tests.support.computed import START, compute_and_evaluate, ingest_simulated_stream, simulated_config

    config = simulated_config(store_url, tmp_path / "reference", ("fraud",), {"rules": []})
    ingest_simulated_stream(engine, {"seed": 4, "events": [
        {"kind": "canary", "model": "fraud", "at": "0s", "version": "v2-canary", "share": 0.3, "rate": 0.2,
         "factor": 2.0, "degrade": 0.3}]}, ("fraud",), rate=20, minutes=20)
    compute_and_evaluate(engine, config, START + timedelta(minutes=25))
    rows = [row for row in metric_rows(engine, model="fraud", model_version="v2-canary",
                                       metric="compare_error_rate_diff") if row.compare]
    assert [row.window_start for row in rows] == [START, START + timedelta(minutes=10)]
    assert all(row.compare == "champion=v1" and value(row) > 0.1 and details(row)["significant"] for row in rows)
    latency = metric_rows(engine, model="fraud", model_version="v2-canary", metric="compare_latency_p50_diff_ms")
    assert all(value(row) > 0 and details(row)["p_value"] < 0.05 for row in latency)


def test_the_versions_query_lists_the_canary_beside_its_champion(engine, canary):
    from pathlib import Path

    from sqlalchemy import text

    WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="w").tick(NOW)
    query = (Path(__file__).resolve().parents[3] / "sql" / "queries" / "versions_side_by_side.sql").read_text()
    with engine.connect() as connection:
        (row,) = connection.execute(text(query)).mappings().all()
    stored = _compare_rows(engine, "v2")
    assert (row["model"], row["challenger"], row["champion"]) == ("fraud", "v2", "v1")
    for column, metric in (("error_rate_diff", "compare_error_rate_diff"), ("accuracy_diff", "compare_accuracy_diff"),
                           ("latency_p95_diff_ms", "compare_latency_p95_diff_ms"),
                           ("input_drift_share", "compare_dataset_drift_share")):
        assert row[column] == pytest.approx(value(stored[(metric, None)]))
    assert row["error_rate_p_value"] == pytest.approx(details(stored[("compare_error_rate_diff", None)])["p_value"])
    assert row["mae_diff"] is None  # a classifier has no MAE


def _stamps(engine, version: str) -> dict[tuple[str, str | None], tuple[int, object]]:
    return {key: (row.id, row.computed_at) for key, row in _compare_rows(engine, version).items()}


def test_a_comparison_is_recomputed_only_when_one_of_its_windows_changed(engine, monkeypatch):
    """Two challengers: a tick without new data reads no rows for comparisons and stores nothing;
    late labels of one challenger recompute its comparison (reading it and the champion) and leave
    the other's untouched."""
    import monitor.jobs.compare_window as job

    champion = _traffic("v1", 600, seed=1, error_rate=0.02, latency=10, shift=0.0)
    second = _traffic("v2", 150, seed=2, error_rate=0.02, latency=10, shift=0.0)
    third = _traffic("v3", 150, seed=7, error_rate=0.02, latency=10, shift=0.0)
    insert_predictions(engine, champion + second + third, ingested_at=DAY + HOUR)
    upsert_labels(engine, _labels(champion, accuracy=0.9, seed=3) | _labels(second, accuracy=0.9, seed=4)
                  | _labels(third, accuracy=0.6, seed=5), ingested_at=DAY + HOUR)
    read: list[str] = []
    load = job.load_window

    def counted(engine, **where):  # the real read, counted
        read.append(where["model_version"])
        return load(engine, **where)

    monkeypatch.setattr(job, "load_window", counted)
    scheduler = WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="w")
    scheduler.tick(NOW)
    assert sorted(read) == ["v1", "v2", "v3"]
    stored = {version: _stamps(engine, version) for version in ("v2", "v3")}
    before = value(_compare_rows(engine, "v3")[("compare_accuracy_diff", None)])

    read.clear()
    scheduler.tick(NOW + timedelta(minutes=1))
    assert read == []
    assert {version: _stamps(engine, version) for version in ("v2", "v3")} == stored

    # The third version's labels all turn out right: only its comparison is due.
    upsert_labels(engine, {row.prediction_id: row.prediction for row in third if row.status == "ok"},
                  ingested_at=NOW + timedelta(minutes=1))
    read.clear()
    scheduler.tick(NOW + timedelta(minutes=2))
    assert sorted(read) == ["v1", "v3"]
    assert _stamps(engine, "v2") == stored["v2"]
    after = _compare_rows(engine, "v3")
    assert before < 0 < value(after[("compare_accuracy_diff", None)])
    assert details(after[("compare_accuracy_diff", None)])["challenger_value"] == 1.0
