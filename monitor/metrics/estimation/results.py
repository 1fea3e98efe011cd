"""Per-chunk estimates with band, thresholds and alert, and their JSON shape."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChunkResult", "EstimationReport", "MetricEstimate"]


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


@dataclass(frozen=True, slots=True)
class MetricEstimate:
    """One metric of one chunk: the estimate, its sampling-error band and the reference thresholds."""

    value: float
    realized: float | None
    sampling_error: float
    lower_band: float
    upper_band: float
    lower_threshold: float | None
    upper_threshold: float | None
    alert: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "value": _number(self.value),
            "realized": _number(self.realized),
            "sampling_error": _number(self.sampling_error),
            "lower_band": _number(self.lower_band),
            "upper_band": _number(self.upper_band),
            "lower_threshold": _number(self.lower_threshold),
            "upper_threshold": _number(self.upper_threshold),
            "alert": self.alert,
        }


@dataclass(frozen=True, slots=True)
class ChunkResult:
    index: int
    start_row: int
    end_row: int
    metrics: dict[str, MetricEstimate]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "start_row": self.start_row, "end_row": self.end_row,
                "metrics": {name: estimate.to_json() for name, estimate in self.metrics.items()}}


@dataclass(frozen=True, slots=True)
class EstimationReport:
    """Every chunk of an analysis frame; ``method`` names how the values were obtained."""

    method: str
    chunks: list[ChunkResult]
    notes: list[str] = field(default_factory=list)

    @property
    def alert(self) -> bool:
        return any(estimate.alert for chunk in self.chunks for estimate in chunk.metrics.values())

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "alert": self.alert, "chunks": [chunk.to_json() for chunk in self.chunks]}
