"""Saving a computed window: its metric rows, its state and its job run, atomically.

In one transaction the window's previous ``metric_values`` rows are deleted and the
new ones inserted, ``window_state`` records what the computation saw and drops the
claim, and the run is appended to ``job_runs``. A reader therefore sees either the
old rows or the new ones, never a mix and never duplicates; a crash leaves the old
rows and an expiring claim.

The state update is conditional on the claim still being ours: if the lease
expired and another scheduler took the window over, nothing is written and
:class:`ClaimLostError` says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, delete, insert, update

from monitor.errors import StoreError
from monitor.metrics.point import MetricPoint
from monitor.store.tables import job_runs, metric_values, window_state
from monitor.store.window_state import WindowKey

__all__ = ["ClaimLostError", "JobRun", "json_safe", "record_job_run", "save_window_result"]


class ClaimLostError(StoreError):
    """The window's claim expired and another scheduler holds it; the result was not saved."""


@dataclass(frozen=True, slots=True)
class JobRun:
    """One row of ``job_runs``."""

    model: str
    trigger: str
    started_at: datetime
    status: str
    finished_at: datetime | None = None
    model_version: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    metrics_written: int | None = None
    error: str | None = None
    worker: str | None = None


def json_safe(value: Any) -> Any:
    """``value`` as strict JSON data: NaN/inf -> None, numpy -> Python, tuples -> lists.

    >>> json_safe({"p": float("nan"), "n": np.int64(3), "xs": (1.5, np.float64("inf"))})
    {'p': None, 'n': 3, 'xs': [1.5, None]}
    """
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [json_safe(item) for item in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _metric_rows(
    key: WindowKey, points: Sequence[MetricPoint], *, is_partial: bool, computed_at: datetime
) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
    for point in points:
        details = json_safe(dict(point.details))
        if is_partial:
            details["partial"] = True
        value = float(point.value)
        if not math.isfinite(value) and "reason" not in details:
            details["reason"] = "not computable"
        # A later point for the same (metric, feature, segment) wins: the unique key allows one.
        rows[(point.metric, point.feature, point.segment)] = {
            "model": key.model,
            "model_version": key.model_version,
            "window_start": key.start,
            "window_end": key.end,
            "metric": point.metric,
            "feature": point.feature,
            "segment": point.segment,
            "value": _finite(value),
            "threshold": _finite(point.threshold),
            "is_breach": point.is_breach,
            "is_partial": is_partial,
            "details": details,
            "computed_at": computed_at,
        }
    return list(rows.values())


def record_job_run(connection: Connection, run: JobRun) -> None:
    connection.execute(
        insert(job_runs).values(
            model=run.model, model_version=run.model_version, window_start=run.window_start,
            window_end=run.window_end, trigger=run.trigger, started_at=run.started_at,
            finished_at=run.finished_at, status=run.status, metrics_written=run.metrics_written,
            error=run.error, worker=run.worker,
        )
    )


def save_window_result(
    engine: Engine,
    key: WindowKey,
    points: Sequence[MetricPoint],
    *,
    worker: str,
    is_partial: bool,
    watermark: datetime | None,
    computed_at: datetime,
    run: JobRun,
) -> int:
    """Replace the window's metric rows, record its state and its run; return rows written."""
    rows = _metric_rows(key, points, is_partial=is_partial, computed_at=computed_at)
    with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
        state = connection.execute(
            update(window_state)
            .where(
                window_state.c.model == key.model,
                window_state.c.model_version == key.model_version,
                window_state.c.window_start == key.start,
                window_state.c.claimed_by == worker,
            )
            .values(window_end=key.end, computed_at=computed_at, data_watermark=watermark, is_partial=is_partial,
                    claimed_by=None, claimed_at=None, claimed_until=None, claimed_process=None)
        )
        if state.rowcount != 1:
            raise ClaimLostError(
                f"the claim of {key.model}/{key.model_version} window {key.start.isoformat()} expired and another "
                "scheduler took it over; its result was not saved (its lease was not renewed for schedule.lease: the "
                "process stalled or lost the store; raise schedule.lease if that is expected)"
            )
        connection.execute(
            delete(metric_values).where(
                metric_values.c.model == key.model,
                metric_values.c.model_version == key.model_version,
                metric_values.c.window_start == key.start,
                metric_values.c.window_end == key.end,
                metric_values.c["compare"].is_(None),  # comparisons with another version are saved on their own
            )
        )
        if rows:
            connection.execute(insert(metric_values), rows)
        record_job_run(connection, replace(run, metrics_written=len(rows)))
    return len(rows)

