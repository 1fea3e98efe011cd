"""What one scrape reads from the store: a few read-only queries, all index-backed or small.

``read_snapshot`` returns every stored vital of each model's newest complete window
(every version that has rows in it), the alert and outbox counts, and the ingestion
counts. Per model and metric at most ``max_features`` feature (or class) rows are kept:
breaching ones first, then by name; the number left out is reported, never hidden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, bindparam, false, func, select, text

from monitor.metrics.names import ALL_METRICS
from monitor.store.tables import alerts, dead_letters, labels, metric_values, notifications, predictions

__all__ = ["Vital", "WindowVitals", "Snapshot", "read_snapshot", "cap_features"]

# Written for every computed window (0 for an empty one): finds a model's newest complete window.
_ANCHOR_METRIC = "prediction_count"


@dataclass(frozen=True, slots=True)
class Vital:
    metric: str
    feature: str | None
    value: float
    is_breach: bool | None = None


@dataclass(frozen=True, slots=True)
class WindowVitals:
    model: str
    model_version: str
    window_start: datetime
    window_end: datetime
    vitals: tuple[Vital, ...]


@dataclass(slots=True)
class Snapshot:
    windows: list[WindowVitals] = field(default_factory=list)
    features_dropped: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (model, version, metric)
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)  # (state, severity) → count
    notifications: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, status) → count
    predictions: dict[str, int] = field(default_factory=dict)  # model → stored predictions
    labels: dict[str, int] = field(default_factory=dict)  # model → stored labels
    dead_letters: dict[str, int] = field(default_factory=dict)  # topic → stored dead letters


def cap_features(vitals: Iterable[Vital], max_features: int) -> tuple[list[Vital], dict[str, int]]:
    """Keep at most ``max_features`` feature rows per metric (breaching first, then by name).

    >>> rows = [Vital("missing_share", f, 0.0, f == "c") for f in "dcba"] + [Vital("error_rate", None, 0.1)]
    >>> kept, dropped = cap_features(rows, 2)
    >>> [(v.metric, v.feature) for v in kept], dropped
    ([('error_rate', None), ('missing_share', 'c'), ('missing_share', 'a')], {'missing_share': 2})
    """
    by_metric: dict[str, list[Vital]] = defaultdict(list)
    kept: list[Vital] = []
    for vital in vitals:
        if vital.feature is None:
            kept.append(vital)
        else:
            by_metric[vital.metric].append(vital)
    dropped: dict[str, int] = {}
    for metric in sorted(by_metric):
        rows = sorted(by_metric[metric], key=lambda v: (not v.is_breach, v.feature or ""))
        kept.extend(rows[:max_features])
        if len(rows) > max_features:
            dropped[metric] = len(rows) - max_features
    return kept, dropped


def _models(connection: Connection) -> list[str]:
    """Every model with metric rows: a loose index scan (one probe per model, not per row)."""
    query = text(
        "WITH RECURSIVE m(model) AS ("
        " SELECT min(model) FROM metric_values"
        " UNION ALL SELECT (SELECT min(model) FROM metric_values WHERE model > m.model) FROM m"
        " WHERE m.model IS NOT NULL)"
        " SELECT model FROM m WHERE model IS NOT NULL"
    )
    return [row[0] for row in connection.execute(query)]


def _newest_complete_start(connection: Connection, model: str) -> datetime | None:
    c = metric_values.c
    query = select(func.max(c.window_start)).where(
        c.model == model, c.metric == _ANCHOR_METRIC, c.is_partial == false())
    value: datetime | None = connection.execute(query).scalar_one_or_none()
    return value


def _window_rows(connection: Connection, model: str, start: datetime, max_features: int,
                 snapshot: Snapshot) -> None:
    c = metric_values.c
    # `metric IN (...)` lets both backends probe the (model, metric, window_start) index per metric.
    query = (
        select(c.model_version, c.window_end, c.metric, c.feature, c.value, c.is_breach)
        .where(c.model == model, c.metric.in_(bindparam("metrics", expanding=True)), c.window_start == start,
               c.is_partial == false(), c.value.is_not(None))
        .order_by(c.model_version, c.metric, c.feature)
    )
    grouped: dict[tuple[str, datetime], list[Vital]] = defaultdict(list)
    for row in connection.execute(query, {"metrics": sorted(ALL_METRICS)}):
        grouped[(row.model_version, row.window_end)].append(
            Vital(row.metric, row.feature, float(row.value), None if row.is_breach is None else bool(row.is_breach)))
    for (version, end), vitals in sorted(grouped.items()):
        kept, dropped = cap_features(vitals, max_features)
        snapshot.windows.append(WindowVitals(model, version, start, end, tuple(kept)))
        for metric, count in dropped.items():
            snapshot.features_dropped[(model, version, metric)] = count


def read_snapshot(connection: Connection, *, max_features: int) -> Snapshot:
    """Everything the exporter serves, read in one connection."""
    snapshot = Snapshot()
    for model in _models(connection):
        start = _newest_complete_start(connection, model)
        if start is not None:
            _window_rows(connection, model, start, max_features, snapshot)
    a = alerts.c
    for state, severity, count in connection.execute(
            select(a.state, a.severity, func.count()).group_by(a.state, a.severity)):
        snapshot.alerts[(state, severity)] = int(count)
    n = notifications.c
    for channel, status, count in connection.execute(
            select(n.channel, n.status, func.count()).where(n.status.in_(("pending", "failed")))
            .group_by(n.channel, n.status)):
        snapshot.notifications[(channel, status)] = int(count)
    for table, target in ((predictions, snapshot.predictions), (labels, snapshot.labels)):
        for model, count in connection.execute(select(table.c.model, func.count()).group_by(table.c.model)):
            target[model] = int(count)
    d = dead_letters.c
    for topic, count in connection.execute(select(d.topic, func.count()).group_by(d.topic)):
        snapshot.dead_letters[topic] = int(count)
    return snapshot
