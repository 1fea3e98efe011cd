"""What every MetricPoint a statistic returns must satisfy (shared by these tests)."""

from __future__ import annotations

import doctest
import json
import math
from collections.abc import Sequence
from types import ModuleType

from monitor.metrics.names import ALL_METRICS, FEATURE_METRICS
from monitor.metrics.point import MetricPoint


def check_points(points: Sequence[MetricPoint]) -> dict[tuple[str, str | None], MetricPoint]:
    """Assert the MetricPoint contract and return the points keyed by (metric, feature).

    Names come from DESIGN.md, feature-level metrics carry a feature, details are
    strict JSON (no NaN: PostgreSQL JSONB rejects it), a NaN value has a reason,
    and no (metric, feature) appears twice.
    """
    keyed: dict[tuple[str, str | None], MetricPoint] = {}
    for point in points:
        assert isinstance(point, MetricPoint)
        assert point.metric in ALL_METRICS, point.metric
        assert (point.feature is not None) == (point.metric in FEATURE_METRICS), point
        assert isinstance(point.value, float), point
        json.dumps(dict(point.details), allow_nan=False)
        if math.isnan(point.value):
            assert isinstance(point.details.get("reason"), str) and point.details["reason"], point
        else:
            assert "reason" not in point.details, point
        key = (point.metric, point.feature)
        assert key not in keyed, f"duplicate point {key}"
        keyed[key] = point
    return keyed


def values(points: Sequence[MetricPoint]) -> dict[str, float]:
    """Model-level points as {metric: value} (after checking the contract)."""
    return {metric: point.value for (metric, _), point in check_points(points).items()}


def run_doctests(module: ModuleType) -> None:
    """Run a module's docstring examples; they are part of its documentation."""
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module.__name__} has no docstring examples"
    assert result.failed == 0, f"{result.failed} docstring example(s) of {module.__name__} failed"
