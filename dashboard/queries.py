"""Every read the dashboard makes: SQLAlchemy Core selects, cached for a few seconds.

Each function takes the store URL first (the cache key) and plain values after it,
and returns a DataFrame with UTC timestamps. Filters always lead with ``model``
and ``metric`` so the ``(model, metric, window_start)`` index answers them on both
backends. Results are cached with ``st.cache_data(ttl=QUERY_TTL)``: a page switch
or a widget change reuses them, and a new window shows up within one refresh.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import ColumnElement, String, and_, case, false, func, or_, select, true, type_coerce

from dashboard.settings import QUERY_TTL
from dashboard.store import read_frame
from monitor.metrics.names import ALL_METRICS, ESTIMATED_CELL_METRICS, METRIC_GROUPS
from monitor.store.tables import (
    alerts,
    dead_letters,
    metric_values,
    notifications,
    predictions,
    reference_data,
    reference_sets,
    silences,
)

__all__ = [
    "alert_list",
    "current_values",
    "dead_letter_reasons",
    "dead_letter_samples",
    "drift_scores",
    "estimation_series",
    "feature_points",
    "feature_ranking",
    "latest_points",
    "metric_series",
    "model_windows",
    "notification_list",
    "reference_problems",
    "reference_values",
    "segment_drift",
    "segment_names",
    "silence_list",
]

MV = metric_values
_CATALOGUE = tuple(sorted(ALL_METRICS))
_cached = st.cache_data(ttl=QUERY_TTL, show_spinner=False)


def _utc(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def _time(column: Any, name: str | None = None) -> Any:
    """A timestamp column read as the driver returns it (UTC text on SQLite, aware
    datetime on PostgreSQL): pandas parses a whole column far faster than
    SQLAlchemy's per-value result processing, which dominated the large reads."""
    return type_coerce(column, String()).label(name or column.name)


def _segment(segment: str | None) -> ColumnElement[bool]:
    """The rows of one segment (``country=DE``), or of the whole model (None)."""
    return MV.c.segment.is_(None) if segment is None else MV.c.segment == segment


def _range(column: Any, start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


@_cached
def model_windows(url: str) -> pd.DataFrame:
    """One row per model and version: its first, last and last complete window.

    A window exists once its ``prediction_count`` is written, the one metric every
    computed window has.
    """
    last_complete = func.max(case((MV.c.is_partial == false(), MV.c.window_start)))
    statement = (
        select(
            MV.c.model,
            MV.c.model_version,
            _time(func.min(MV.c.window_start), "first_window"),
            _time(func.max(MV.c.window_start), "last_window"),
            _time(func.max(MV.c.window_end), "last_window_end"),
            _time(last_complete, "last_complete_window"),
            func.count().label("windows"),
        )
        .where(MV.c.metric == "prediction_count", MV.c.segment.is_(None))
        .group_by(MV.c.model, MV.c.model_version)
        .order_by(MV.c.model, MV.c.model_version)
    )
    return _utc(read_frame(url, statement), "first_window", "last_window", "last_window_end", "last_complete_window")


@_cached
def latest_points(url: str, windows: tuple[tuple[str, datetime], ...], segment: str | None = None) -> pd.DataFrame:
    """Every metric row of the given (model, window_start) pairs, all versions, with
    the drift test (``details.method``) and ``details.p_value`` where there is one,
    the learned ``lower_threshold`` / ``upper_threshold`` of estimates; the whole model's
    rows, or one ``segment``'s."""
    columns = ["model", "model_version", "window_start", "metric", "feature", "value", "threshold", "is_breach"]
    if not windows:
        return pd.DataFrame(columns=[*columns, "method", "p_value", "lower_threshold", "upper_threshold"])
    statement = select(
        *(_time(MV.c[name]) if name == "window_start" else MV.c[name] for name in columns),
        MV.c.details["method"].as_string().label("method"),
        MV.c.details["p_value"].as_float().label("p_value"),
        MV.c.details["lower_threshold"].as_float().label("lower_threshold"),
        MV.c.details["upper_threshold"].as_float().label("upper_threshold"),
    ).where(
        or_(*(and_(MV.c.model == model, MV.c.metric.in_(_CATALOGUE), MV.c.window_start == start)
              for model, start in windows)),
        _segment(segment),
    )
    return _utc(read_frame(url, statement), "window_start")


@_cached
def reference_problems(url: str, model: str, version: str) -> pd.DataFrame:
    """What is wrong with the reference of one model version, per feature, as its newest
    computed window says (``reference_problem`` rows: ``feature``, ``reason``); empty
    when that window has none, so a fixed reference stops showing a problem."""
    newest = (
        select(func.max(MV.c.window_start))
        .where(MV.c.model == model, MV.c.metric == "prediction_count", MV.c.model_version == version,
               MV.c.segment.is_(None))
        .scalar_subquery()
    )
    statement = (
        select(MV.c.feature, MV.c.details["reason"].as_string().label("reason"))
        .where(MV.c.model == model, MV.c.metric == "reference_problem", MV.c.model_version == version,
               MV.c.window_start == newest, MV.c.segment.is_(None))
        .order_by(MV.c.feature)
    )
    return read_frame(url, statement)


@_cached
def metric_series(
    url: str,
    models: tuple[str, ...],
    metrics: tuple[str, ...],
    start: datetime | None = None,
    end: datetime | None = None,
    version: str | None = None,
    segment: str | None = None,
) -> pd.DataFrame:
    """Time series of ``metrics`` (model-level and per-feature rows) in ``[start, end)``,
    of the whole model or of one ``segment``."""
    columns = ["model", "model_version", "window_start", "window_end", "metric", "feature", "value", "threshold",
               "is_breach", "is_partial"]
    if not models or not metrics:
        return pd.DataFrame(columns=columns)
    conditions = [MV.c.model.in_(models), MV.c.metric.in_(metrics), *_range(MV.c.window_start, start, end),
                  _segment(segment)]
    if version is not None:
        conditions.append(MV.c.model_version == version)
    selected = (_time(MV.c[name]) if name in ("window_start", "window_end") else MV.c[name] for name in columns)
    statement = select(*selected).where(*conditions).order_by(MV.c.window_start)
    return _utc(read_frame(url, statement), "window_start", "window_end")


@_cached
def drift_scores(url: str, model: str, version: str, start: datetime | None, end: datetime | None,
                 segment: str | None = None) -> pd.DataFrame:
    """``feature_drift_score`` rows with the method that produced each score (whole model, or one segment)."""
    statement = (
        select(
            _time(MV.c.window_start),
            _time(MV.c.window_end),
            MV.c.feature,
            MV.c.value.label("score"),
            MV.c.threshold,
            MV.c.is_breach.label("drifted"),
            MV.c.is_partial,
            MV.c.details["method"].as_string().label("method"),
            MV.c.details["threshold_source"].as_string().label("threshold_source"),
        )
        .where(
            MV.c.model == model,
            MV.c.metric == "feature_drift_score",
            MV.c.model_version == version,
            *_range(MV.c.window_start, start, end),
            _segment(segment),
        )
        .order_by(MV.c.window_start, MV.c.feature)
    )
    return _utc(read_frame(url, statement), "window_start", "window_end")


@_cached
def feature_ranking(url: str, model: str, version: str, window_start: datetime) -> dict[str, Any] | None:
    """The window's ranking of features by how their drift tracks the performance drop
    (``details.ranking`` of its ``dataset_drift_share``), or None."""
    statement = select(MV.c.details).where(
        MV.c.model == model, MV.c.model_version == version, MV.c.metric == "dataset_drift_share",
        MV.c.window_start == window_start, MV.c.feature.is_(None))
    frame = read_frame(url, statement)
    if frame.empty:
        return None
    details = frame["details"].iloc[0]
    if isinstance(details, str):
        details = json.loads(details)
    ranking = details.get("ranking") if isinstance(details, dict) else None
    return ranking if isinstance(ranking, dict) else None


@_cached
def estimation_series(url: str, model: str, version: str, start: datetime | None,
                      end: datetime | None, segment: str | None = None) -> pd.DataFrame:
    """``estimated_<metric>`` and ``multivariate_drift`` rows of one version with the
    band, the learned thresholds and the realized value from their details."""
    bounds = ("lower_band", "upper_band", "lower_threshold", "upper_threshold", "realized")
    statement = (
        select(
            _time(MV.c.window_start),
            MV.c.metric,
            MV.c.value,
            MV.c.is_partial,
            *(MV.c.details[name].as_float().label(name) for name in bounds),
            MV.c.details["method"].as_string().label("method"),
        )
        .where(
            MV.c.model == model,
            MV.c.metric.in_(METRIC_GROUPS["estimation"]),
            MV.c.model_version == version,
            MV.c.feature.is_(None),
            *_range(MV.c.window_start, start, end),
            _segment(segment),
        )
        .order_by(MV.c.window_start, MV.c.metric)
    )
    return _utc(read_frame(url, statement), "window_start")


@_cached
def confusion_cells(url: str, model: str, version: str, window_start: datetime,
                    segment: str | None = None) -> pd.DataFrame:
    """The estimated confusion-matrix cells of one window (binary's four named metrics, or multiclass's
    ``estimated_confusion_cell`` rows) with the realized counts and learned thresholds from their details."""
    numbers = ("realized", "realized_so_far", "labelled_rows", "rows", "lower_band", "upper_band",
               "lower_threshold", "upper_threshold")
    texts = ("true_class", "predicted_class", "not_estimated")
    statement = select(
        MV.c.metric, MV.c.feature, MV.c.value, MV.c.is_breach,
        *(MV.c.details[name].as_float().label(name) for name in numbers),
        *(MV.c.details[name].as_string().label(name) for name in texts),
    ).where(
        MV.c.model == model,
        MV.c.metric.in_(sorted(ESTIMATED_CELL_METRICS)),
        MV.c.window_start == window_start,
        MV.c.model_version == version,
        _segment(segment),
    ).order_by(MV.c.metric, MV.c.feature)
    return read_frame(url, statement)


@_cached
def feature_points(url: str, model: str, version: str, window_start: datetime, feature: str,
                   segment: str | None = None) -> pd.DataFrame:
    """All metric rows of one feature in one window, with their details."""
    statement = select(MV.c.metric, MV.c.value, MV.c.threshold, MV.c.is_breach, MV.c.details).where(
        MV.c.model == model,
        MV.c.metric.in_(_CATALOGUE),
        MV.c.window_start == window_start,
        MV.c.model_version == version,
        MV.c.feature == feature,
        _segment(segment),
    )
    return read_frame(url, statement)


@_cached
def segment_names(url: str, model: str, version: str) -> list[str]:
    """The segments of one model version that have rows (``country=DE``, ...), by name."""
    statement = (select(MV.c.segment).distinct()
                 .where(MV.c.model == model, MV.c.metric == "prediction_count", MV.c.model_version == version,
                        MV.c.segment.is_not(None))
                 .order_by(MV.c.segment))
    return [str(name) for name in read_frame(url, statement)["segment"]]


@_cached
def segment_drift(url: str, model: str, version: str, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    """Per segment and complete window: ``dataset_drift_share``, ``dataset_drift`` and the
    number of breaching rows of any metric (``breaches``)."""
    share = func.max(case((MV.c.metric == "dataset_drift_share", MV.c.value)))
    drifted = func.max(case((MV.c.metric == "dataset_drift", MV.c.value)))
    breaches = func.sum(case((MV.c.is_breach == true(), 1), else_=0))
    statement = (
        select(MV.c.segment, _time(MV.c.window_start), share.label("drift_share"), drifted.label("dataset_drift"),
               breaches.label("breaches"))
        .where(MV.c.model == model, MV.c.metric.in_(_CATALOGUE), MV.c.model_version == version,
               MV.c.segment.is_not(None), MV.c.is_partial == false(), *_range(MV.c.window_start, start, end))
        .group_by(MV.c.segment, MV.c.window_start)
        .order_by(MV.c.segment, MV.c.window_start)
    )
    return _utc(read_frame(url, statement), "window_start")


@_cached
def alert_list(url: str, model: str | None = None, limit: int = 2000) -> pd.DataFrame:
    """Alerts, newest activity first."""
    statement = select(alerts).order_by(alerts.c.updated_at.desc(), alerts.c.id.desc()).limit(limit)
    if model is not None:
        statement = statement.where(alerts.c.model == model)
    return _utc(
        read_frame(url, statement),
        "started_at", "fired_at", "resolved_at", "last_window_start", "last_window_end", "last_notified_at",
        "updated_at",
    )


@_cached
def notification_list(url: str, alert_id: int | None = None, limit: int = 500) -> pd.DataFrame:
    """Notifications (the outbox) with their alert's rule and model, newest first."""
    statement = (
        select(
            notifications.c.id,
            notifications.c.alert_id,
            alerts.c.rule,
            alerts.c.model,
            notifications.c.channel,
            notifications.c.event,
            notifications.c.status,
            notifications.c.attempts,
            notifications.c.created_at,
            notifications.c.delivered_at,
            notifications.c.next_attempt_at,
            notifications.c.last_error,
        )
        .select_from(notifications.outerjoin(alerts, notifications.c.alert_id == alerts.c.id))
        .order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
        .limit(limit)
    )
    if alert_id is not None:
        statement = statement.where(notifications.c.alert_id == alert_id)
    return _utc(read_frame(url, statement), "created_at", "delivered_at", "next_attempt_at")


@_cached
def silence_list(url: str) -> pd.DataFrame:
    """Every silence, newest first."""
    statement = select(silences).order_by(silences.c.starts_at.desc())
    return _utc(read_frame(url, statement), "starts_at", "ends_at", "created_at")


@_cached
def dead_letter_reasons(url: str, start: datetime | None = None) -> pd.DataFrame:
    """Dead letters grouped by reason and topic: how many, and when last."""
    statement = (
        select(
            dead_letters.c.reason,
            dead_letters.c.topic,
            func.count().label("count"),
            _time(func.max(dead_letters.c.received_at), "last_seen"),
            _time(func.min(dead_letters.c.received_at), "first_seen"),
        )
        .where(*_range(dead_letters.c.received_at, start, None))
        .group_by(dead_letters.c.reason, dead_letters.c.topic)
        .order_by(func.count().desc())
    )
    return _utc(read_frame(url, statement), "last_seen", "first_seen")


@_cached
def dead_letter_samples(url: str, limit: int = 20, preview_bytes: int = 300) -> pd.DataFrame:
    """The newest dead letters, with the start of the raw message as text."""
    statement = (
        select(
            dead_letters.c.received_at,
            dead_letters.c.topic,
            dead_letters.c.partition,
            dead_letters.c.offset,
            dead_letters.c.model,
            dead_letters.c.reason,
            dead_letters.c.raw_size,
            func.substr(dead_letters.c.raw, 1, preview_bytes).label("raw"),
        )
        .order_by(dead_letters.c.received_at.desc(), dead_letters.c.id.desc())
        .limit(limit)
    )
    frame = _utc(read_frame(url, statement), "received_at")
    frame["raw"] = [bytes(raw).decode("utf-8", errors="replace") if raw is not None else "" for raw in frame["raw"]]
    return frame


@_cached
def reference_values(url: str, model: str, version: str, feature: str, limit: int = 5000) -> tuple[str, list[Any]]:
    """(source, values) of ``feature`` in the reference set of ``version`` (or the ``'*'`` one)."""
    sets = read_frame(
        url,
        select(reference_sets.c.id, reference_sets.c.model_version, reference_sets.c.source)
        .where(reference_sets.c.model == model, reference_sets.c.model_version.in_((version, "*"))),
    )
    if sets.empty:
        return "", []
    chosen = sets.sort_values("model_version", key=lambda col: col == "*").iloc[0]
    values = read_frame(
        url,
        select(reference_data.c.features[feature].label("value"))
        .where(reference_data.c.reference_set_id == int(chosen["id"]))
        .order_by(reference_data.c.row_index)
        .limit(limit),
    )
    return str(chosen["source"]), list(values["value"])


@_cached
def current_values(
    url: str, model: str, version: str, start: datetime, end: datetime, feature: str, limit: int = 5000
) -> list[Any]:
    """Values of ``feature`` in (a sample of) the predictions of one window."""
    statement = (
        select(predictions.c.features[feature].label("value"))
        .where(
            predictions.c.model == model,
            predictions.c.model_version == version,
            predictions.c.event_time >= start,
            predictions.c.event_time < end,
        )
        .limit(limit)
    )
    return list(read_frame(url, statement)["value"])


def pairs(models: Sequence[str], starts: Sequence[datetime]) -> tuple[tuple[str, datetime], ...]:
    """Hashable (model, window_start) pairs for :func:`latest_points`."""
    return tuple((str(model), start.to_pydatetime() if isinstance(start, pd.Timestamp) else start)
                 for model, start in zip(models, starts, strict=True))
