"""The simulated stream: an ordered, seeded sequence of prediction and label messages.

Pure: no clock and no Kafka. Message *i* is due ``i / rate`` real seconds after the
start; its event time advances ``speedup`` times faster. Labels follow their
prediction after a log-normal delay (event time) for ``label_coverage`` of them.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from monitor.simulate.models import MODELS, Effects, Sample
from monitor.simulate.scenario import Scenario

__all__ = ["StreamSettings", "Outgoing", "generate", "reference_frame"]


@dataclass(frozen=True)
class StreamSettings:
    models: tuple[str, ...] = ("fraud", "demand")
    rate: float = 300.0  # predictions per real second
    speedup: float = 1.0  # event-time seconds per real second
    start: datetime | None = None  # event time of the first message
    label_coverage: float = 0.8
    label_delay_median: timedelta = timedelta(seconds=30)
    version: str = "v1"
    # Prepended to every prediction_id: runs with different prefixes can share one store
    # (ids are otherwise `<model>-<index>` and a second run's would all be duplicates).
    id_prefix: str = ""

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.speedup <= 0:
            raise ValueError("rate and speedup must be positive")
        if not 0 <= self.label_coverage <= 1:
            raise ValueError("label_coverage must be within [0, 1]")
        unknown = set(self.models) - set(MODELS)
        if unknown:
            raise ValueError(f"unknown simulated models {sorted(unknown)}; choose from {sorted(MODELS)}")


@dataclass(frozen=True)
class Outgoing:
    due_s: float  # real seconds after the start
    topic: str  # "predictions" or "labels"
    value: bytes
    event_time: datetime
    model: str
    valid: bool = True


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _effects(scenario: Scenario, offset: timedelta, model: str) -> Effects:
    effects = Effects()
    for event in scenario.active("covariate_drift", offset, model):
        segment = event.segment_key
        for feature in event.features:
            if segment is None:
                effects.drift_features[feature] = event.shift
            else:
                effects.segment_drift.append((*segment, feature, event.shift))
    effects.concept_drift = bool(scenario.active("concept_drift", offset, model))
    for event in scenario.active("missing_values", offset, model):
        for feature in event.features:
            effects.missing[feature] = event.share
    return effects


def _wrong(sample: Sample, rng: random.Random) -> Sample:
    """A canary's wrong answer: another class (and the opposite score), or a value 50% off."""
    prediction = sample.prediction
    if sample.probabilities is not None:
        others = [name for name in sample.probabilities if name != prediction]
        return replace(sample, prediction=rng.choice(others) if others else prediction)
    if sample.score is not None and isinstance(prediction, int):
        return replace(sample, prediction=1 - prediction, score=round(1.0 - sample.score, 6))
    if isinstance(prediction, int | float):
        return replace(sample, prediction=round(float(prediction) * 1.5, 3))
    return sample


def _malformed(rng: random.Random, valid: dict[str, Any]) -> bytes:
    text = json.dumps(valid)
    kind = rng.randrange(5)
    if kind == 0:
        return text[: rng.randrange(1, len(text))].encode()  # truncated
    if kind == 1:
        return text.replace(json.dumps(valid["prediction_id"]), "null", 1).encode()  # wrong type
    if kind == 2:
        return json.dumps({k: v for k, v in valid.items() if k != "timestamp"}).encode()  # missing field
    if kind == 3:
        return text.replace('"features": {', '"features": {"bad": NaN, ', 1).encode()  # NaN
    return bytes(rng.randrange(256) for _ in range(40))  # binary garbage


def generate(settings: StreamSettings, scenario: Scenario, *, count: int | None = None,
             duration_s: float | None = None) -> Iterator[Outgoing]:
    """Yield messages in due order until ``count`` predictions or ``duration_s``."""
    if settings.start is None:
        raise ValueError("settings.start (event time of the first message) is required")
    rng = random.Random(scenario.seed)
    pending: list[tuple[float, int, Outgoing]] = []  # labels, by due time
    sequence = 0
    index = 0
    while True:
        due = index / settings.rate
        if (count is not None and index >= count) or (duration_s is not None and due >= duration_s):
            break
        while pending and pending[0][0] <= due:
            yield heapq.heappop(pending)[2]
        offset = timedelta(seconds=due * settings.speedup)
        event_time = settings.start + offset
        name = settings.models[index % len(settings.models)]
        model = MODELS[name]
        sample = model.sample(rng, _effects(scenario, offset, name))
        version = settings.version
        for event in scenario.active("new_version", offset, name):
            version = event.version
        canary = next((event for event in scenario.active("canary", offset, name) if rng.random() < event.share),
                      None)
        if canary is not None:
            version = canary.version
            if rng.random() < canary.degrade:
                sample = _wrong(sample, rng)
        latency = rng.lognormvariate(math.log(model.latency_median_ms), 0.4)
        for event in scenario.active("latency_spike", offset, name):
            latency *= event.factor
        if canary is not None:
            latency *= canary.factor
        error = any(rng.random() < event.rate for event in scenario.active("error_burst", offset, name))
        error = error or (canary is not None and rng.random() < canary.rate)
        message: dict[str, Any] = {
            "prediction_id": f"{settings.id_prefix}{name}-{index}",
            "model": name,
            "model_version": version,
            "timestamp": _iso(event_time),
            "features": sample.features,
            "prediction": sample.prediction,
            "latency_ms": round(latency, 3),
            "status": "error" if error else "ok",
        }
        if error:
            message["error"] = "upstream feature store timeout"
        if sample.score is not None:
            message["score"] = sample.score
        if sample.probabilities is not None:
            message["probabilities"] = sample.probabilities
        yield Outgoing(due, "predictions", json.dumps(message).encode(), event_time, name)
        if any(rng.random() < event.rate for event in scenario.active("malformed", offset)):
            yield Outgoing(due, "predictions", _malformed(rng, message), event_time, name, valid=False)
        if not error and rng.random() < settings.label_coverage:
            delay_s = rng.lognormvariate(math.log(settings.label_delay_median.total_seconds()), 0.6)
            label_time = event_time + timedelta(seconds=delay_s)
            label = {"prediction_id": message["prediction_id"], "model": name, "label": sample.label,
                     "timestamp": _iso(label_time)}
            sequence += 1
            heapq.heappush(pending, (due + delay_s / settings.speedup, sequence,
                                     Outgoing(due + delay_s / settings.speedup, "labels",
                                              json.dumps(label).encode(), label_time, name)))
        index += 1
    while pending:  # the rest of the labels arrive after the last prediction
        yield heapq.heappop(pending)[2]


def reference_frame(model_name: str, rows: int, seed: int = 1) -> list[dict[str, Any]]:
    """Undrifted rows (features + prediction, score, label) for a model's reference file."""
    rng = random.Random(seed)
    model = MODELS[model_name]
    records = []
    for _ in range(rows):
        sample = model.sample(rng, Effects())
        record: dict[str, Any] = dict(sample.features)
        record["prediction"] = sample.prediction
        record["label"] = sample.label
        if sample.score is not None:
            record["score"] = sample.score
        records.append(record)
    return records
