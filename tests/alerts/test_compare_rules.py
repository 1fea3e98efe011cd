"""A rule on a comparison metric ("the challenger fails more often than the champion"),
judged on windows the scheduler really computed, through the service's hook: it fires for
a worse canary, names both versions, and stays quiet for an equal one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.channels.presentation import summary_fields
from alerts.evaluation import evaluate_window
from alerts.notification import Notification
from monitor.config.loader import config_from_mapping
from monitor.jobs.scheduler import WindowScheduler
from tests.alerts.support import alert_rows, notification_rows
from tests.monitor.jobs.canary_data import traffic
from tests.monitor.jobs.store_data import DAY, FRAUD_MODEL, HOUR, insert_predictions

NOW = DAY + HOUR + timedelta(minutes=1)
RULE = {"name": "canary-errors", "model": "fraud", "metric": "compare_error_rate_diff", "when": "> 0.02",
        "significant": True, "severity": "critical", "channels": ["oncall"]}


def _run(engine, challenger_error_rate: float, *, rules=(RULE,), rows=None, now=NOW) -> None:
    config = config_from_mapping({
        "models": {"fraud": FRAUD_MODEL},
        "alerts": {"rules": list(rules),
                   "channels": {"oncall": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}}},
    }, environ={})
    insert_predictions(engine, rows or (traffic("v1", 900, seed=1, error_rate=0.02, latency=10, shift=0.0)
                                        + traffic("v2", 300, seed=2, error_rate=challenger_error_rate, latency=10,
                                                  shift=0.0)),
                       ingested_at=now - timedelta(minutes=1))

    def evaluate(model, version, start, end, partial):
        if not partial:
            evaluate_window(engine, config, model=model, model_version=version, window_start=start,
                            window_end=end, now=now)

    WindowScheduler(config=config, engine=engine, worker="w", on_window_computed=evaluate).tick(now)


def test_a_worse_canary_fires_the_rule_naming_both_versions(engine):
    _run(engine, challenger_error_rate=0.15)
    (alert,) = alert_rows(engine)
    assert (alert.rule, alert.state, alert.model_version, alert.compare) == (
        "canary-errors", "firing", "v2", "champion=v1")
    (row,) = notification_rows(engine)
    notification = Notification.from_dict(row.payload)
    assert notification.details["champion"] == "v1" and notification.details["p_value"] < 0.05
    assert ("Model", "fraud version v2 (challenger) vs v1 (champion)") in summary_fields(notification)
    # Its link opens the Versions page on that challenger and window.
    assert notification.dashboard_url.split("/")[-1] == (
        "versions?model=fraud&version=v2&window=2026-03-02T00%3A00%3A00Z")


def test_an_equal_canary_does_not_fire(engine):
    _run(engine, challenger_error_rate=0.02)
    assert alert_rows(engine) == []
    assert notification_rows(engine) == []


def test_a_gap_that_could_be_chance_fires_only_the_rule_without_significant(engine):
    """18 of 900 champion calls fail, 2 of 40 canary calls: 3 points more, p ≈ 0.2."""
    champion = traffic("v1", 900, seed=1, error_rate=0.0, latency=10, shift=0.0)
    canary = traffic("v2", 40, seed=2, error_rate=0.0, latency=10, shift=0.0)
    for row in champion[::50] + canary[::20]:
        row.status = "error"
    loose = {**RULE, "name": "canary-errors-any", "significant": False}
    _run(engine, 0.0, rules=(RULE, loose), rows=champion + canary)
    (alert,) = alert_rows(engine)
    assert alert.rule == "canary-errors-any" and alert.last_value == pytest.approx(2 / 40 - 18 / 900)


@pytest.mark.parametrize(("rule", "fragment"), [
    ({"metric": "compare_dataset_drift_share", "significant": True}, "significant: true needs a comparison metric"),
    ({"metric": "error_rate", "significant": True}, "significant: true needs a comparison metric"),
    ({"metric": "compare_error_rat_diff"}, "did you mean 'compare_error_rate_diff'"),
    ({"alpha": 1.5}, "alpha"),
])
def test_a_bad_comparison_rule_is_refused_with_the_fix(rule, fragment):
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match=fragment):
        config_from_mapping({"models": {"fraud": FRAUD_MODEL},
                             "alerts": {"rules": [{**RULE, "channels": [], **rule}]}}, environ={})


def test_two_challengers_have_alerts_of_their_own(engine):
    """v2 fails far more often than the champion, v3 as often: one alert, about v2 against v1. In the
    next window v2 does not serve and v3 is fine again: v2's alert stays firing, as nothing judged v2."""
    rows = (traffic("v1", 900, seed=1, error_rate=0.02, latency=10, shift=0.0)
            + traffic("v2", 300, seed=2, error_rate=0.15, latency=10, shift=0.0)
            + traffic("v3", 300, seed=3, error_rate=0.02, latency=10, shift=0.0))
    _run(engine, 0.0, rows=rows)
    (alert,) = alert_rows(engine)
    assert (alert.state, alert.model_version, alert.compare) == ("firing", "v2", "champion=v1")

    later = (traffic("v1", 900, seed=4, error_rate=0.02, latency=10, shift=0.0, start=DAY + HOUR, prefix="b")
             + traffic("v3", 300, seed=5, error_rate=0.02, latency=10, shift=0.0, start=DAY + HOUR, prefix="b"))
    _run(engine, 0.0, rows=later, now=NOW + HOUR)
    (alert,) = alert_rows(engine)
    assert (alert.state, alert.model_version, alert.compare) == ("firing", "v2", "champion=v1")
    assert [row.event for row in notification_rows(engine)] == ["firing"]
