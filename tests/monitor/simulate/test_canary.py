"""The simulator's worse canary: a share of one model's traffic on a second version that
fails more often, answers slower and is wrong more often; nothing changes before it starts."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from monitor.ingest.decode import MessageDecoder
from monitor.ingest.records import LabelRecord, Origin, PredictionRecord
from monitor.simulate.models import check_scenario
from monitor.simulate.scenario import Scenario
from monitor.simulate.stream import StreamSettings, generate

START = datetime(2026, 1, 1, tzinfo=UTC)
CANARY = {"kind": "canary", "model": "fraud", "at": "1h", "version": "v2", "share": 0.2, "rate": 0.15,
          "factor": 2.0, "degrade": 0.3}
SETTINGS = StreamSettings(models=("fraud", "demand"), rate=60, speedup=360, start=START, label_coverage=1.0,
                          label_delay_median=timedelta(minutes=1))


def _records(events):
    decoder = MessageDecoder(known_models={"fraud", "demand"})
    items = generate(SETTINGS, Scenario.model_validate({"seed": 5, "events": events}), duration_s=3 * 3600 / 360)
    return [decoder.decode(item.value, Origin(item.topic, 0, 0)) for item in items]


@pytest.fixture(scope="module")
def records():
    return _records([CANARY])


def test_the_canary_takes_its_share_of_one_model_after_it_starts(records):
    predictions = [r for r in records if isinstance(r, PredictionRecord)]
    fraud_after = [p for p in predictions if p.model == "fraud" and p.event_time >= START + timedelta(hours=1)]
    canary = [p for p in fraud_after if p.model_version == "v2"]
    assert 0.15 < len(canary) / len(fraud_after) < 0.25
    assert all(p.model_version == "v1" for p in predictions
               if p.model == "demand" or p.event_time < START + timedelta(hours=1))


def test_the_canary_is_worse_in_errors_latency_and_accuracy(records):
    predictions = [r for r in records if isinstance(r, PredictionRecord) and r.model == "fraud"
                   and r.event_time >= START + timedelta(hours=1)]
    labels = {r.prediction_id: r.label for r in records if isinstance(r, LabelRecord)}
    by_version = {version: [p for p in predictions if p.model_version == version] for version in ("v1", "v2")}

    def error_rate(items):
        return sum(p.status == "error" for p in items) / len(items)

    def accuracy(items):
        scored = [p.prediction == labels[p.prediction_id] for p in items if p.prediction_id in labels]
        return sum(scored) / len(scored)

    champion, canary = by_version["v1"], by_version["v2"]
    assert error_rate(canary) > error_rate(champion) + 0.08
    assert statistics.median(p.latency_ms for p in canary) > 1.6 * statistics.median(p.latency_ms for p in champion)
    assert accuracy(canary) < accuracy(champion) - 0.15
    # A wrong answer flips the score with the class: the score still agrees with the prediction.
    assert all((p.score >= 0.5) == (p.prediction == "1") for p in canary)


def test_before_the_canary_starts_the_stream_is_unchanged():
    before = [r for r in _records([CANARY]) if r.event_time < START + timedelta(hours=1)]
    without = [r for r in _records([]) if r.event_time < START + timedelta(hours=1)]
    assert before == without


def test_a_canary_for_a_model_not_simulated_is_refused():
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match="model 'frod' is not simulated"):
        check_scenario(Scenario.model_validate({"events": [{**CANARY, "model": "frod"}]}).events, ("fraud",))
