"""The Prometheus collector: the store's newest vitals, alerts, outbox and ingestion counts.

Every scrape reads the store (through :func:`~monitor.exporter.snapshot.read_snapshot`)
unless the previous read is younger than ``cache_ttl``, so any number of exporters can
serve the same store. When the store cannot be read the scrape carries
``driftwatch_store_up 0`` and no vitals: Prometheus marks the old series stale instead
of repeating numbers nobody re-checked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from monitor.exporter.lag import LagReading
from monitor.exporter.snapshot import IngestCounter, Snapshot, read_snapshot
from monitor.logs import fields
from monitor.metrics.names import ALL_METRICS, COMPARE_METRICS, CONFUSION_CELL_METRIC, METRIC_GROUPS

__all__ = ["StoreCollector", "PREFIX", "ALERT_STATES", "ALERT_SEVERITIES", "metric_help", "served_names"]

log = logging.getLogger("driftwatch.exporter")

PREFIX = "driftwatch_"
ALERT_STATES = ("pending", "firing", "resolved")
ALERT_SEVERITIES = ("info", "warning", "critical")
# The label naming what a per-feature metric's ``feature`` column holds.
_FEATURE_LABEL = {"class_share": "class", CONFUSION_CELL_METRIC: "cell"}
_GROUP_OF = {metric: group.replace("_", " ") for group, names in METRIC_GROUPS.items() for metric in names}


# The families served besides one gauge per stored metric: gauges, then counters (Prometheus
# exposes a counter as <name>_total). tests/monitor/exporter checks a real scrape against these.
OWN_GAUGES = ("store_up", "window_end_timestamp_seconds", "features_dropped", "alerts", "notifications",
              "ingest_paused", "kafka_up", "kafka_consumer_lag")
OWN_COUNTERS = ("store_outages", "predictions_stored", "labels_stored", "dead_letters", "ingest_messages",
                "ingest_dead_letters", "ingest_store_outages")


def served_names() -> frozenset[str]:
    """Every metric name the exporter can serve, as PromQL sees it (what a dashboard may query).

    >>> names = served_names()
    >>> "driftwatch_error_rate" in names, "driftwatch_compare_error_rate_diff" in names
    (True, True)
    >>> "driftwatch_dead_letters_total" in names, "driftwatch_dead_letters" in names
    (True, False)
    """
    vitals = {f"{PREFIX}{metric}" for metric in ALL_METRICS | COMPARE_METRICS}
    return frozenset(vitals | {f"{PREFIX}{name}" for name in OWN_GAUGES}
                     | {f"{PREFIX}{name}_total" for name in OWN_COUNTERS})


def metric_help(metric: str) -> str:
    """HELP text of the gauge for stored metric ``metric``.

    >>> metric_help("class_share")
    "driftwatch's class_share (output) of each model version's newest complete window (label class: the class)"
    >>> metric_help("estimated_confusion_cell").endswith("(label cell: true=<class>,pred=<class>)")
    True
    """
    suffix = {"class_share": " (label class: the class)",
              CONFUSION_CELL_METRIC: " (label cell: true=<class>,pred=<class>)"}.get(metric, "")
    if metric.startswith("compare_"):
        return (f"driftwatch's {metric}: model_version (a challenger) against the champion named in label compare, "
                "in each model's newest complete window")
    return f"driftwatch's {metric} ({_GROUP_OF.get(metric, 'vital')}) of each model version's newest complete window" \
        + suffix


class StoreCollector(Collector):
    """Reads the store on scrape (cached ``cache_ttl`` seconds); thread-safe."""

    def __init__(self, engine: Engine, *, max_features: int = 200, cache_ttl: float = 5.0,
                 lag: Callable[[], LagReading] | None = None, clock: Callable[[], float] = time.monotonic,
                 ingest: Callable[[], Mapping[str, float] | None] | None = None) -> None:
        self.engine = engine
        self.ingest = ingest
        self.max_features = max_features
        self.cache_ttl = cache_ttl
        self.lag = lag
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, Snapshot | None] | None = None
        self._outages = 0
        self._counter = IngestCounter()

    def describe(self) -> list[Metric]:
        return []  # the series depend on the store: nothing to check at registration

    def snapshot(self) -> Snapshot | None:
        """The store's snapshot, at most ``cache_ttl`` old; None while the store cannot be read."""
        with self._lock:
            now = self.clock()
            if self._cached is not None and now - self._cached[0] < self.cache_ttl:
                return self._cached[1]
            was_up = self._cached is None or self._cached[1] is not None
            try:
                with self.engine.connect() as connection:
                    snapshot: Snapshot | None = read_snapshot(connection, max_features=self.max_features,
                                                                 counter=self._counter)
            except SQLAlchemyError as exc:
                if was_up:
                    self._outages += 1
                    log.warning("exporter cannot read the store", extra=fields(error=str(exc).splitlines()[0]))
                snapshot = None
            self._cached = (now, snapshot)
            return snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot()
        up = GaugeMetricFamily(f"{PREFIX}store_up", "1 if this exporter's last read of the store worked, else 0")
        up.add_metric([], 0.0 if snapshot is None else 1.0)
        yield up
        outages = CounterMetricFamily(f"{PREFIX}store_outages",
                                      "times this exporter found the store unreadable after it had been readable")
        outages.add_metric([], float(self._outages))
        yield outages
        if snapshot is not None:
            yield from _vitals(snapshot)
            yield from _operations(snapshot)
        if self.lag is not None:
            yield from _lag(self.lag())
        counts = self.ingest() if self.ingest is not None else None
        if counts is not None:
            yield from _ingest(counts)


def _vitals(snapshot: Snapshot) -> Iterator[Metric]:
    families: dict[str, GaugeMetricFamily] = {}
    end = GaugeMetricFamily(f"{PREFIX}window_end_timestamp_seconds",
                            "end (Unix time) of each model version's newest complete window, the one the "
                            "driftwatch_* vitals describe", labels=["model", "model_version"])
    # A metric with segment rows has a `segment` label on all its series ("" for the whole
    # model: in Prometheus an empty label is no label, so the whole model's series keep their identity).
    segmented = {vital.metric for window in snapshot.windows for vital in window.vitals if vital.segment is not None}
    for window in snapshot.windows:
        end.add_metric([window.model, window.model_version], window.window_end.timestamp())
        for vital in window.vitals:
            family = families.get(vital.metric)
            if family is None:
                extra = [] if vital.feature is None else [_FEATURE_LABEL.get(vital.metric, "feature")]
                extra += ["segment"] if vital.metric in segmented else []
                # Comparison metrics always carry compare (one champion per model: one value per challenger).
                extra = ["compare", *extra] if vital.compare else extra
                family = families[vital.metric] = GaugeMetricFamily(
                    f"{PREFIX}{vital.metric}", metric_help(vital.metric), labels=["model", "model_version", *extra])
            values = [window.model, window.model_version] + ([vital.compare] if vital.compare else []) \
                + ([] if vital.feature is None else [vital.feature])
            values += [vital.segment or ""] if vital.metric in segmented else []
            family.add_metric(values, vital.value)
    yield end
    yield from (families[name] for name in sorted(families))
    dropped = GaugeMetricFamily(f"{PREFIX}features_dropped",
                                "feature (or class) series left out of a metric by prometheus.max_features "
                                "(breaching ones are kept first)", labels=["model", "model_version", "metric"])
    for (model, version, metric), count in sorted(snapshot.features_dropped.items()):
        dropped.add_metric([model, version, metric], float(count))
    yield dropped


def _operations(snapshot: Snapshot) -> Iterator[Metric]:
    alerts = GaugeMetricFamily(f"{PREFIX}alerts", "alerts in the store by state and severity",
                               labels=["state", "severity"])
    for state in ALERT_STATES:
        for severity in ALERT_SEVERITIES:
            alerts.add_metric([state, severity], float(snapshot.alerts.get((state, severity), 0)))
    yield alerts
    outbox = GaugeMetricFamily(f"{PREFIX}notifications",
                               "outbox notifications still pending or finally failed, by channel and status",
                               labels=["channel", "status"])
    for (channel, status), count in sorted(snapshot.notifications.items()):
        outbox.add_metric([channel, status], float(count))
    yield outbox
    for name, help_text, label, counts in (
        ("predictions_stored", "predictions stored by ingestion (each message once)", "model", snapshot.predictions),
        ("labels_stored", "labels stored by ingestion", "model", snapshot.labels),
        ("dead_letters", "malformed or rejected messages stored as dead letters", "topic", snapshot.dead_letters),
    ):
        family = CounterMetricFamily(f"{PREFIX}{name}", f"{help_text} (counted in the store)", labels=[label])
        for key, count in sorted(counts.items()):
            family.add_metric([key], float(count))
        yield family


def _ingest(counts: Mapping[str, float]) -> Iterator[Metric]:
    """This process's ingestion counters (they need no store: they are served through an outage)."""
    for name, help_text in (
        ("messages", "messages consumed by this process's ingestion (stored, duplicate or dead-lettered)"),
        ("dead_letters", "dead letters stored by this process's ingestion"),
        ("store_outages", "store outages this process's ingestion paused for (each counted once)"),
    ):
        family = CounterMetricFamily(f"{PREFIX}ingest_{name}", help_text)
        family.add_metric([], float(counts.get(name, 0.0)))
        yield family
    paused = GaugeMetricFamily(f"{PREFIX}ingest_paused",
                               "ingestion paused for a store outage right now (workers paused, with ingest.workers)")
    paused.add_metric([], float(counts.get("paused", 0.0)))
    yield paused


def _lag(reading: LagReading) -> Iterator[Metric]:
    up = GaugeMetricFamily(f"{PREFIX}kafka_up", "1 if the exporter's last read of consumer lag from Kafka worked")
    up.add_metric([], 1.0 if reading.up else 0.0)
    yield up
    lag = GaugeMetricFamily(f"{PREFIX}kafka_consumer_lag",
                            "messages the driftwatch consumer group has not committed yet, per partition",
                            labels=["topic", "partition"])
    for (topic, partition), value in sorted(reading.lag.items()):
        lag.add_metric([topic, str(partition)], float(value))
    yield lag
