"""The simulated stream: seeded, valid by contract, and faults exactly where scheduled."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from monitor.errors import ConfigError
from monitor.ingest.decode import MessageDecoder
from monitor.ingest.records import DeadLetterRecord, LabelRecord, Origin, PredictionRecord
from monitor.simulate.models import check_scenario
from monitor.simulate.scenario import Scenario
from monitor.simulate.stream import StreamSettings, generate

START = datetime(2026, 1, 1, tzinfo=UTC)
SCENARIO = Scenario.model_validate({
    "seed": 3,
    "events": [
        {"kind": "covariate_drift", "model": "fraud", "at": "2h", "features": ["amount"], "shift": 2.0},
        {"kind": "latency_spike", "model": "demand", "at": "1h", "duration": "30m", "factor": 10},
        {"kind": "error_burst", "model": "fraud", "at": "3h", "duration": "30m", "rate": 0.5},
        {"kind": "malformed", "at": "0s", "duration": "10m", "rate": 0.1},
        {"kind": "new_version", "model": "fraud", "at": "3h30m", "version": "v2"},
    ],
})
SETTINGS = StreamSettings(models=("fraud", "demand"), rate=10, speedup=360, start=START,
                          label_delay_median=timedelta(minutes=10))


def _decoded(items):
    decoder = MessageDecoder(known_models={"fraud", "demand"})
    return [(item, decoder.decode(item.value, Origin(item.topic, 0, 0))) for item in items]


@pytest.fixture(scope="module")
def stream():
    return _decoded(list(generate(SETTINGS, SCENARIO, duration_s=4 * 3600 / 360)))


def test_reproducible_with_a_seed():
    first = [item.value for item in generate(SETTINGS, SCENARIO, count=300)]
    second = [item.value for item in generate(SETTINGS, SCENARIO, count=300)]
    assert first == second


def test_an_id_prefix_keeps_a_second_run_apart_from_the_first():
    """The demo resumes its store with a new run: a prefix, and only the prefix, tells them apart."""
    from dataclasses import replace

    first = [json.loads(item.value) for item in generate(SETTINGS, SCENARIO, count=50) if item.valid]
    second = [json.loads(item.value) for item in generate(replace(SETTINGS, id_prefix="run2-"), SCENARIO, count=50)
              if item.valid]
    assert not {m["prediction_id"] for m in first} & {m["prediction_id"] for m in second}
    assert [m["prediction_id"] for m in second] == ["run2-" + m["prediction_id"] for m in first]
    assert [{**m, "prediction_id": None} for m in second] == [{**m, "prediction_id": None} for m in first]


def test_every_valid_message_meets_the_contract_and_every_malformed_one_is_rejected(stream):
    for item, record in stream:
        if item.valid:
            assert isinstance(record, PredictionRecord | LabelRecord), record
        else:
            assert isinstance(record, DeadLetterRecord)
            assert item.event_time - START < timedelta(minutes=10)
    assert sum(1 for item, _ in stream if not item.valid) >= 2


def test_faults_happen_exactly_when_scheduled(stream):
    predictions = [r for item, r in stream if isinstance(r, PredictionRecord)]

    def offset(record):
        return record.event_time - START

    fraud_before = [r.features["amount"] for r in predictions if r.model == "fraud" and offset(r) < timedelta(hours=2)]
    fraud_after = [r.features["amount"] for r in predictions if r.model == "fraud" and offset(r) >= timedelta(hours=2)]
    assert statistics.median(fraud_after) > 4 * statistics.median(fraud_before)

    spike = [r.latency_ms for r in predictions if r.model == "demand"
             and timedelta(hours=1) <= offset(r) < timedelta(hours=1, minutes=30)]
    calm = [r.latency_ms for r in predictions if r.model == "demand" and offset(r) < timedelta(hours=1)]
    assert statistics.median(spike) > 5 * statistics.median(calm)

    burst = [r.status for r in predictions if r.model == "fraud"
             and timedelta(hours=3) <= offset(r) < timedelta(hours=3, minutes=30)]
    assert 0.3 < burst.count("error") / len(burst) < 0.7
    assert all(r.status == "ok" for r in predictions if r.model == "demand")

    versions = {(r.model_version, offset(r) >= timedelta(hours=3, minutes=30)) for r in predictions
                if r.model == "fraud"}
    assert versions == {("v1", False), ("v2", True)}


def test_labels_follow_their_prediction_with_partial_coverage(stream):
    predictions = {r.prediction_id: r for _, r in stream if isinstance(r, PredictionRecord)}
    labels = [r for _, r in stream if isinstance(r, LabelRecord)]
    assert 0.6 < len(labels) / len(predictions) < 0.9
    for label in labels:
        assert label.event_time > predictions[label.prediction_id].event_time
    # Labels are emitted in due order, after their prediction.
    order = [json.loads(item.value)["prediction_id"] for item, _ in stream if item.valid]
    seen: set[str] = set()
    for _item, record in stream:
        if isinstance(record, PredictionRecord):
            seen.add(record.prediction_id)
        elif isinstance(record, LabelRecord):
            assert record.prediction_id in seen
    assert order


def test_missing_values_and_the_multiclass_model():
    scenario = Scenario.model_validate({"seed": 4, "events": [
        {"kind": "missing_values", "model": "intent", "at": "0s", "duration": "1h", "features": ["channel"],
         "share": 0.5},
        {"kind": "concept_drift", "model": "intent", "at": "1h"},
    ]})
    settings = StreamSettings(models=("intent",), rate=10, speedup=360, start=START, label_coverage=1.0,
                              label_delay_median=timedelta(minutes=1))
    decoder = MessageDecoder(known_models={"intent"})
    records = [decoder.decode(item.value, Origin(item.topic, 0, 0))
               for item in generate(settings, scenario, duration_s=2 * 3600 / 360)]
    predictions = [r for r in records if isinstance(r, PredictionRecord)]
    assert not [r for r in records if isinstance(r, DeadLetterRecord)]
    first_hour = [p for p in predictions if p.event_time < START + timedelta(hours=1)]
    later = [p for p in predictions if p.event_time >= START + timedelta(hours=1)]
    missing = sum(p.features["channel"] is None for p in first_hour) / len(first_hour)
    assert 0.35 < missing < 0.65 and all(p.features["channel"] is not None for p in later)
    assert len({p.prediction for p in predictions}) >= 3 and all(p.probabilities for p in predictions)
    # Concept drift: the same inputs, a different truth: agreement with the labels collapses.
    labels = {r.prediction_id: r.label for r in records if isinstance(r, LabelRecord)}

    def accuracy(items):
        scored = [p.prediction == labels[p.prediction_id] for p in items if p.prediction_id in labels]
        return sum(scored) / len(scored)

    assert accuracy(first_hour) > accuracy(later) + 0.2


@pytest.mark.parametrize(("events", "models", "fragment"), [
    ([{"kind": "latency_spike", "model": "frad", "at": "1h"}], ("fraud",), "model 'frad' is not simulated"),
    ([{"kind": "covariate_drift", "model": "fraud", "at": "1h", "features": ["hour"]}], ("fraud",),
     "use some of: amount, country, account_age_days"),
    ([{"kind": "missing_values", "model": "demand", "at": "1h", "features": ["temprature"]}], ("demand",),
     "['temprature']"),
    ([{"kind": "covariate_drift", "at": "1h", "features": ["amount"]}], ("demand",), "for demand"),
    ([{"kind": "covariate_drift", "model": "fraud", "at": "1h"}], ("fraud",), "features [] are not"),
])
def test_a_fault_the_simulator_would_ignore_is_refused(events, models, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        check_scenario(Scenario.model_validate({"events": events}).events, models)


def test_the_built_in_and_demo_scenarios_pass_the_check():
    from monitor.simulate.demo import DEMO_SCENARIO
    from monitor.simulate.scenario import DEFAULT_SCENARIO

    check_scenario(DEFAULT_SCENARIO.events, ("fraud", "demand"))
    check_scenario(Scenario.model_validate(DEMO_SCENARIO).events, ("fraud", "demand"))


def test_the_simulate_command_refuses_a_bad_scenario_with_exit_2(tmp_path):
    (tmp_path / "scenario.yaml").write_text(
        "events:\n  - {kind: covariate_drift, model: fraud, at: 1m, features: [amout]}\n")
    (tmp_path / "driftwatch.yaml").write_text("store: sqlite:///x.db\n")
    result = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(tmp_path / "driftwatch.yaml"),
                             "simulate", "--scenario", str(tmp_path / "scenario.yaml"), "--duration", "1m"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "scenario event 1 (covariate_drift)" in result.stderr and "amout" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_demo_config_loads_and_sends_only_drift_to_the_retraining_webhook(tmp_path):
    from monitor.config.loader import config_from_mapping
    from monitor.simulate.demo import demo_config

    config = config_from_mapping(demo_config(directory=tmp_path, bootstrap="127.0.0.1:9092", webhook_port=9099,
                                             secret="s"), environ={})
    routes = {rule.name: rule.channels for rule in config.alerts.rules}
    assert {name for name, channels in routes.items() if "retrain" in channels} == {
        "fraud-data-drift", "fraud-segment-drift", "demand-concept-drift"}
    # The dashboard shows one segment drifting: fraud is segmented by country, Germany drifts alone.
    segments = config.models["fraud"].segments
    assert segments is not None and segments.columns == ["country"]
    assert {rule.name: rule.segment for rule in config.alerts.rules}["fraud-segment-drift"] == "country=*"
    assert all(channels for channels in routes.values())
