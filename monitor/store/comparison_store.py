"""Reading and writing the comparison of two model versions in one window.

A comparison row is a ``metric_values`` row of the challenger whose ``compare`` column
names the champion (``"champion=v1"``); the rows of one version alone have a NULL
``compare`` (as the whole model's rows have a NULL ``segment``). Saving a window's
comparison replaces the challenger's previous comparison rows of that window (whatever
champion they named) in one transaction, so a reader never sees a mix; a version's own
window computation never touches them.

A comparison row's ``computed_at`` is that of the newer of its two windows (the one it
was computed from), so a comparison is up to date exactly when that is still the newer
window's ``computed_at`` (:func:`stored_comparisons`): a window recomputed since (late
labels or predictions, partial to complete) makes it due again, nothing else does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select

from monitor.metrics.point import MetricPoint
from monitor.store.metric_writer import json_safe
from monitor.store.tables import metric_values, predictions, window_state

__all__ = [
    "ServingVersion",
    "StoredComparison",
    "clear_comparisons",
    "compare_label",
    "first_prediction_times",
    "read_estimates",
    "save_comparison",
    "serving_versions",
    "stored_comparisons",
]

_ANCHOR = "prediction_count"  # written for every computed window


def compare_label(champion: str) -> str:
    """The ``compare`` value of rows compared with ``champion``.

    >>> compare_label("v1")
    'champion=v1'
    """
    return f"champion={champion}"


@dataclass(frozen=True, slots=True)
class ServingVersion:
    """A version with predictions in the window, as its computed window says."""

    version: str
    predictions: int
    is_partial: bool
    computed_at: datetime | None = None  # when the version's window was last computed


@dataclass(frozen=True, slots=True)
class StoredComparison:
    """A challenger's stored comparison of one window: the champion it names and what it was computed from."""

    compare: str
    computed_at: datetime


def serving_versions(engine: Engine, *, model: str, start: datetime, end: datetime) -> list[ServingVersion]:
    """The versions whose computed window has at least one prediction, by name."""
    c = metric_values.c
    query = (
        select(c.model_version, c.value, c.is_partial, c.computed_at)
        .where(c.model == model, c.metric == _ANCHOR, c.window_start == start, c.window_end == end,
               c["compare"].is_(None), c.segment.is_(None))
        .order_by(c.model_version)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [ServingVersion(row.model_version, int(row.value), bool(row.is_partial), row.computed_at)
            for row in rows if row.value is not None and row.value > 0]


def stored_comparisons(engine: Engine, *, model: str, start: datetime, end: datetime) -> dict[str, StoredComparison]:
    """The window's stored comparisons, by challenger (aggregates only: no row is read)."""
    c = metric_values.c
    query = (
        select(c.model_version, c["compare"], func.max(c.computed_at).label("computed_at"))
        .where(c.model == model, c.window_start == start, c.window_end == end, c["compare"].is_not(None))
        .group_by(c.model_version, c["compare"])
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    found: dict[str, StoredComparison] = {}
    for row in rows:  # one champion per challenger, as save_comparison replaces them
        found[row.model_version] = StoredComparison(row.compare, row.computed_at)
    return found


def first_prediction_times(engine: Engine, *, model: str, versions: Sequence[str]) -> dict[str, datetime]:
    """When each version's first stored prediction was made (event time).

    The version's first computed window bounds the search, so this reads one window
    per version, not its whole history.
    """
    found: dict[str, datetime] = {}
    with engine.connect() as connection:
        for version in versions:
            first = connection.execute(
                select(func.min(window_state.c.window_start), func.min(window_state.c.window_end))
                .where(window_state.c.model == model, window_state.c.model_version == version)
            ).one()
            condition = [predictions.c.model == model, predictions.c.model_version == version]
            if first[0] is not None:
                condition.append(predictions.c.event_time >= first[0])
            earliest = connection.execute(select(func.min(predictions.c.event_time)).where(*condition)).scalar()
            if earliest is not None:
                found[version] = earliest
    return found


def read_estimates(engine: Engine, *, model: str, version: str, start: datetime, end: datetime) -> dict[str, float]:
    """The version's stored ``estimated_*`` values of the window (NaN ones left out)."""
    c = metric_values.c
    query = select(c.metric, c.value).where(
        c.model == model, c.model_version == version, c.window_start == start, c.window_end == end,
        c["compare"].is_(None), c.segment.is_(None), c.metric.like("estimated\\_%", escape="\\"), c.feature.is_(None),
        c.value.is_not(None))
    with engine.connect() as connection:
        return {row.metric: float(row.value) for row in connection.execute(query)}


def _row(model: str, version: str, start: datetime, end: datetime, compare: str, point: MetricPoint, *,
         is_partial: bool, computed_at: datetime) -> dict[str, Any]:
    details = json_safe(dict(point.details))
    if is_partial:
        details["partial"] = True
    value = float(point.value)
    if not math.isfinite(value) and "reason" not in details:
        details["reason"] = "not computable"
    threshold = point.threshold if point.threshold is not None and math.isfinite(point.threshold) else None
    return {
        "model": model, "model_version": version, "window_start": start, "window_end": end,
        "metric": point.metric, "feature": point.feature, "value": value if math.isfinite(value) else None,
        "threshold": threshold, "is_breach": point.is_breach, "is_partial": is_partial, "details": details,
        "computed_at": computed_at, "compare": compare,
    }


def save_comparison(
    engine: Engine, *, model: str, challenger: str, champion: str, start: datetime, end: datetime,
    points: Sequence[MetricPoint], is_partial: bool, computed_at: datetime,
) -> int:
    """Replace the challenger's comparison rows of the window; return the rows written."""
    label = compare_label(champion)
    rows = {(point.metric, point.feature): _row(model, challenger, start, end, label, point, is_partial=is_partial,
                                                computed_at=computed_at) for point in points}
    c = metric_values.c
    with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
        connection.execute(delete(metric_values).where(
            c.model == model, c.model_version == challenger, c.window_start == start, c.window_end == end,
            c["compare"].is_not(None)))
        if rows:
            connection.execute(insert(metric_values), list(rows.values()))
    return len(rows)


def clear_comparisons(engine: Engine, *, model: str, start: datetime, end: datetime,
                      keep: Sequence[str] = ()) -> int:
    """Delete the window's comparison rows of every version not in ``keep``; return rows deleted."""
    c = metric_values.c
    statement = delete(metric_values).where(c.model == model, c.window_start == start, c.window_end == end,
                                            c["compare"].is_not(None))
    if keep:
        statement = statement.where(c.model_version.not_in(list(keep)))
    with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
        return int(connection.execute(statement).rowcount or 0)
