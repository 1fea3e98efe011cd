"""The dashboard's pure logic: health rule, drift strength, frames, distributions, links."""

from __future__ import annotations

import doctest
import importlib
import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from dashboard.charts import axis_format, tick_step, time_series_chart
from dashboard.distributions import OTHER, compare_distributions
from dashboard.drift_strength import P_VALUE_METHODS, drift_strength, score_kind, score_kind_of
from dashboard.formatting import blank_missing, score_label
from dashboard.frames import (
    active_silence,
    alert_markers,
    current_models,
    default_model,
    drift_verdict,
    group_reasons,
    headline_metric,
    rank_features,
    reason_kind,
    wide_latest,
)
from dashboard.health import Health, OpenAlert, WindowVitals, assess_health, assess_models
from dashboard.settings import store_url_from
from dashboard.time_ranges import AROUND_WINDOW, model_page_query, parse_window, resolve_range
from monitor.ingest.decode import decode_prediction
from monitor.ingest.records import Origin
from monitor.metrics.drift.registry import DRIFT_METHODS

T0 = datetime(2026, 1, 15, 10, tzinfo=UTC)
MODULES = ["dashboard.drift_strength", "dashboard.health", "dashboard.time_ranges", "dashboard.settings",
           "dashboard.formatting", "dashboard.distributions", "dashboard.frames", "dashboard.store", "dashboard.charts"]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


# ---- health ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("alerts", "vitals", "expected"),
    [
        ([], None, Health.GREEN),
        ([], WindowVitals(), Health.GREEN),
        ([OpenAlert("r", "firing", "critical")], WindowVitals(), Health.RED),
        ([OpenAlert("r", "pending", "critical")], WindowVitals(), Health.AMBER),
        ([OpenAlert("r", "firing", "warning")], WindowVitals(), Health.AMBER),
        ([OpenAlert("r", "firing", "info")], WindowVitals(), Health.GREEN),
        ([], WindowVitals(dataset_drift=True), Health.RED),
        ([], WindowVitals(error_rate_breach=True), Health.RED),
        ([], WindowVitals(breached_metrics=("latency_p95_ms",)), Health.AMBER),
        ([], WindowVitals(breached_features=("amount",)), Health.AMBER),
        ([OpenAlert("r", "pending", "warning")], WindowVitals(dataset_drift=True), Health.RED),
    ],
)
def test_health_rule(alerts: list[OpenAlert], vitals: WindowVitals | None, expected: Health) -> None:
    assert assess_health(alerts, vitals).health is expected


def test_health_reasons_do_not_repeat_what_made_it_red() -> None:
    status = assess_health([], WindowVitals(dataset_drift=True, breached_metrics=("dataset_drift",
                                                                                  "dataset_drift_share")))
    assert status.reasons == ("dataset drift in the latest window",)


def test_assess_models_reads_alerts_and_window_points() -> None:
    alerts = pd.DataFrame({"model": ["a"], "rule": ["lat"], "state": ["pending"], "severity": ["warning"]})
    points = pd.DataFrame({
        "model": ["b", "b", "c"],
        "metric": ["error_rate", "feature_drift_score", "error_rate"],
        "feature": [None, "x", None],
        "value": [0.2, 0.001, 0.01],
        "is_breach": [True, True, None],
    })
    health = assess_models(["a", "b", "c", "d"], alerts, points)
    assert [health[m].health for m in "abcd"] == [Health.AMBER, Health.RED, Health.GREEN, Health.GREEN]
    assert health["b"].reasons == ("error rate over its threshold", "features over threshold: x")


# ---- drift strength ------------------------------------------------------------------------------------------------

def test_p_value_methods_match_the_drift_registry() -> None:
    from_registry = {name for name, method in DRIFT_METHODS.items() if method.score_kind == "p_value"}
    assert from_registry <= P_VALUE_METHODS
    assert all(score_kind(name) == method.score_kind for name, method in DRIFT_METHODS.items())


@pytest.mark.parametrize(
    ("score", "threshold", "kind", "strength"),
    [
        (0.05, 0.05, "p_value", 0.5),
        (0.0025, 0.05, "p_value", 1.0),
        (1e-12, 0.05, "p_value", 1.0),
        (0.0, 0.05, "p_value", 1.0),
        (1.0, 0.05, "p_value", 0.0),
        (0.2, 0.1, "distance", 1.0),
        (0.1, 0.1, "distance", 0.5),
        (0.0, 0.1, "distance", 0.0),
        (0.3, 0.0, "distance", 1.0),
        (0.5, 1.0, "p_value", 1.0),
    ],
)
def test_drift_strength_maps_the_threshold_to_one_half(score: float, threshold: float, kind: str,
                                                       strength: float) -> None:
    assert drift_strength(score, threshold, kind) == pytest.approx(strength)  # type: ignore[arg-type]


def test_drift_strength_orders_evidence_the_same_way_as_each_test() -> None:
    p_values = [0.9, 0.3, 0.05, 0.01, 0.001]
    strengths = [drift_strength(p, 0.05, "p_value") for p in p_values]
    assert strengths == sorted(strengths)
    assert math.isnan(drift_strength(float("nan"), 0.05, "p_value"))
    assert math.isnan(drift_strength(0.1, None, "distance"))


# ---- frames ------------------------------------------------------------------------------------------------------

def test_current_models_picks_the_version_of_the_newest_window() -> None:
    windows = pd.DataFrame({
        "model": ["m", "m"], "model_version": ["v1", "v2"],
        "last_window": pd.to_datetime(["2026-01-14", "2026-01-15"], utc=True),
        "last_window_end": pd.to_datetime(["2026-01-14 01:00", "2026-01-15 01:00"], utc=True),
        "last_complete_window": pd.to_datetime(["2026-01-14", None], utc=True),
    })
    row = current_models(windows).iloc[0]
    assert row["version"] == "v2" and row["versions"] == ("v1", "v2")
    assert row["last_complete_window"] == pd.Timestamp("2026-01-14", tz="UTC")


def test_wide_latest_adds_counts_and_averages_the_rest_across_versions() -> None:
    points = pd.DataFrame({
        "model": ["m"] * 4, "metric": ["prediction_count", "prediction_count", "error_rate", "error_rate"],
        "feature": [None] * 4, "value": [100.0, 50.0, 0.1, 0.3],
    })
    table = wide_latest(points, ["prediction_count", "error_rate"])
    assert table.loc["m", "prediction_count"] == 150.0
    assert table.loc["m", "error_rate"] == pytest.approx(0.2)


def test_active_silence_matches_rule_model_and_feature_while_active() -> None:
    alerts = pd.DataFrame({"rule": ["r", "r", "r", "q"], "model": ["a", "a", "b", "a"],
                           "feature": ["x", "y", "x", "x"]})
    silences = pd.DataFrame({"rule": ["r", "q"], "model": ["a", None], "feature": ["x", None],
                             "starts_at": [T0, T0], "ends_at": [T0.replace(hour=12), T0.replace(hour=11)],
                             "comment": ["fix deploying", "expired"]})
    assert list(active_silence(alerts, silences, T0.replace(hour=11, minute=30))) == ["fix deploying", None, None,
                                                                                      None]


def test_alert_markers_keep_events_inside_the_range() -> None:
    alerts = pd.DataFrame({"rule": ["r"], "severity": ["critical"],
                           "started_at": [pd.Timestamp("2026-01-15 08:00", tz="UTC")],
                           "fired_at": [pd.Timestamp("2026-01-15 09:00", tz="UTC")], "resolved_at": [pd.NaT]})
    markers = alert_markers(alerts, datetime(2026, 1, 15, 8, 30, tzinfo=UTC), None)
    assert list(markers["event"]) == ["alert fired"]


def test_rank_features_puts_the_newest_strongest_drift_first() -> None:
    heat = pd.DataFrame({
        "window_start": pd.to_datetime(["2026-01-15 09:00", "2026-01-15 10:00"] * 2, utc=True),
        "feature": ["a", "a", "b", "b"], "method": ["ks", "ks", "psi", "psi"],
        "score": [0.001, 0.5, 0.05, 0.3], "threshold": [0.05, 0.05, 0.1, 0.1],
        "strength": [1.0, 0.1, 0.25, 1.0], "drifted": [True, False, False, True], "is_partial": [False] * 4,
    })
    ranking = rank_features(heat)
    assert list(ranking["feature"]) == ["b", "a"]
    assert list(ranking["windows_drifted"]) == [1, 1]
    assert list(ranking["max_strength"]) == [1.0, 1.0]


# ---- distributions -------------------------------------------------------------------------------------------------

def test_numeric_distribution_shares_one_set_of_bins() -> None:
    distribution = compare_distributions(list(range(100)), [v + 50.0 for v in range(100)] + [None], bins=10)
    frame = distribution.frame
    assert distribution.kind == "numeric" and distribution.missing_current == 1
    reference = frame[frame["sample"] == "reference"]
    current = frame[frame["sample"] == "current"]
    assert list(reference["bin_start"]) == list(current["bin_start"])
    assert reference["share"].sum() == pytest.approx(1.0) and current["share"].sum() == pytest.approx(1.0)
    assert current["share"].iloc[0] == 0.0 and reference["share"].iloc[-1] == 0.0


def test_categorical_distribution_pools_rare_categories() -> None:
    reference = ["a"] * 5 + ["b"] * 3 + ["c", "d"]
    distribution = compare_distributions(reference, ["a", "e", "e"], max_categories=3)
    frame = distribution.frame.set_index(["sample", "category"])["share"]
    assert distribution.kind == "categorical"
    assert frame[("reference", "a")] == 0.5 and frame[("current", "e")] == pytest.approx(2 / 3)
    assert frame[("reference", OTHER)] == pytest.approx(0.2)


def test_booleans_are_categories_not_numbers() -> None:
    assert compare_distributions([True, False], [True]).kind == "categorical"


# ---- links and settings ------------------------------------------------------------------------------------------

def test_model_page_links_round_trip_through_the_window_parser() -> None:
    query = model_page_query("fraud", "v2", T0)
    window = dict(pair.split("=") for pair in query.split("&"))["window"]
    from urllib.parse import unquote, unquote_plus

    assert parse_window(unquote(window)) == T0
    assert parse_window(unquote_plus("2026-01-15T10:00:00+00:00")) == T0  # '+' decoded as a space


def test_around_window_range_is_two_days_wide() -> None:
    span = resolve_range(AROUND_WINDOW, latest_end=T0, window=T0)
    assert span.start is not None and (span.end - span.start).days == 2
    assert resolve_range("All", latest_end=T0).start is None


def test_store_url_from_arguments_wins_over_the_environment() -> None:
    environ = {"DRIFTWATCH_STORE": "sqlite:///env.db"}
    assert store_url_from(["--store=sqlite:///arg.db"], environ) == "sqlite:///arg.db"
    assert store_url_from([], environ) == "sqlite:///env.db"


# ---- readability (axes, model choice, score kinds, empty cells, reasons) -------------------------------------------

def _ticks(low: float, high: float, value_format: str) -> list[str]:
    """The labels d3 would draw: multiples of the step inside [low, high], formatted."""
    step = tick_step(low, high)
    first = math.ceil(low / step)
    labels = []
    for k in range(first, first + 20):
        value = k * step
        if value > high + step / 1e6:
            break
        labels.append(f"{value * 100:.{int(value_format[1:-1])}f}%" if value_format.endswith("%")
                      else f"{value:,.{int(value_format.split('.')[1][:-1])}f}")
    return labels


@pytest.mark.parametrize(
    ("values", "percent", "zero"),
    [
        ([114.2, 114.3, 114.5, 114.66], False, False),  # a regression's mean: "115, 114, 114, 114" before
        ([0.0002, 0.00025, 0.00038], True, True),  # out-of-range share: "0.0%" on every tick before
        ([500.0, 730.0], False, False),
        ([0.85, 0.92], False, False),
        ([0.01, 0.011, 0.05], True, True),
    ],
)
def test_axis_ticks_all_differ(values: list[float], percent: bool, zero: bool) -> None:
    value_format = axis_format(values, percent=percent, zero=zero)
    low, high = (min(0.0, min(values)), max(values)) if zero else (min(values), max(values))
    labels = _ticks(low, high, value_format)
    assert len(labels) >= 2 and len(set(labels)) == len(labels), (value_format, labels)


def test_share_charts_start_at_zero_and_means_do_not() -> None:
    frame = pd.DataFrame({"window_start": pd.to_datetime(["2026-01-15 09:00", "2026-01-15 10:00"], utc=True),
                          "value": [0.0002, 0.0004], "series": ["f00", "f00"]})
    share = time_series_chart(frame, y_title="share", percent=True)["layer"][0]["encoding"]["y"]
    assert share["scale"]["zero"] is True and share["axis"]["format"] == ".2%"
    mean = time_series_chart(frame.assign(value=[114.2, 114.66]), y_title="mean")["layer"][0]["encoding"]["y"]
    assert mean["scale"]["zero"] is False and mean["axis"]["format"] == ",.1f"


def test_default_model_is_the_worst_health_then_the_worst_alert() -> None:
    no_alerts = pd.DataFrame(columns=["model", "state", "severity"])
    health = {"churn": Health.AMBER, "fraud": Health.RED, "price": Health.GREEN}
    assert default_model(["churn", "fraud", "price"], no_alerts, health) == "fraud"
    alerts = pd.DataFrame({"model": ["a", "b"], "state": ["pending", "firing"], "severity": ["warning", "warning"]})
    assert default_model(["a", "b"], alerts, {"a": Health.AMBER, "b": Health.AMBER}) == "b"
    assert default_model(["b", "a"], no_alerts, {}) == "a"


def test_headline_metric_follows_the_task() -> None:
    assert headline_metric({"prediction_mean", "mae", "rmse", "r2"}) == "mae"
    assert headline_metric({"class_share", "accuracy", "f1"}) == "accuracy"
    assert headline_metric({"rmse"}) == "rmse"


@pytest.mark.parametrize(
    ("metric", "method", "p_value", "value", "threshold", "breach", "kind"),
    [
        ("label_drift_score", None, 0.0, 0.0, 0.05, True, "p_value"),
        ("label_drift_score", None, None, 0.6, 0.05, False, "p_value"),
        ("prediction_drift_score", "psi", None, 0.25, 0.1, True, "distance"),
        ("feature_drift_score", "ks", 0.001, 0.001, 0.05, True, "p_value"),
        ("feature_drift_score", None, None, 0.3, 0.1, True, "distance"),
        ("feature_drift_score", None, None, 0.01, 0.05, True, "p_value"),
        ("feature_drift_score", None, None, 0.3, 0.1, None, None),
        ("error_rate", None, None, 0.3, 0.1, True, None),
    ],
)
def test_drift_scores_say_whether_they_are_p_values_or_distances(metric: str, method: str | None,
                                                                 p_value: float | None, value: float,
                                                                 threshold: float, breach: bool | None,
                                                                 kind: str | None) -> None:
    assert score_kind_of(metric, method, p_value, value, threshold, breach) == kind


def test_score_labels_name_the_kind() -> None:
    assert score_label("label_drift_score", "p_value") == "Label drift (p-value, lower = drift)"
    assert score_label("prediction_drift_score", "distance") == "Prediction drift (distance, higher = drift)"


def test_blank_missing_leaves_no_literal_none() -> None:
    table = pd.DataFrame({"feature": [None, "f01"], "fired": pd.to_datetime([None, "2026-01-15 10:00"], utc=True),
                          "value": [float("nan"), 0.25], "count": [1, 2]})
    shown = blank_missing(table, numbers={"value": "{:.4g}"})
    assert shown.to_dict("list") == {"feature": ["", "f01"], "fired": ["", "2026-01-15 10:00"], "value": ["—", "0.25"],
                                     "count": [1, 2]}


def test_drift_verdict_names_the_share_and_the_setting() -> None:
    assert drift_verdict(0.4, 0.5, False) == (
        "no: 40% of the features drift, under this model's drift_share setting of 50%")


def test_dead_letter_reasons_group_by_kind_not_by_position() -> None:
    times = pd.to_datetime(["2026-01-15 10:00", "2026-01-15 11:00", "2026-01-15 09:00", "2026-01-15 08:00"], utc=True)
    exact = pd.DataFrame({
        "reason": ["not valid JSON: Expecting value at line 1 column 5 (char 4)",
                   "not valid JSON: Expecting value at line 1 column 9",
                   "not valid JSON: Unterminated string starting at line 2 column 1",
                   "missing required field 'model'"],
        "topic": ["predictions"] * 4, "count": [3, 2, 1, 4], "last_seen": times, "first_seen": times,
    })
    grouped = group_reasons(exact)
    assert list(grouped["reason"]) == ["not valid JSON: Expecting value", "missing required field 'model'",
                                       "not valid JSON: Unterminated string starting"]
    assert list(grouped["count"]) == [5, 4, 1] and list(grouped["variants"]) == [2, 1, 1]
    assert grouped["example"][0] == "not valid JSON: Expecting value at line 1 column 9"  # the newest, in full
    assert reason_kind("message is not UTF-8 (byte 3: b'\\xff'); encode JSON as UTF-8") == (
        "message is not UTF-8; encode JSON as UTF-8")


def test_json_reasons_say_at_once() -> None:
    reason = decode_prediction(b'{"model": "fra', Origin("predictions", 0, 1)).reason  # type: ignore[union-attr]
    assert reason == "not valid JSON: Unterminated string starting at line 1 column 11"
