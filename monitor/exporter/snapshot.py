"""What one scrape reads from the store: a few read-only queries, all index-backed or small.

``read_snapshot`` returns every stored vital of each model's newest complete window
(every version that has rows in it), the alert and outbox counts, and the ingestion
counts. Per model and metric at most ``max_features`` feature (or class) and segment rows
are kept: breaching ones first, then the whole model's before segments, then by name;
the number left out is reported, never hidden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, false, func, select, text

from monitor.metrics.names import ALL_METRICS, COMPARE_METRICS
from monitor.store.tables import alerts, dead_letters, labels, metric_values, notifications, predictions

__all__ = ["Vital", "WindowVitals", "Snapshot", "IngestCounter", "read_snapshot", "cap_features"]

# Written for every computed window (0 for an empty one): finds a model's newest complete window.
_ANCHOR_METRIC = "prediction_count"


@dataclass(frozen=True, slots=True)
class Vital:
    metric: str
    feature: str | None
    value: float
    is_breach: bool | None = None
    segment: str | None = None  # "country=DE"; None: the whole model
    compare: str | None = None  # "champion=<version>" on a comparison of this version (a challenger) with the champion


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
    """Keep at most ``max_features`` feature or segment rows per metric (breaching first, the
    whole model's before segments, then by name); the whole model's model-level row is always kept.

    >>> rows = [Vital("missing_share", f, 0.0, f == "c") for f in "dcba"] + [Vital("error_rate", None, 0.1)]
    >>> kept, dropped = cap_features(rows, 2)
    >>> [(v.metric, v.feature) for v in kept], dropped
    ([('error_rate', None), ('missing_share', 'c'), ('missing_share', 'a')], {'missing_share': 2})
    """
    by_metric: dict[str, list[Vital]] = defaultdict(list)
    kept: list[Vital] = []
    for vital in vitals:
        if vital.feature is None and vital.segment is None:
            kept.append(vital)
        else:
            by_metric[vital.metric].append(vital)
    dropped: dict[str, int] = {}
    for metric in sorted(by_metric):
        rows = sorted(by_metric[metric], key=lambda v: (not v.is_breach, v.segment is not None, v.segment or "",
                                                        v.feature or ""))
        kept.extend(rows[:max_features])
        if len(rows) > max_features:
            dropped[metric] = len(rows) - max_features
    return kept, dropped


def _models(connection: Connection, table: str = "metric_values") -> list[str]:
    """Every model with rows in ``table``: a loose index scan (one probe per model, not per row)."""
    query = text(
        "WITH RECURSIVE m(model) AS ("
        f" SELECT min(model) FROM {table}"
        f" UNION ALL SELECT (SELECT min(model) FROM {table} WHERE model > m.model) FROM m"
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
        select(c.model_version, c.window_end, c.metric, c.feature, c.value, c.is_breach, c.segment, c["compare"])
        .where(c.model == model, c.metric.in_(bindparam("metrics", expanding=True)), c.window_start == start,
               c.is_partial == false(), c.value.is_not(None))
        .order_by(c.model_version, c.metric, c.feature, c.segment)
    )
    grouped: dict[tuple[str, datetime], list[Vital]] = defaultdict(list)
    for row in connection.execute(query, {"metrics": sorted(ALL_METRICS | COMPARE_METRICS)}):
        grouped[(row.model_version, row.window_end)].append(
            Vital(row.metric, row.feature, float(row.value), None if row.is_breach is None else bool(row.is_breach),
                  row.segment, compare=row.compare))
    for (version, end), vitals in sorted(grouped.items()):
        kept, dropped = cap_features(vitals, max_features)
        snapshot.windows.append(WindowVitals(model, version, start, end, tuple(kept)))
        for metric, count in dropped.items():
            snapshot.features_dropped[(model, version, metric)] = count


Counts = dict[str, int]


class IngestCounter:
    """Stored predictions and labels per model, dead letters per topic, without a full count per scrape.

    Rows ingested more than ``settle`` ago are counted once, incrementally, through the
    (model, ingested_at) and (received_at) indexes; the newer ones are counted on every
    read. A row committed more than ``settle`` after its ``ingested_at`` would be missed
    by the increments, so everything is recounted every ``recount`` (the counts only grow).
    """

    def __init__(self, *, settle: timedelta = timedelta(seconds=10), recount: timedelta = timedelta(minutes=10),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settle = settle
        self.recount = recount
        self.clock = clock
        self._settled: tuple[Counts, Counts, Counts] = ({}, {}, {})
        self._watermark: datetime | None = None
        self._recounted_at: datetime | None = None

    def read(self, connection: Connection) -> tuple[Counts, Counts, Counts]:
        now = self.clock()
        if self._recounted_at is None or now - self._recounted_at >= self.recount:
            self._settled, self._watermark, self._recounted_at = ({}, {}, {}), None, now
        until = now - self.settle
        since = self._watermark
        settled = tuple(_add(old, new) for old, new in zip(self._settled, self._count(connection, since, until),
                                                             strict=True))
        self._settled = (settled[0], settled[1], settled[2])
        self._watermark = until
        recent = self._count(connection, until, None)
        return (_add(self._settled[0], recent[0]), _add(self._settled[1], recent[1]),
                _add(self._settled[2], recent[2]))

    @staticmethod
    def _count(connection: Connection, since: datetime | None, until: datetime | None) -> tuple[Counts, Counts, Counts]:
        def window(column: Any) -> list[Any]:
            return [*([] if since is None else [column >= since]), *([] if until is None else [column < until])]

        found: list[Counts] = []
        for table in (predictions, labels):
            counts: Counts = {}
            if since is None:  # a full count: one pass over the table beats one index range per model
                found.append({model: int(count) for model, count in connection.execute(
                    select(table.c.model, func.count()).where(*window(table.c.ingested_at)).group_by(table.c.model))})
                continue
            for model in _models(connection, table.name):
                count = connection.execute(select(func.count()).select_from(table).where(
                    table.c.model == model, *window(table.c.ingested_at))).scalar_one()
                if count:
                    counts[model] = int(count)
            found.append(counts)
        d = dead_letters.c
        letters = {topic: int(count) for topic, count in connection.execute(
            select(d.topic, func.count()).where(*window(d.received_at)).group_by(d.topic))}
        return found[0], found[1], letters


def _add(a: Counts, b: Counts) -> Counts:
    """
    >>> sorted(_add({"x": 1}, {"x": 2, "y": 1}).items())
    [('x', 3), ('y', 1)]
    """
    return {key: a.get(key, 0) + b.get(key, 0) for key in a.keys() | b.keys()} if b else dict(a)


def read_snapshot(connection: Connection, *, max_features: int, counter: IngestCounter | None = None) -> Snapshot:
    """Everything the exporter serves, read in one connection (ingestion counts with ``counter``)."""
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
    if counter is not None:
        snapshot.predictions, snapshot.labels, snapshot.dead_letters = counter.read(connection)
    return snapshot
