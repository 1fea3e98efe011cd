"""What a decoded Kafka message becomes: a prediction, a label, or a dead letter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["Origin", "PredictionRecord", "LabelRecord", "DeadLetterRecord", "Decoded"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message came from in Kafka."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    model: str
    model_version: str
    prediction_id: str
    event_time: datetime
    features: dict[str, Any]
    prediction: str
    prediction_numeric: float | None
    score: float | None
    probabilities: dict[str, float] | None
    latency_ms: float | None
    status: str
    error: str | None
    extra: dict[str, Any] | None
    origin: Origin


@dataclass(frozen=True, slots=True)
class LabelRecord:
    model: str
    prediction_id: str
    label: str
    label_numeric: float | None
    event_time: datetime
    origin: Origin


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    origin: Origin
    raw: bytes
    raw_size: int
    reason: str
    model: str | None = None


Decoded = PredictionRecord | LabelRecord | DeadLetterRecord
