"""Scenarios for ``driftwatch simulate``: which faults to inject, when, for how long.

A scenario is YAML (or built from CLI flags). Times are offsets of simulated event
time from the start of the stream, so a scenario reads the same at any speed-up::

    seed: 7
    events:
      - {kind: covariate_drift, model: fraud, at: 3h, features: [amount], shift: 2.0}
      - {kind: covariate_drift, model: fraud, at: 1h, features: [amount], segment: country=DE}
      - {kind: concept_drift, model: fraud, at: 6h}
      - {kind: latency_spike, model: fraud, at: 2h, duration: 1h, factor: 8}
      - {kind: error_burst, model: demand, at: 4h, duration: 30m, rate: 0.3}
      - {kind: missing_values, model: fraud, at: 5h, duration: 1h, features: [country], share: 0.4}
      - {kind: malformed, at: 1h, duration: 10m, rate: 0.05}
      - {kind: new_version, model: fraud, at: 8h, version: v2}
      - {kind: canary, model: fraud, at: 9h, version: v3, share: 0.1, rate: 0.1, factor: 2, degrade: 0.3}

A ``canary`` sends ``share`` of the model's traffic to ``version`` (the rest keeps its
version), worse than it: ``rate`` of its calls fail, its latency is ``factor`` times
longer and ``degrade`` of its answers are wrong (a flipped class and score, or a
regression value 50% off).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from monitor.config.durations import Duration, Offset
from monitor.config.models import StrictModel
from monitor.config.segments import parse_segment_selector
from monitor.errors import ConfigError

__all__ = ["Scenario", "ScenarioEvent", "load_scenario", "DEFAULT_SCENARIO"]

EventKind = Literal[
    "covariate_drift", "concept_drift", "latency_spike", "error_burst", "missing_values", "malformed", "new_version",
    "canary",
]


class ScenarioEvent(StrictModel):
    kind: EventKind
    at: Offset
    duration: Duration | None = None  # None: lasts until the end of the stream
    model: str | None = None  # None: every model
    features: list[str] = Field(default_factory=list)
    shift: float = 2.0  # covariate drift: standard deviations (numeric) / share moved (categorical)
    factor: float = 8.0  # latency spike multiplier
    rate: Annotated[float, Field(ge=0, le=1)] = 0.3  # error / malformed share
    share: Annotated[float, Field(ge=0, le=1)] = 0.4  # missing share
    version: str = "v2"
    degrade: Annotated[float, Field(ge=0, le=1)] = 0.0  # canary: share of its answers made wrong
    # covariate drift in one segment only, e.g. "country=DE" (its rows drift, the others do not)
    segment: str | None = None

    @model_validator(mode="after")
    def _segment(self) -> ScenarioEvent:
        if self.segment is None:
            return self
        if self.kind != "covariate_drift":
            raise ValueError(f"segment applies to covariate_drift only, not {self.kind}; remove it")
        column, value = parse_segment_selector(self.segment)
        if value == "*":
            raise ValueError(f"segment {self.segment!r} must name one value, e.g. {column}=DE")
        if column in self.features:
            raise ValueError(f"a drift in segment {self.segment!r} cannot move its own column {column!r}; "
                             "drift other features")
        return self

    @property
    def segment_key(self) -> tuple[str, str] | None:
        return None if self.segment is None else parse_segment_selector(self.segment)

    def active(self, offset: timedelta, model: str | None = None) -> bool:
        if self.model is not None and model is not None and self.model != model:
            return False
        if offset < self.at:
            return False
        return self.duration is None or offset < self.at + self.duration


class Scenario(StrictModel):
    seed: int = 42
    events: list[ScenarioEvent] = Field(default_factory=list)

    def active(self, kind: str, offset: timedelta, model: str | None = None) -> list[ScenarioEvent]:
        return [event for event in self.events if event.kind == kind and event.active(offset, model)]


DEFAULT_SCENARIO = Scenario.model_validate(
    {
        "seed": 42,
        "events": [
            {"kind": "malformed", "at": "30m", "duration": "20m", "rate": 0.02},
            {"kind": "latency_spike", "model": "fraud", "at": "2h", "duration": "1h", "factor": 8},
            {"kind": "covariate_drift", "model": "fraud", "at": "4h", "features": ["amount", "country"], "shift": 2.0},
            {"kind": "error_burst", "model": "demand", "at": "3h", "duration": "1h", "rate": 0.3},
            {"kind": "missing_values", "model": "demand", "at": "5h", "duration": "1h", "features": ["temperature"],
             "share": 0.5},
            {"kind": "concept_drift", "model": "demand", "at": "6h"},
        ],
    }
)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file; errors name the problem and the file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read scenario file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"scenario file {path} is not valid YAML: {exc}") from exc
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"scenario file {path} is invalid: {problems}") from None
