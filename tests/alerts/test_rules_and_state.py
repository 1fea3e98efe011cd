"""Pure logic with exact expected results: rule evaluation on one window's points,
and the alert state machine fed window by window."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from alerts.rules import Observation, evaluate_rule, no_data, rule_applies_to
from alerts.state import Alert, advance, mark_notified, repeat_due
from monitor.config.models import AlertRule
from monitor.metrics.point import MetricPoint
from tests.alerts.support import HOUR, T0


def rule(**overrides: Any) -> AlertRule:
    fields: dict[str, Any] = {"name": "r", "model": "fraud", "metric": "feature_drift_score", "feature": "*",
                              "when": "> 0.2", "for": 2, "severity": "critical"}
    fields.update(overrides)
    return AlertRule.model_validate(fields)


POINTS = {
    "v1": [
        MetricPoint("feature_drift_score", 0.25, feature="amount"),
        MetricPoint("feature_drift_score", 0.10, feature="country"),
        MetricPoint("feature_drift_score", math.nan, feature="age", details={"reason": "no data"}),
        MetricPoint("dataset_drift_share", 0.50),
        MetricPoint("missing_share", 0.90, feature="amount"),
    ],
}


def seen(observations: list[Observation]) -> list[tuple[str | None, bool, float]]:
    return [(o.feature, o.breach, o.value) for o in observations]


def test_feature_star_gives_one_observation_per_feature_of_the_metric() -> None:
    result = evaluate_rule(rule(), POINTS)

    assert [(f, b) for f, b, _ in seen(result)] == [("age", False), ("amount", True), ("country", False)]
    assert result[0].details == {"reason": "no data"} and math.isnan(result[0].value)


def test_a_named_feature_and_the_model_level_row() -> None:
    assert seen(evaluate_rule(rule(feature="country"), POINTS)) == [("country", False, 0.10)]
    assert seen(evaluate_rule(rule(metric="dataset_drift_share", feature=None), POINTS)) == [(None, True, 0.50)]
    assert evaluate_rule(rule(metric="error_rate", feature=None), POINTS) == []


def test_with_several_versions_any_breach_counts_and_the_worst_is_reported() -> None:
    points = {
        "v1": [MetricPoint("error_rate", 0.05)],
        "v2": [MetricPoint("error_rate", 0.40)],
        "v3": [MetricPoint("error_rate", 0.30)],
    }
    [result] = evaluate_rule(rule(metric="error_rate", feature=None, when="> 0.1"), points)
    assert (result.breach, result.value, result.model_version) == (True, 0.40, "v2")

    [calm] = evaluate_rule(rule(metric="error_rate", feature=None, when="> 0.9"), points)
    assert (calm.breach, calm.model_version) == (False, "v3")


def test_outside_conditions_and_model_matching() -> None:
    points = {"v1": [MetricPoint("positive_rate", 0.95)]}
    [result] = evaluate_rule(rule(metric="positive_rate", feature=None, when="outside [0.1, 0.9]"), points)
    assert result.breach
    assert rule_applies_to(rule(model="*"), "anything") and not rule_applies_to(rule(), "churn")
    missing = no_data("x")
    assert (missing.feature, missing.breach, missing.model_version) == ("x", False, None)
    assert math.isnan(missing.value)


def observe(value: float, feature: str | None = None, version: str = "v1") -> Observation:
    return Observation(feature=feature, breach=value > 0.2, value=value, model_version=version)


def feed(values: list[float], for_: int = 2) -> list[tuple[str | None, str | None, int]]:
    """(state after, event, consecutive) per window."""
    current: Alert | None = None
    trail: list[tuple[str | None, str | None, int]] = []
    the_rule = rule(feature=None, metric="dataset_drift_share", **{"for": for_})
    for hour, value in enumerate(values):
        step = advance(current, observe(value), rule=the_rule, model="fraud",
                       window_start=T0 + hour * HOUR, window_end=T0 + (hour + 1) * HOUR,
                       now=T0 + (hour + 1) * HOUR)
        after = step.after
        trail.append((after.state if after else None, step.event, after.consecutive if after else 0))
        current = after if after is not None and after.is_open else None
    return trail


def test_state_machine_timeline() -> None:
    assert feed([0.5, 0.1, 0.5, 0.5, 0.6, 0.1, 0.5]) == [
        ("pending", None, 1),
        (None, None, 0),          # a pending alert that sees a calm window is dropped
        ("pending", None, 1),
        ("firing", "firing", 2),
        ("firing", None, 3),
        ("resolved", "resolved", 0),
        ("pending", None, 1),     # a NEW alert
    ]


def test_for_one_fires_on_the_first_breach() -> None:
    assert feed([0.5, 0.5, 0.0], for_=1) == [("firing", "firing", 1), ("firing", None, 2), ("resolved", "resolved", 0)]


def test_times_of_an_alert() -> None:
    the_rule = rule(feature=None, metric="dataset_drift_share", **{"for": 1})
    now = T0 + 3 * HOUR
    fired = advance(None, observe(0.5), rule=the_rule, model="fraud", window_start=T0, window_end=T0 + HOUR,
                    now=now).after
    assert fired is not None
    assert (fired.started_at, fired.fired_at, fired.last_notified_at, fired.last_value) == (T0, T0 + HOUR, now, 0.5)

    later = advance(fired, no_data(None), rule=the_rule, model="fraud",
                    window_start=T0 + HOUR, window_end=T0 + 2 * HOUR, now=now).after
    assert later is not None
    assert (later.state, later.resolved_at, later.last_value, later.model_version) == (
        "resolved", T0 + 2 * HOUR, None, "v1")
    with pytest.raises(ValueError, match="resolved"):
        advance(later, observe(0.5), rule=the_rule, model="fraud", window_start=T0, window_end=T0 + HOUR, now=now)


def test_a_window_not_judged_neither_resolves_nor_advances_an_alert() -> None:
    the_rule = rule(feature=None, metric="dataset_drift", when="== 1", **{"for": 2})
    windows = [(T0 + n * HOUR, T0 + (n + 1) * HOUR) for n in range(4)]

    def step(alert: Alert | None, value: float, n: int) -> Alert | None:
        seen = Observation(feature=None, breach=value == 1, value=value, model_version="v1")
        start, end = windows[n]
        return advance(alert, seen, rule=the_rule, model="fraud", window_start=start, window_end=end,
                       now=end).after

    pending = step(None, 1.0, 0)
    assert pending is not None and (pending.state, pending.consecutive) == ("pending", 1)
    assert step(pending, math.nan, 1) == pending  # not judged: not a calm window, so not dropped
    fired = step(pending, 1.0, 2)
    assert fired is not None and (fired.state, fired.consecutive) == ("firing", 2)
    assert step(fired, math.nan, 3) == fired  # not judged: still firing, not resolved
    assert advance(None, Observation(feature=None, breach=False, value=math.nan, model_version="v1"),
                   rule=the_rule, model="fraud", window_start=T0, window_end=T0 + HOUR, now=T0).after is None


def test_a_judged_version_outweighs_one_not_judged() -> None:
    points = {"v1": [MetricPoint("dataset_drift", 0.0)], "v2": [MetricPoint("dataset_drift", math.nan)]}
    [result] = evaluate_rule(rule(metric="dataset_drift", feature=None, when="== 1"), points)
    assert (result.value, result.model_version, result.not_judged) == (0.0, "v1", False)
    [alone] = evaluate_rule(rule(metric="dataset_drift", feature=None, when="== 1"), {"v2": points["v2"]})
    assert alone.not_judged and not no_data(None).not_judged


def test_repeat_is_due_after_the_interval_since_the_last_notification() -> None:
    alert = Alert(id=1, rule="r", model="m", feature=None, metric="error_rate", severity="warning",
                  condition="> 0.1", state="firing", consecutive=3, model_version="v1", started_at=T0,
                  last_notified_at=T0)
    interval = timedelta(hours=4)
    assert not repeat_due(alert, now=T0 + interval - timedelta(seconds=1), repeat_interval=interval)
    assert repeat_due(alert, now=T0 + interval, repeat_interval=interval)
    repeated = mark_notified(alert, T0 + interval)
    assert not repeat_due(repeated, now=T0 + interval + timedelta(hours=1), repeat_interval=interval)
    pending = Alert(**{**{f: getattr(alert, f) for f in Alert.__dataclass_fields__}, "state": "pending"})
    assert not repeat_due(pending, now=T0 + 10 * interval, repeat_interval=interval)


def test_each_challenger_against_each_champion_is_a_series_of_its_own():
    compare = rule(metric="compare_error_rate_diff", when="> 0.02", feature=None)

    def point(value: float, champion: str) -> MetricPoint:
        return MetricPoint("compare_error_rate_diff", value, compare=f"champion={champion}",
                           details={"champion": champion, "p_value": 0.001})

    points = {"v2": [point(0.10, "v1")], "v3": [point(0.05, "v1")], "v4": [point(0.0, "v1")]}
    found = evaluate_rule(compare, points)
    assert [(o.model_version, o.compare, o.breach) for o in found] == [
        ("v2", "champion=v1", True), ("v3", "champion=v1", True), ("v4", "champion=v1", False)]
    assert len({o.series for o in found}) == 3
    # The same challenger against another champion (after a promotion) is another series.
    (other,) = evaluate_rule(compare, {"v2": [point(0.10, "v0")]})
    assert other.series != found[0].series
    # A comparison the window did not make is not judged: it never resolves the challenger's alert.
    assert no_data(None, None, "champion=v1", "v2").not_judged
