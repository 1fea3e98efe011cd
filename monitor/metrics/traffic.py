"""Traffic and serving errors of one window: ``prediction_count``, ``error_rate``.

``status`` is the per-prediction serving status: ``"error"`` means the serving
call failed; anything else (``"ok"``, and a missing status, whose default is
``"ok"``) counts as served. An empty window has ``prediction_count`` 0 and
``error_rate`` NaN with ``details["reason"]``.
"""

from __future__ import annotations

import math

from monitor.metrics.categories import category_keys
from monitor.metrics.column import Column
from monitor.metrics.point import MetricPoint

__all__ = ["compute_traffic"]


def compute_traffic(status: Column) -> list[MetricPoint]:
    """Return ``prediction_count`` and ``error_rate`` for a window's status column.

    >>> [(p.metric, p.value) for p in compute_traffic(["ok", "error", None, "ok"])]
    [('prediction_count', 4.0), ('error_rate', 0.25)]
    """
    keys = category_keys(status, name="status", keep_categorical=True)  # a categorical compares its codes
    n_predictions = len(keys)
    n_errors = int((keys == "error").sum())
    count = MetricPoint("prediction_count", float(n_predictions))
    if n_predictions == 0:
        rate = MetricPoint("error_rate", math.nan, details={"reason": "empty window: no predictions"})
    else:
        rate = MetricPoint(
            "error_rate",
            n_errors / n_predictions,
            details={"n_errors": n_errors, "n_predictions": n_predictions},
        )
    return [count, rate]
