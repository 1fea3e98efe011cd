"""Each window's feature ranking (:mod:`monitor.metrics.ranking`), from its own points and the
stored ones of the model version's recent windows.

The ranking goes into ``details.ranking`` of the window's ``dataset_drift_share``:
``{"method": "correlation", "performance_metric", "windows", "look_first", "features":
[{"feature", "rank", "correlation"}], "reason"?}``. Alert notifications on drift and
performance metrics quote its ``look_first``; the drift page shows it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from monitor.config.models import ModelConfig
from monitor.errors import MetricError
from monitor.metrics.drift.registry import get_method
from monitor.metrics.point import MetricPoint
from monitor.metrics.ranking import HISTORY_WINDOWS, PERFORMANCE_METRICS, FeatureRanking, rank_features, relative_score
from monitor.store.tables import metric_values
from monitor.store.window_state import WindowKey

__all__ = ["RANKED_METRIC", "rank_window", "with_ranking"]

RANKED_METRIC = "dataset_drift_share"  # the point whose details carry the ranking
_DRIFT = "feature_drift_score"


def _p_value(details: Mapping[str, Any]) -> bool:
    method = details.get("method")
    if not isinstance(method, str):
        return False
    try:
        return get_method(method).score_kind == "p_value"
    except (MetricError, KeyError, ValueError):
        return False


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan


def _history(engine: Engine, key: WindowKey, config: ModelConfig, metrics: Sequence[str]) -> list[Any]:
    since = key.start - (HISTORY_WINDOWS - 1) * config.window
    statement = select(
        metric_values.c.window_start, metric_values.c.metric, metric_values.c.feature, metric_values.c.value,
        metric_values.c.threshold, metric_values.c.details,
    ).where(
        metric_values.c.model == key.model, metric_values.c.model_version == key.model_version,
        metric_values.c.metric.in_([_DRIFT, *metrics]), metric_values.c.is_partial.is_(False),
        metric_values.c.segment.is_(None),  # the whole model's windows, not a segment's
        metric_values.c.window_start >= since, metric_values.c.window_start < key.start,
    )
    with engine.connect() as connection:
        return list(connection.execute(statement))


def rank_window(rows: Sequence[tuple[datetime, str, str | None, float | None, float | None, Mapping[str, Any]]],
                task: str) -> FeatureRanking:
    """The ranking from (window_start, metric, feature, value, threshold, details) rows (pure)."""
    windows = sorted({row[0] for row in rows})
    position = {start: index for index, start in enumerate(windows)}
    drift: dict[str, list[float]] = {}
    performance: dict[str, list[float]] = {}
    for start, metric, feature, value, threshold, details in rows:
        index = position[start]
        if metric == _DRIFT and feature is not None:
            series = drift.setdefault(feature, [math.nan] * len(windows))
            series[index] = relative_score(_number(value), threshold, p_value=_p_value(details or {}))
        elif feature is None:
            performance.setdefault(metric, [math.nan] * len(windows))[index] = _number(value)
    candidates = PERFORMANCE_METRICS.get(task, ())
    chosen = None
    for metric, higher in candidates:
        found = performance.get(metric)
        if found is not None and sum(math.isfinite(v) for v in found) >= 2:
            chosen = (metric, higher)
            break
    if chosen is None:
        names = ", ".join(metric for metric, _ in candidates)
        return FeatureRanking(None, len(windows), (), reason=f"no performance metric ({names}) in the recent windows "
                                                             "to rank features against")
    metric, higher = chosen
    return rank_features(drift, performance[metric], metric=metric, higher_is_better=higher)


def with_ranking(engine: Engine, key: WindowKey, config: ModelConfig,
                 points: Sequence[MetricPoint]) -> list[MetricPoint]:
    """``points`` with the window's ranking in ``dataset_drift_share``'s details."""
    metrics = [metric for metric, _ in PERFORMANCE_METRICS.get(config.task, ())]
    if not any(point.metric == RANKED_METRIC for point in points):
        return list(points)
    rows: list[tuple[datetime, str, str | None, float | None, float | None, Mapping[str, Any]]] = [
        (row.window_start, row.metric, row.feature, row.value, row.threshold,
         row.details if isinstance(row.details, dict) else {})
        for row in _history(engine, key, config, metrics)]
    rows += [(key.start, point.metric, point.feature, point.value, point.threshold, point.details)
             for point in points if point.segment is None
             and (point.metric == _DRIFT or (point.metric in metrics and point.feature is None))]
    ranking = rank_window(rows, config.task).details()
    return [replace(point, details={**point.details, "ranking": ranking})
            if point.metric == RANKED_METRIC and point.segment is None else point for point in points]
