"""The one record every statistic returns: a named value for a window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MetricPoint"]


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One value of one metric (optionally for one feature, or one segment) in one window.

    ``value`` may be NaN; then ``details["reason"]`` says why (empty window, no
    labels, ...). ``details`` is JSON-serialisable: the test used, p-value,
    sample sizes. It becomes one row of ``metric_values``.
    """

    metric: str
    value: float
    feature: str | None = None
    threshold: float | None = None
    is_breach: bool | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    segment: str | None = None  # "country=DE"; None: the whole model
    compare: str | None = None  # "champion=<version>" on a comparison of this version with the champion
