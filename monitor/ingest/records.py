"""What a decoded Kafka message becomes: a prediction, a label, or a dead letter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

__all__ = ["Origin", "PredictionRecord", "LabelRecord", "DeadLetterRecord", "Decoded"]


class Origin(msgspec.Struct, frozen=True, gc=False):
    """Where a message came from in Kafka."""

    topic: str
    partition: int
    offset: int


class PredictionRecord(msgspec.Struct, frozen=True, gc=False):
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


class LabelRecord(msgspec.Struct, frozen=True, gc=False):
    model: str
    prediction_id: str
    label: str
    label_numeric: float | None
    event_time: datetime
    origin: Origin


class DeadLetterRecord(msgspec.Struct, frozen=True, gc=False):
    origin: Origin
    raw: bytes
    raw_size: int
    reason: str
    model: str | None = None


Decoded = PredictionRecord | LabelRecord | DeadLetterRecord
