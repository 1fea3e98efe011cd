"""Silences: silenced alerts change state but the receiver hears nothing; scope by
rule, model and feature; create, list and expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from alerts.channels.config import build_channels
from alerts.dispatcher import Dispatcher
from alerts.errors import SilenceError
from alerts.evaluation import evaluate_window
from alerts.silences import Silence, create_silence, expire_silence, list_silences, matching_silence
from monitor.config.models import DriftwatchConfig
from tests.alerts.support import T0, alert_rows, drift_rule, iso, make_config, notification_rows, window, write_window
from tests.support.webhook import Receiver


def run(engine: Engine, config: DriftwatchConfig, hour: int, values: dict[tuple[str, str | None], float]) -> None:
    start, end = write_window(engine, hour, values)
    now = end + timedelta(minutes=1)
    evaluate_window(engine, config, model="fraud", model_version="v1", window_start=start, window_end=end, now=now)
    Dispatcher(engine, config, build_channels(config.alerts)).dispatch_once(now)


def share(value: float) -> dict[tuple[str, str | None], float]:
    return {("dataset_drift_share", None): value}


def test_a_silenced_alert_changes_state_but_notifies_nobody(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule()], channels={"hook": {"type": "webhook", "url": receiver.url}})
    silence = create_silence(engine, rule="fraud-data-drift", model="fraud", duration=timedelta(hours=3),
                             comment="retraining in progress", now=T0, created_by="ana")

    run(engine, config, 0, share(0.8))
    run(engine, config, 1, share(0.9))

    assert receiver.calls == []
    assert [(row.state, row.fired_at) for row in alert_rows(engine)] == [("firing", window(1)[1])]
    row = notification_rows(engine)[0]
    assert (row.event, row.status, row.silenced_by, row.attempts) == ("firing", "silenced", silence.id, 0)

    expire_silence(engine, silence.id, now=window(1)[1] + timedelta(minutes=30))
    run(engine, config, 2, share(0.1))

    assert receiver.events() == [("resolved", iso(window(2)[0]))]


def test_a_silence_scoped_to_one_feature_mutes_only_that_feature(engine: Engine, receiver: Receiver) -> None:
    rule = {"name": "feature-drift", "model": "fraud", "metric": "feature_drift_score", "feature": "*",
            "when": "> 0.2", "for": 1, "channels": ["hook"]}
    config = make_config(rules=[rule], channels={"hook": {"type": "webhook", "url": receiver.url}})
    create_silence(engine, rule="feature-drift", feature="amount", duration=timedelta(days=1),
                   comment="known seasonal shift", now=T0)
    create_silence(engine, rule="feature-drift", model="churn", duration=timedelta(days=1),
                   comment="another model", now=T0)

    run(engine, config, 0, {("feature_drift_score", "amount"): 0.5, ("feature_drift_score", "country"): 0.5})

    assert [call.body["feature"] for call in receiver.delivered()] == ["country"]
    assert sorted((row.payload["feature"], row.status) for row in notification_rows(engine)) == [
        ("amount", "silenced"), ("country", "delivered")]


def test_a_silence_created_during_retries_stops_them(engine: Engine, receiver: Receiver) -> None:
    config = make_config(rules=[drift_rule(**{"for": 1})], channels={"hook": {"type": "webhook", "url": receiver.url}})
    receiver.answer(503)
    run(engine, config, 0, share(0.9))
    pending = notification_rows(engine)[0]
    assert pending.status == "pending"

    silence = create_silence(engine, rule="fraud-data-drift", duration=timedelta(hours=1), comment="noisy",
                             now=pending.next_attempt_at - timedelta(seconds=1))
    Dispatcher(engine, config, build_channels(config.alerts)).dispatch_once(pending.next_attempt_at)

    row = notification_rows(engine)[0]
    assert (row.status, row.silenced_by, row.attempts) == ("silenced", silence.id, 1)
    assert len(receiver.calls) == 1


def test_create_list_and_expire(engine: Engine) -> None:
    first = create_silence(engine, rule="a", duration=timedelta(hours=2), comment="one", now=T0)
    second = create_silence(engine, rule="b", model="fraud", feature="amount", duration=timedelta(minutes=30),
                            comment="  two  ", now=T0)

    assert [s.id for s in list_silences(engine, now=T0 + timedelta(minutes=10))] == [first.id, second.id]
    assert [s.id for s in list_silences(engine, now=T0 + timedelta(hours=1))] == [first.id]
    assert second.comment == "two" and (second.model, second.feature) == ("fraud", "amount")

    ended = expire_silence(engine, first.id, now=T0 + timedelta(hours=1))
    assert ended.ends_at == T0 + timedelta(hours=1) and not ended.is_active(T0 + timedelta(hours=1))
    assert list_silences(engine, now=T0 + timedelta(hours=1)) == []
    assert len(list_silences(engine, now=T0 + timedelta(hours=1), include_expired=True)) == 2
    assert expire_silence(engine, first.id, now=T0 + timedelta(hours=3)).ends_at == T0 + timedelta(hours=1)
    with pytest.raises(SilenceError, match="there is no silence 999"):
        expire_silence(engine, 999, now=T0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rule": " "}, "name of the rule"),
    ({"comment": ""}, "needs a comment"),
    ({"duration": timedelta()}, "positive time"),
])
def test_bad_silences_are_refused(engine: Engine, kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"rule": "a", "duration": timedelta(hours=1), "comment": "why", **kwargs}
    with pytest.raises(SilenceError, match=message):
        create_silence(engine, now=T0, **arguments)  # type: ignore[arg-type]


def test_matching_is_by_rule_then_optional_model_and_feature() -> None:
    def silence(model: str | None, feature: str | None) -> Silence:
        return Silence(id=1, rule="r", model=model, feature=feature, starts_at=T0, ends_at=T0, comment="c",
                       created_by=None, created_at=T0)

    assert silence(None, None).matches(rule="r", model="m", feature=None)
    assert silence(None, None).matches(rule="r", model="m", feature="x")
    assert not silence(None, None).matches(rule="other", model="m", feature=None)
    assert silence("m", None).matches(rule="r", model="m", feature="x")
    assert not silence("n", None).matches(rule="r", model="m", feature="x")
    assert silence(None, "x").matches(rule="r", model="m", feature="x")
    assert not silence(None, "x").matches(rule="r", model="m", feature=None)
    assert matching_silence([silence("n", None), silence(None, "x")], rule="r", model="m", feature="x") is not None
