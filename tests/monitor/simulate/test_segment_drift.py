"""A drift in one segment only: that segment's rows move, every other row is drawn as before."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from monitor.errors import ConfigError
from monitor.simulate.models import check_scenario
from monitor.simulate.scenario import Scenario
from monitor.simulate.stream import StreamSettings, generate

START = datetime(2026, 1, 1, tzinfo=UTC)
SETTINGS = StreamSettings(models=("fraud",), rate=10, speedup=60, start=START, label_coverage=0.0)


def _predictions(scenario: dict) -> list[dict]:
    items = generate(SETTINGS, Scenario.model_validate(scenario), count=3000)
    return [json.loads(item.value) for item in items if item.topic == "predictions"]


def test_only_the_named_segment_drifts():
    calm = _predictions({"seed": 5, "events": []})
    drifted = _predictions({"seed": 5, "events": [
        {"kind": "covariate_drift", "model": "fraud", "at": "0s", "features": ["amount"], "shift": 2.0,
         "segment": "country=DE"}]})
    assert len(calm) == len(drifted) == 3000
    germans = 0
    for before, after in zip(calm, drifted, strict=True):
        assert before["prediction_id"] == after["prediction_id"]
        if before["features"]["country"] == "DE":
            germans += 1
            assert after["features"]["amount"] == pytest.approx(before["features"]["amount"] * 7.389, rel=0.01)
        else:  # every other segment is untouched, row for row
            assert after["features"] == before["features"]
    assert 600 < germans < 1200  # about 30% of the rows
    median = statistics.median(m["features"]["amount"] for m in drifted if m["features"]["country"] == "DE")
    assert median > 5 * statistics.median(m["features"]["amount"] for m in drifted
                                          if m["features"]["country"] != "DE")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"kind": "latency_spike", "segment": "country=DE"}, "segment applies to covariate_drift only"),
        ({"kind": "covariate_drift", "features": ["amount"], "segment": "country=*"}, "must name one value"),
        ({"kind": "covariate_drift", "features": ["country"], "segment": "country=DE"}, "cannot move its own column"),
        ({"kind": "covariate_drift", "features": ["amount"], "segment": "DE"}, "must be <column>=<value>"),
    ],
)
def test_a_bad_segment_event_is_refused(event, message):
    with pytest.raises(ValidationError, match=message):
        Scenario.model_validate({"events": [{"at": "0s", "model": "fraud", **event}]})


def test_a_segment_the_simulator_cannot_drift_is_refused():
    scenario = Scenario.model_validate({"events": [
        {"kind": "covariate_drift", "model": "demand", "at": "0s", "features": ["price"], "segment": "promo=true"}]})
    with pytest.raises(ConfigError, match="cannot limit a drift of model 'demand' to segments of 'promo'"):
        check_scenario(scenario.events, ("fraud", "demand"))
