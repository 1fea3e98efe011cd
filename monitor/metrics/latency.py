"""Serving latency of one window, in milliseconds.

``latency_p50_ms``, ``latency_p95_ms``, ``latency_p99_ms`` use numpy's
``percentile`` with linear interpolation between the two closest ranks (numpy's
default, "type 7" in Hyndman & Fan, as in pandas and R): the p-th percentile of
``n`` sorted values sits at 0-based position ``(n - 1) * p / 100``. So the
percentiles of 1..100 are 50.5, 95.05 and 99.01. ``latency_mean_ms`` and
``latency_max_ms`` complete the set.

Null latencies (the field is optional) and non-numbers are ignored and counted
in ``details["n_missing"]``. When no latency is left (empty window or all
null), all five metrics are NaN with ``details["reason"]``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from monitor.metrics.column import Column, to_float, to_series
from monitor.metrics.point import MetricPoint

__all__ = ["LATENCY_PERCENTILES", "compute_latency"]

LATENCY_PERCENTILES: tuple[tuple[str, float], ...] = (
    ("latency_p50_ms", 50.0),
    ("latency_p95_ms", 95.0),
    ("latency_p99_ms", 99.0),
)


def compute_latency(latency_ms: Column) -> list[MetricPoint]:
    """Return the five latency points of a window's ``latency_ms`` column.

    >>> [(p.metric, p.value) for p in compute_latency(list(range(1, 101)))]  # doctest: +NORMALIZE_WHITESPACE
    [('latency_p50_ms', 50.5), ('latency_p95_ms', 95.05), ('latency_p99_ms', 99.01),
     ('latency_mean_ms', 50.5), ('latency_max_ms', 100.0)]
    """
    column = to_series(latency_ms, name="latency_ms")
    values = to_float(column)
    values = values[~np.isnan(values)]
    n_missing = len(column) - int(values.size)
    names = [name for name, _ in LATENCY_PERCENTILES] + ["latency_mean_ms", "latency_max_ms"]
    if values.size == 0:
        reason = (
            "empty window: no predictions"
            if len(column) == 0
            else f"no latency_ms in the window ({n_missing} predictions without one)"
        )
        return [MetricPoint(name, math.nan, details={"reason": reason}) for name in names]
    details: dict[str, Any] = {"n": int(values.size), "n_missing": n_missing}
    quantiles = np.percentile(values, [q for _, q in LATENCY_PERCENTILES], method="linear")
    points = [
        MetricPoint(name, float(value), details={**details, "interpolation": "linear"})
        for (name, _), value in zip(LATENCY_PERCENTILES, quantiles, strict=True)
    ]
    points.append(MetricPoint("latency_mean_ms", float(values.mean()), details=details))
    points.append(MetricPoint("latency_max_ms", float(values.max()), details=details))
    return points
