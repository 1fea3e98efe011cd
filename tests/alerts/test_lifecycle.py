"""Alert lifecycle timelines, in the style of Alertmanager's acceptance tests:
windows arrive one by one (real metric_values rows in a real store), the evaluator
and dispatcher run with a controlled clock, and a real HTTP receiver says exactly
which notifications arrived in which step."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine

from alerts.channels.config import build_channels
from alerts.dispatcher import Dispatcher
from alerts.evaluation import evaluate_due, evaluate_window
from monitor.config.models import DriftwatchConfig
from tests.alerts.smtp_server import SmtpServer
from tests.alerts.support import (
    DASHBOARD,
    alert_rows,
    drift,
    drift_rule,
    iso,
    make_config,
    notification_rows,
    window,
    write_window,
)
from tests.support.webhook import Receiver

STEP_DELAY = timedelta(minutes=5)  # the scheduler saves a window a few minutes after it ends


class Timeline:
    """Feeds windows to the evaluator and runs the dispatcher, as the service would."""

    def __init__(self, engine: Engine, config: DriftwatchConfig) -> None:
        self.engine = engine
        self.config = config
        self.dispatcher = Dispatcher(engine, config, build_channels(config.alerts))

    def step(self, hour: int, values: dict[tuple[str, str | None], float | None] | float | None,
             *, partial: bool = False, model: str = "fraud") -> datetime:
        if not isinstance(values, dict):
            values = {("dataset_drift_share", None): values}
        start, end = write_window(self.engine, hour, values, partial=partial, model=model)
        now = end + STEP_DELAY
        evaluate_window(self.engine, self.config, model=model, model_version="v1",
                        window_start=start, window_end=end, now=now)
        evaluate_due(self.engine, self.config, now)
        self.dispatcher.dispatch_once(now)
        return now


# hour, dataset_drift_share, what the receiver gets in that step (event, window hour)
TIMELINE: list[tuple[int, float, list[tuple[str, int]]]] = [
    (0, 0.50, []),                   # breach 1 of 2: pending, nobody hears of it
    (1, 0.60, [("firing", 1)]),      # breach 2 of 2: fires, once
    (2, 0.70, []),                   # still firing; repeat_interval (4h) not yet passed
    (3, 0.40, []),
    (4, 0.45, []),
    (5, 0.80, [("repeat", 5)]),      # 4h after the firing notification (02:05 → 06:05)
    (6, 0.10, [("resolved", 6)]),    # first window without breach: resolved, once
    (7, 0.10, []),
    (8, 0.90, []),                   # breaches again: a NEW alert, pending
    (9, 0.95, [("firing", 9)]),      # ... that fires with its own key
]


def test_pending_fire_repeat_resolve_and_refire(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule()], channels={"hook": {"type": "webhook", "url": receiver.url}},
                         repeat_interval="4h", send_resolved=True)
    timeline = Timeline(engine, config)

    for hour, share, expected in TIMELINE:
        before = len(receiver.delivered())
        timeline.step(hour, share)
        arrived = [(call.event, call.window_start) for call in receiver.delivered()[before:]]
        assert arrived == [(event, iso(window(at)[0])) for event, at in expected], f"hour {hour}"

    calls = receiver.delivered()
    assert len({call.key for call in calls}) == 4  # every notification has its own key
    assert [call.body["value"] for call in calls] == [0.60, 0.80, 0.10, 0.95]
    assert calls[0].body["first_breach_at"] == iso(window(0)[0])
    assert calls[3].body["first_breach_at"] == iso(window(8)[0])
    link = urlsplit(calls[0].body["dashboard_url"])
    assert f"{link.scheme}://{link.netloc}" == DASHBOARD and link.path == "/model"
    assert parse_qs(link.query) == {"model": ["fraud"], "version": ["v1"], "window": [iso(window(1)[0])]}
    first, second = alert_rows(engine)
    assert (first.state, first.started_at, first.fired_at, first.resolved_at) == (
        "resolved", window(0)[0], window(1)[1], window(6)[1])
    assert (second.state, second.started_at, second.consecutive) == ("firing", window(8)[0], 2)
    assert [row.status for row in notification_rows(engine)] == ["delivered"] * 4


def test_recomputed_and_replayed_windows_never_count_twice(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule(**{"for": 3})], channels={"hook": {"type": "webhook", "url": receiver.url}})
    timeline = Timeline(engine, config)

    timeline.step(0, 0.5)
    timeline.step(0, 0.6)  # late data: window 0 recomputed, still in breach
    timeline.step(1, 0.5)
    timeline.step(0, 0.7)  # an older window again
    assert receiver.delivered() == []
    assert [(row.state, row.consecutive) for row in alert_rows(engine)] == [("pending", 2)]

    timeline.step(2, 0.5)
    timeline.step(2, 0.5)
    assert receiver.events() == [("firing", iso(window(2)[0]))]


def test_a_delayed_rule_judges_a_window_once_its_late_labels_are_in(engine: Engine, receiver: Receiver) -> None:
    """Labels arrive hours late and the window is recomputed as they do: a rule with
    ``delay`` judges the window once, after the delay, on the recomputed values."""
    concept = {"name": "fraud-concept", "model": "fraud", "metric": "concept_drift", "when": "== 1", "for": 1,
               "severity": "critical", "channels": ["hook"], "delay": "3h"}
    config = make_config(rules=[drift_rule(), concept], channels={"hook": {"type": "webhook", "url": receiver.url}})
    timeline = Timeline(engine, config)
    dispatcher = timeline.dispatcher

    # Window 0 is saved with hardly any labels: no significant drop yet.
    timeline.step(0, {("dataset_drift_share", None): 0.0, ("concept_drift", None): 0.0})
    assert receiver.delivered() == []
    # Two hours later its labels are in and the recomputed window shows concept drift;
    # the data-drift rule already judged window 0 and never looks again.
    start, end = write_window(engine, 0, {("dataset_drift_share", None): 0.0, ("concept_drift", None): 1.0})
    early = end + timedelta(hours=2)
    evaluate_window(engine, config, model="fraud", model_version="v1", window_start=start, window_end=end,
                    now=early)
    evaluate_due(engine, config, early)
    dispatcher.dispatch_once(early)
    assert receiver.delivered() == []  # the delay has not passed: not judged yet

    late = end + timedelta(hours=3)
    evaluate_due(engine, config, late)
    dispatcher.dispatch_once(late)
    evaluate_due(engine, config, late + timedelta(minutes=1))  # judged once, never again
    dispatcher.dispatch_once(late + timedelta(minutes=1))
    assert [(call.body["rule"], call.event, call.window_start) for call in receiver.delivered()] == [
        ("fraud-concept", "firing", iso(window(0)[0]))]


def test_partial_windows_never_fire(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule(**{"for": 1})], channels={"hook": {"type": "webhook", "url": receiver.url}})
    timeline = Timeline(engine, config)

    timeline.step(0, 0.9, partial=True)
    assert receiver.delivered() == [] and alert_rows(engine) == []

    timeline.step(0, 0.9)  # the window completed, still in breach
    assert receiver.events() == [("firing", iso(window(0)[0]))]


def test_send_resolved_false_only_fires(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule(**{"for": 1})], channels={"hook": {"type": "webhook", "url": receiver.url}},
                         send_resolved=False)
    timeline = Timeline(engine, config)

    for hour, share in enumerate([0.5, 0.1, 0.1]):
        timeline.step(hour, share)

    assert receiver.events() == [("firing", iso(window(0)[0]))]
    assert [row.state for row in alert_rows(engine)] == ["resolved"]


def test_feature_star_keeps_one_alert_per_feature_and_model_star_every_model(
    engine: Engine, receiver: Receiver
) -> None:
    rule = {"name": "drifting-feature", "model": "*", "metric": "feature_drift_score", "feature": "*",
            "when": "> 0.2", "for": 1, "severity": "warning", "channels": ["hook"]}
    config = make_config(rules=[rule], channels={"hook": {"type": "webhook", "url": receiver.url}})
    timeline = Timeline(engine, config)

    timeline.step(0, {("feature_drift_score", "amount"): 0.5, ("feature_drift_score", "country"): 0.1,
                      ("dataset_drift_share", None): 0.9})
    timeline.step(0, {("feature_drift_score", "tenure"): 0.4}, model="churn")
    timeline.step(1, {("feature_drift_score", "amount"): 0.1, ("feature_drift_score", "country"): 0.3})

    seen = [(c.event, c.body["model"], c.body["feature"], c.window_start) for c in receiver.delivered()]
    assert seen == [
        ("firing", "fraud", "amount", iso(window(0)[0])),
        ("firing", "churn", "tenure", iso(window(0)[0])),
        ("resolved", "fraud", "amount", iso(window(1)[0])),
        ("firing", "fraud", "country", iso(window(1)[0])),
    ]


def test_a_window_that_could_not_be_judged_keeps_the_alert_firing(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule(**{"for": 1})], channels={"hook": {"type": "webhook", "url": receiver.url}})
    timeline = Timeline(engine, config)

    timeline.step(0, 0.9)
    timeline.step(1, None)  # empty or unjudgeable window: NULL is not "no drift"
    timeline.step(2, None)
    assert [call.event for call in receiver.delivered()] == ["firing"]
    assert [(row.state, row.consecutive) for row in alert_rows(engine)] == [("firing", 1)]

    timeline.step(3, 0.1)  # a judged calm window resolves it
    assert [call.event for call in receiver.delivered()] == ["firing", "resolved"]


def test_a_series_without_any_point_resolves(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule(**{"for": 1})], channels={"hook": {"type": "webhook", "url": receiver.url}})
    timeline = Timeline(engine, config)

    timeline.step(0, 0.9)
    timeline.step(1, {("prediction_count", None): 5.0})  # the series is gone (e.g. rule's metric no longer made)

    assert [call.event for call in receiver.delivered()] == ["firing", "resolved"]
    assert receiver.delivered()[1].body["value"] is None


def test_one_rule_reaches_slack_email_and_webhook_once_per_event(
    engine: Engine, httpserver: HTTPServer, start_smtp: Callable[..., SmtpServer]
) -> None:
    slack = Receiver(httpserver, "/services/T0/B0/secretpath")
    hook = Receiver(httpserver, "/hooks/retrain")
    smtp = start_smtp()
    channels: dict[str, Any] = {
        "ml-team": {"type": "slack", "webhook_url": slack.url},
        "oncall": {"type": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                   "sender": "driftwatch@example.com", "to": ["ml-oncall@example.com", "lead@example.com"]},
        "retrain-fraud": {"type": "webhook", "url": hook.url, "secret": "rs-1"},
    }
    config = make_config(rules=[drift_rule(channels=list(channels))], channels=channels)
    timeline = Timeline(engine, config)

    for hour, share in enumerate([0.5, 0.6, 0.7, 0.1]):
        timeline.step(hour, share)

    assert [call.event for call in hook.delivered()] == ["firing", "resolved"]
    assert [call.body["text"].split(":")[0] for call in slack.delivered()] == ["FIRING critical", "RESOLVED"]
    mails = [email.message_from_bytes(item.content, policy=email.policy.default)
             for item in smtp.handler.received]
    assert all(isinstance(mail, EmailMessage) for mail in mails)
    assert [str(mail["Subject"]) for mail in mails] == [
        "[FIRING critical] fraud: dataset_drift_share > 0.3",
        "[RESOLVED] fraud: dataset_drift_share > 0.3",
    ]
    assert all(item.rcpt_tos == ["ml-oncall@example.com", "lead@example.com"] for item in smtp.handler.received)
    assert {row.channel: row.status for row in notification_rows(engine)} == {
        "ml-team": "delivered", "oncall": "delivered", "retrain-fraud": "delivered"}


@pytest.mark.parametrize("for_", [1, 3])
def test_pending_is_never_notified(engine: Engine, receiver: Receiver, for_: int) -> None:
    config = make_config(rules=[drift_rule(**{"for": for_})],
                         channels={"hook": {"type": "webhook", "url": receiver.url}})
    timeline = Timeline(engine, config)

    for hour in range(for_ - 1):
        timeline.step(hour, 0.9)
    assert receiver.delivered() == []
    timeline.step(for_ - 1, 0.9)
    assert [call.event for call in receiver.delivered()] == ["firing"]
    drift(engine, for_, 0.9)  # saved but not yet evaluated: nothing more to say
    assert len(receiver.delivered()) == 1


def test_a_recomputed_window_is_judged_again_without_repeating_a_notification(
    engine: Engine, receiver: Receiver
) -> None:
    """Late labels recompute a window the rules judged already: a breach it now shows
    fires; recomputing it again, or every window, never notifies twice."""
    concept = {"name": "fraud-concept", "model": "fraud", "metric": "concept_drift", "when": "== 1", "for": 1,
               "severity": "critical", "channels": ["hook"]}
    config = make_config(rules=[drift_rule(), concept], channels={"hook": {"type": "webhook", "url": receiver.url}})
    timeline = Timeline(engine, config)
    quiet = {("dataset_drift_share", None): 0.0, ("concept_drift", None): 0.0}
    timeline.step(0, quiet)  # judged before its labels arrived: no concept drift seen
    timeline.step(1, quiet)
    assert receiver.delivered() == []

    def recompute(hour: int, values: dict[tuple[str, str | None], float | None], at: datetime, *,
                  hook: bool = True) -> None:
        start, end = write_window(engine, hour, values, computed_at=at)
        if hook:  # `driftwatch run` evaluates a window as soon as it is saved
            evaluate_window(engine, config, model="fraud", model_version="v1", window_start=start, window_end=end,
                            now=at)
        evaluate_due(engine, config, at)
        timeline.dispatcher.dispatch_once(at)

    labelled = {("dataset_drift_share", None): 0.0, ("concept_drift", None): 1.0}
    later = window(1)[1] + timedelta(hours=1)
    recompute(0, labelled, later)  # window 0's labels are in: concept drift
    assert receiver.events() == [("firing", iso(window(0)[0]))]
    recompute(0, labelled, later + timedelta(minutes=10))  # recomputed again, same verdict: no repeat
    assert receiver.events() == [("firing", iso(window(0)[0]))]

    timeline.step(2, quiet)  # the newest window decides: resolved
    assert receiver.events() == [("firing", iso(window(0)[0])), ("resolved", iso(window(2)[0]))]
    # `driftwatch compute` recomputes every window: nothing is news, nothing is sent.
    redo = window(2)[1] + timedelta(hours=1)
    for hour, values in ((0, labelled), (1, quiet), (2, quiet)):
        recompute(hour, values, redo + timedelta(minutes=hour))
    assert len(receiver.delivered()) == 2

    # Window 1 breaches now too, but the alert had it covered (firing from window 0 to 2).
    recompute(1, labelled, redo + timedelta(minutes=30))
    assert len(receiver.delivered()) == 2

    # Without the hook (a separate `driftwatch schedule`): the alert service finds it.
    timeline.step(3, quiet)
    timeline.step(4, quiet)
    recompute(3, labelled, window(4)[1] + timedelta(hours=1), hook=False)
    assert receiver.events()[2:] == [("firing", iso(window(3)[0]))]
    # The data-drift rule (for: 2) never counts an old window twice or out of order.
    assert {row.rule for row in alert_rows(engine)} == {"fraud-concept"}
