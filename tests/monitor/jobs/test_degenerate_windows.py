"""Degenerate input never crashes a job: each case gives an explained, recorded result."""

from __future__ import annotations

import math
from datetime import timedelta

from alerts.alert_store import open_alerts_of
from alerts.evaluation import evaluate_window
from monitor.config.models import DriftwatchConfig
from monitor.jobs.scheduler import WindowScheduler
from tests.monitor.jobs.store_data import (
    DAY,
    FRAUD_MODEL,
    HOUR,
    Prediction,
    config,
    details,
    fraud_traffic,
    insert_predictions,
    metric,
    metric_rows,
    runs,
    upsert_labels,
    value,
)

NOW = DAY + 3 * HOUR + timedelta(minutes=1)


def _compute(engine, rows, model=FRAUD_MODEL, *, labels=None):
    insert_predictions(engine, rows, ingested_at=DAY + 3 * HOUR)
    if labels:
        upsert_labels(engine, labels, ingested_at=DAY + 3 * HOUR)
    report = WindowScheduler(config=config({"fraud": model}), engine=engine, worker="w").tick(NOW)
    assert not report.model_errors and not report.failed, report
    return report


def _reason(engine, name, window_start, feature=None):
    row = metric(engine, name, window_start=window_start, feature=feature)
    assert row.value is None, f"{name} should be NaN, got {row.value}"
    return details(row)["reason"]


def test_empty_window_between_traffic(engine):
    rows = fraud_traffic(DAY, 1, 30) + fraud_traffic(DAY + 2 * HOUR, 1, 30, seed=2, prefix="b")
    _compute(engine, rows)
    empty = DAY + HOUR
    assert value(metric(engine, "prediction_count", window_start=empty)) == 0
    assert value(metric(engine, "dead_letter_count", window_start=empty)) == 0
    for name in ("error_rate", "latency_p95_ms", "positive_rate", "label_coverage", "dataset_drift_share"):
        assert "empty window" in _reason(engine, name, empty)
    assert "empty window" in _reason(engine, "feature_drift_score", empty, "amount")
    for name, feature in (("dataset_drift", None), ("dataset_drift_share", None), ("feature_drift", "country")):
        assert "empty window" in details(metric(engine, name, window_start=empty, feature=feature))["not_judged"]
    assert "empty window" in _reason(engine, "missing_share", empty, "country")
    assert [run.status for run in runs(engine, window_start=empty)] == ["succeeded"]


def test_one_row_window(engine):
    only = Prediction("only", DAY + HOUR + timedelta(minutes=3), {"amount": 10.0, "country": "DE"}, 1, score=0.8)
    rows = [*fraud_traffic(DAY, 1, 60), only]
    _compute(engine, rows, labels={"only": 1})
    window = DAY + HOUR
    assert value(metric(engine, "prediction_count", window_start=window)) == 1
    assert value(metric(engine, "latency_p99_ms", window_start=window)) == 12.0
    assert value(metric(engine, "accuracy", window_start=window)) == 1.0
    drift = metric(engine, "feature_drift_score", window_start=window, feature="amount")
    assert details(drift)["n_current"] == 1
    assert "one class" in _reason(engine, "roc_auc", window)


def test_all_null_feature(engine):
    rows = fraud_traffic(DAY, 1, 60)
    for row in fraud_traffic(DAY + HOUR, 1, 30, seed=3, prefix="n"):
        row.features["amount"] = None
        rows.append(row)
    _compute(engine, rows)
    window = DAY + HOUR
    assert value(metric(engine, "missing_share", window_start=window, feature="amount")) == 1.0
    assert "all values missing" in _reason(engine, "type_mismatch_share", window, "amount")
    assert "no values" in _reason(engine, "feature_drift_score", window, "amount")
    verdict = metric(engine, "feature_drift", window_start=window, feature="amount")
    assert verdict.value is None and verdict.is_breach is None  # not judged, never "no drift"
    assert "no values" in details(verdict)["not_judged"]
    # The other feature is still tested.
    assert metric(engine, "feature_drift_score", window_start=window, feature="country").value is not None
    # 1 of 2 features judged (no drift), the other could still make the share 0.5: the dataset is not judged.
    dataset = metric(engine, "dataset_drift", window_start=window)
    assert dataset.value is None and dataset.is_breach is None
    assert details(dataset)["not_judged_features"] == ["amount"] and "not judged" in details(dataset)["not_judged"]
    assert metric(engine, "dataset_drift_share", window_start=window).value is None


def test_single_class_predictions_and_labels(engine):
    rows = fraud_traffic(DAY, 1, 60)
    single = fraud_traffic(DAY + HOUR, 1, 20, seed=4, prefix="s")
    for row in single:
        row.prediction = 1
    _compute(engine, rows + single, labels={row.prediction_id: 1 for row in single})
    window = DAY + HOUR
    assert value(metric(engine, "positive_rate", window_start=window)) == 1.0
    assert value(metric(engine, "class_share", window_start=window, feature="0")) == 0.0
    assert value(metric(engine, "accuracy", window_start=window)) == 1.0
    assert "one class" in _reason(engine, "roc_auc", window)


def test_no_labels(engine):
    _compute(engine, fraud_traffic(DAY, 2, 30))
    window = DAY + HOUR
    assert value(metric(engine, "label_count", window_start=window)) == 0
    assert value(metric(engine, "label_coverage", window_start=window)) == 0
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert "no labels" in _reason(engine, name, window)
    assert "no label" in _reason(engine, "label_drift_score", window)
    assert _reason(engine, "concept_drift", window)
    assert value(metric(engine, "score_mean", window_start=window)) > 0


def test_no_scores(engine):
    rows = fraud_traffic(DAY, 2, 30)
    for row in rows:
        row.score = None
    _compute(engine, rows, labels={row.prediction_id: row.prediction for row in rows})
    window = DAY + HOUR
    assert value(metric(engine, "accuracy", window_start=window)) == 1.0
    assert "no score" in _reason(engine, "roc_auc", window)
    assert not metric_rows(engine, metric="score_mean")  # a model that sends no scores has none


def test_feature_missing_from_config_and_from_events(engine):
    model = {**FRAUD_MODEL, "features": {**FRAUD_MODEL["features"], "age": {"type": "numeric"}}}
    rows = fraud_traffic(DAY, 2, 30)
    for row in rows:
        row.features["device"] = "ios"  # sent, but not declared
    _compute(engine, rows, model)
    window = DAY + HOUR
    missing = metric(engine, "missing_share", window_start=window, feature="age")
    assert value(missing) == 1.0 and details(missing)["column_absent"] is True
    assert "no values" in _reason(engine, "feature_drift_score", window, "age")
    assert not metric_rows(engine, feature="device")
    [run] = runs(engine, window_start=window)
    assert run.status == "degraded"
    assert "not in the config" in run.error and "device" in run.error
    assert "no value in any event" in run.error and "age" in run.error


def test_mixed_json_kinds_in_a_feature(engine):
    rows = fraud_traffic(DAY, 2, 40)
    for row in rows[40:50]:
        row.features["amount"] = "n/a"  # a string where a number is declared
    for row in rows[50:52]:
        row.features["country"] = 49  # a number where a category is declared
    _compute(engine, rows)
    window = DAY + HOUR
    assert value(metric(engine, "type_mismatch_share", window_start=window, feature="amount")) == 10 / 40
    assert value(metric(engine, "type_mismatch_share", window_start=window, feature="country")) == 2 / 40
    assert details(metric(engine, "feature_drift_score", window_start=window, feature="amount"))["n_current"] == 30


def test_no_reference_configured(engine):
    model = {key: item for key, item in FRAUD_MODEL.items() if key != "reference"}
    _compute(engine, fraud_traffic(DAY, 2, 20), model)
    window = DAY + HOUR
    assert "no reference configured" in _reason(engine, "dataset_drift_share", window)
    assert "no reference configured" in _reason(engine, "prediction_drift_score", window)
    assert value(metric(engine, "prediction_count", window_start=window)) == 20
    [run] = runs(engine, window_start=window)
    assert run.status == "degraded" and "set models.fraud.reference" in run.error


def test_reference_file_that_cannot_be_read(engine, tmp_path):
    model = {**FRAUD_MODEL, "reference": {"file": str(tmp_path / "missing.parquet")}}
    _compute(engine, fraud_traffic(DAY, 2, 20), model)
    window = DAY + HOUR
    assert "no such file" in _reason(engine, "feature_drift_score", window, "amount")
    for feature in ("amount", "country"):  # alertable per feature, like a bad column
        problem = metric(engine, "reference_problem", window_start=window, feature=feature)
        assert value(problem) == 1.0 and "no such file" in details(problem)["reason"]
    [run] = runs(engine, window_start=window)
    assert run.status == "degraded" and "reference unavailable" in run.error


def test_reference_not_ready_yet(engine):
    model = {**FRAUD_MODEL, "reference": {"first": 1000}}
    _compute(engine, fraud_traffic(DAY, 2, 20), model)
    reason = _reason(engine, "dataset_drift", DAY + HOUR)
    assert "waiting for the first 1000 predictions" in reason and "(40 so far)" in reason
    assert all(run.status == "succeeded" for run in runs(engine))  # waiting is normal, not a problem


def test_unusable_drift_method_for_a_feature_is_a_note_not_a_crash(engine):
    model = {**FRAUD_MODEL, "drift": {"per_feature": {"country": {"method": "ks"}}}}  # ks is numeric-only
    _compute(engine, fraud_traffic(DAY, 2, 30), model)
    window = DAY + HOUR
    assert not math.isnan(value(metric(engine, "prediction_count", window_start=window)))
    # The failed group's metrics are written as not judged, so no alert reads them as "no drift".
    assert "data drift metrics failed" in details(metric(engine, "dataset_drift", window_start=window))["not_judged"]
    assert "data drift metrics failed" in _reason(engine, "feature_drift", window, "amount")
    [run] = runs(engine, window_start=window)
    assert run.status == "degraded" and "data drift metrics failed" in run.error


def test_a_bad_reference_is_reported_loudly_per_feature(engine, tmp_path):
    reference = tmp_path / "reference.csv"
    # amount: numbers with stray text, so the whole CSV column is read as text; country: entirely empty.
    amounts = ["12.5", "unknown", "7.25"] * 20
    reference.write_text("amount,country\n" + "".join(f"{amount},\n" for amount in amounts))
    model = {**FRAUD_MODEL, "reference": {"file": str(reference)}}
    _compute(engine, fraud_traffic(DAY, 2, 20), model)
    window = DAY + HOUR
    wrong = metric(engine, "reference_problem", window_start=window, feature="amount")
    assert value(wrong) == 1.0 and wrong.is_breach is True
    assert details(wrong)["problem"] == "wrong_type" and "no reference value of feature 'amount' is a number" in (
        details(wrong)["reason"])
    empty = metric(engine, "reference_problem", window_start=window, feature="country")
    assert details(empty)["problem"] == "no_values" and "'country'" in details(empty)["reason"]
    for feature in ("amount", "country"):  # blinded features are not judged, never "no drift"
        assert metric(engine, "feature_drift", window_start=window, feature=feature).value is None
    assert metric(engine, "dataset_drift", window_start=window).value is None
    [run] = runs(engine, window_start=window)
    assert run.status == "degraded"
    assert "reference problem" in run.error and "'amount'" in run.error and "'country'" in run.error
    # ... and an alert rule can watch it.
    rule = {"name": "reference", "model": "fraud", "metric": "reference_problem", "feature": "*", "when": "== 1"}
    cfg = DriftwatchConfig.model_validate({"store": "sqlite://", "models": {"fraud": model},
                                           "alerts": {"rules": [rule]}})
    evaluate_window(engine, cfg, model="fraud", model_version="v1", window_start=window, window_end=window + HOUR,
                    now=DAY + 4 * HOUR)
    with engine.connect() as connection:
        firing = open_alerts_of(connection, rule="reference", model="fraud")
    states = {feature: alert.state for (feature, *_), alert in firing.items()}
    assert states == {"amount": "firing", "country": "firing"}


def test_a_good_reference_has_no_reference_problem_rows(engine):
    _compute(engine, fraud_traffic(DAY, 2, 30))
    assert not metric_rows(engine, metric="reference_problem")


def test_a_window_that_cannot_be_judged_does_not_resolve_a_drift_alert(engine):
    rules = [{"name": "drift", "model": "fraud", "metric": "dataset_drift", "when": "== 1"},
             {"name": "share", "model": "fraud", "metric": "dataset_drift_share", "when": "> 0.3"}]
    cfg = DriftwatchConfig.model_validate({"store": "sqlite://", "models": {"fraud": FRAUD_MODEL},
                                           "alerts": {"rules": rules}})
    rows = fraud_traffic(DAY, 1, 60) + fraud_traffic(DAY + HOUR, 1, 60, seed=5, shift=2.0, prefix="d")
    blind = fraud_traffic(DAY + 2 * HOUR, 1, 30, seed=6, prefix="n")
    for row in blind:
        row.features["amount"] = None  # amount cannot be judged; the share could still reach 0.5
    rows += blind + fraud_traffic(DAY + 4 * HOUR, 1, 60, seed=7, prefix="c")  # hour 3: empty window
    insert_predictions(engine, rows, ingested_at=DAY + 5 * HOUR)
    report = WindowScheduler(config=cfg, engine=engine, worker="w").tick(DAY + 5 * HOUR + timedelta(minutes=1))
    assert not report.failed, report

    def states_after(hour):
        start = DAY + hour * HOUR
        evaluate_window(engine, cfg, model="fraud", model_version="v1", window_start=start, window_end=start + HOUR,
                        now=DAY + 6 * HOUR)
        with engine.connect() as connection:
            return {rule: sorted(alert.state for alert in open_alerts_of(connection, rule=rule, model="fraud")
                                 .values()) for rule in ("drift", "share")}

    assert value(metric(engine, "dataset_drift", window_start=DAY + HOUR)) == 1.0
    assert states_after(1) == {"drift": ["firing"], "share": ["firing"]}
    assert metric(engine, "dataset_drift", window_start=DAY + 2 * HOUR).value is None
    assert states_after(2) == {"drift": ["firing"], "share": ["firing"]}  # not judged: still firing
    assert metric(engine, "dataset_drift", window_start=DAY + 3 * HOUR).value is None
    assert states_after(3) == {"drift": ["firing"], "share": ["firing"]}  # empty window: still firing
    assert value(metric(engine, "dataset_drift", window_start=DAY + 4 * HOUR)) == 0.0
    assert states_after(4) == {"drift": [], "share": []}  # a judged calm window resolves
