"""The window's feature ranking ("look at `amount` first"), quoted in drift and performance alerts.

Each window's ``dataset_drift_share`` carries the ranking of its features by how their
drift tracks the performance drop (``details.ranking``, see the README). A notification
of a rule on a drift, output, performance or estimated metric gets a ``look_first``
detail from it (first, so every channel shows it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from alerts.rules import Observation
from monitor.config.models import AlertRule
from monitor.metrics.names import METRIC_GROUPS
from monitor.metrics.point import MetricPoint

__all__ = ["describe_ranking", "with_look_first"]

_WATCHED = frozenset(name for group in ("data_drift", "output", "performance", "concept_drift", "estimation")
                     for name in METRIC_GROUPS[group])


def describe_ranking(ranking: Mapping[str, Any]) -> str | None:
    """One line for people, or None when the ranking names no feature.

    >>> describe_ranking({"look_first": "amount", "performance_metric": "roc_auc", "windows": 12,
    ...                   "features": [{"feature": "amount", "rank": 1, "correlation": 0.931}]})
    'amount (its drift tracks the drop of roc_auc: r = 0.93 over 12 windows)'
    >>> describe_ranking({"look_first": None, "performance_metric": "mae", "windows": 6,
    ...                   "features": [{"feature": "age", "rank": 1, "correlation": 0.2}]})
    'no clear suspect (closest: age, r = 0.20 with the drop of mae over 6 windows)'
    """
    features = ranking.get("features") or []
    if not features:
        return None
    top = features[0]
    metric, windows = ranking.get("performance_metric"), ranking.get("windows")
    if ranking.get("look_first"):
        return (f"{ranking['look_first']} (its drift tracks the drop of {metric}: r = {top['correlation']:.2f} "
                f"over {windows} windows)")
    return f"no clear suspect (closest: {top['feature']}, r = {top['correlation']:.2f} with the drop of {metric} " \
           f"over {windows} windows)"


def with_look_first(rule: AlertRule, observation: Observation,
                    points: Mapping[str, Sequence[MetricPoint]]) -> Observation:
    """``observation`` with ``look_first`` first in its details, for rules on drift and performance."""
    if rule.metric not in _WATCHED or observation.model_version is None:
        return observation
    ranking = next((point.details.get("ranking") for point in points.get(observation.model_version, ())
                    if point.metric == "dataset_drift_share" and point.feature is None
                    and point.segment is None), None)
    line = describe_ranking(ranking) if isinstance(ranking, Mapping) else None
    if line is None:
        return observation
    return replace(observation, details={"look_first": line, **observation.details})
