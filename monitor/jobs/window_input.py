"""What a window's metric groups read (:class:`WindowInput`) and give back (:class:`WindowMetrics`).

Shared by the groups of :mod:`monitor.jobs.window_metrics` and :mod:`monitor.jobs.window_drift`:
a NaN point with its reason (a metric that cannot be computed), the task's columns
(classification compares classes as text, regression numbers), and :func:`guarded`,
which turns a failing group into a note instead of an exception.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from monitor.config.models import ModelConfig
from monitor.jobs.estimation import FittedEstimators
from monitor.logs import fields
from monitor.metrics.point import MetricPoint
from monitor.store.stored_rows import StoredRows

__all__ = [
    "EMPTY_WINDOW", "WindowInput", "WindowMetrics", "guarded", "is_classification", "labels_of", "nan_point",
    "predictions_of", "scores_of",
]

log = logging.getLogger(__name__)

EMPTY_WINDOW = "empty window: no predictions"


@dataclass(frozen=True, slots=True)
class WindowInput:
    """What one window's computation needs; ``reference_reason`` explains a missing baseline,
    and ``reference_unusable`` says an operator must fix it (not just "not built yet")."""

    model: str
    model_version: str
    config: ModelConfig
    rows: StoredRows
    dead_letter_count: int
    reference: StoredRows | None
    reference_reason: str | None = None
    reference_unusable: bool = False
    reference_key: tuple[Any, ...] | None = None
    """Names the stored reference (set id, source, rows, creation time): thresholds learned
    from it are cached under this key. None: nothing is cached."""
    estimators: FittedEstimators | None = None  # fitted on the reference (see monitor.jobs.estimation)
    estimation_reason: str | None = None  # why there are none although there is a reference
    segment: str | None = None  # the segment these rows are (``country=DE``); None: the whole model


@dataclass(frozen=True, slots=True)
class WindowMetrics:
    """The window's points, and notes for the operator (recorded in ``job_runs``)."""

    points: tuple[MetricPoint, ...]
    notes: tuple[str, ...]


def nan_point(metric: str, reason: str, feature: str | None = None, **details: Any) -> MetricPoint:
    """A metric that cannot be computed: NaN, with ``details["reason"]``."""
    return MetricPoint(metric, math.nan, feature=feature, details={"reason": reason, **details})


def is_classification(config: ModelConfig) -> bool:
    return config.task != "regression"


def predictions_of(config: ModelConfig, rows: StoredRows) -> pd.Series[Any]:
    return rows.outputs["prediction"] if is_classification(config) else rows.outputs["prediction_numeric"]


def labels_of(config: ModelConfig, rows: StoredRows) -> pd.Series[Any]:
    return rows.outputs["label"] if is_classification(config) else rows.outputs["label_numeric"]


def scores_of(rows: StoredRows) -> pd.Series[Any] | None:
    scores = rows.outputs["score"]
    return scores if bool(scores.notna().any()) else None


def guarded(
    inputs: WindowInput, group: str, compute: Callable[[], list[MetricPoint]]
) -> tuple[list[MetricPoint], str | None]:
    """Run one metric group; a failure is logged and becomes a note, not an exception."""
    try:
        return compute(), None
    except Exception as exc:  # one group's failure must not lose the others: logged, and noted
        log.exception("metric group failed", extra=fields(model=inputs.model, version=inputs.model_version,
                                                          group=group))
        return [], f"{group} metrics failed: {type(exc).__name__}: {exc}"
