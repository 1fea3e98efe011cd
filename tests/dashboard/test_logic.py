"""The dashboard's pure logic: health rule, drift strength, frames, distributions, links."""

from __future__ import annotations

import doctest
import importlib
import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from dashboard.distributions import OTHER, compare_distributions
from dashboard.drift_strength import P_VALUE_METHODS, drift_strength, score_kind
from dashboard.frames import active_silence, alert_markers, current_models, rank_features, wide_latest
from dashboard.health import Health, OpenAlert, WindowVitals, assess_health, assess_models
from dashboard.settings import store_url_from
from dashboard.time_ranges import AROUND_WINDOW, model_page_query, parse_window, resolve_range
from monitor.metrics.drift.registry import DRIFT_METHODS

T0 = datetime(2026, 1, 15, 10, tzinfo=UTC)
MODULES = ["dashboard.drift_strength", "dashboard.health", "dashboard.time_ranges", "dashboard.settings",
           "dashboard.formatting", "dashboard.distributions", "dashboard.frames", "dashboard.store"]


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
