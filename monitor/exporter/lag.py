"""Consumer lag per partition, asked of the broker (not of an ingest process).

Lag is the partition's end offset minus the consumer group's committed offset (the
beginning offset while the group has committed nothing there), for both topics. It is
read on a background thread every ``interval`` (backing off while it fails), so a scrape
never waits on Kafka; while the broker cannot be reached, the exporter reports
``driftwatch_kafka_up 0`` and no lag (an unknown lag is never shown as zero).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from monitor.config.models import KafkaConfig
from monitor.logs import fields

__all__ = ["LagReading", "LagMonitor", "read_lag"]

log = logging.getLogger("driftwatch.exporter")


@dataclass(frozen=True, slots=True)
class LagReading:
    up: bool
    lag: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition) → messages behind


def read_lag(kafka: KafkaConfig, consumer: Any) -> dict[tuple[str, int], int]:
    """The group's lag on every partition of the predictions and labels topics.

    ``consumer`` is in the group (its ``group_id``) but never subscribes: it only asks the
    group coordinator for committed offsets, so the group's members are not disturbed."""
    partitions = [TopicPartition(topic, p) for topic in (kafka.predictions_topic, kafka.labels_topic)
                  for p in sorted(consumer.partitions_for_topic(topic) or ())]
    if not partitions:
        return {}
    ends = consumer.end_offsets(partitions)
    starts = consumer.beginning_offsets(partitions)
    lag: dict[tuple[str, int], int] = {}
    for tp in partitions:
        done = consumer.committed(tp)
        position = done if done is not None and done >= 0 else starts[tp]
        lag[(tp.topic, tp.partition)] = max(0, ends[tp] - position)
    return lag


class LagMonitor:
    """Refreshes :class:`LagReading` every ``interval`` seconds until stopped."""

    def __init__(self, kafka: KafkaConfig, interval: float) -> None:
        self.kafka = kafka
        self.interval = interval
        self.reading = LagReading(up=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="driftwatch-exporter-lag", daemon=True)
        self._consumer: Any | None = None
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop asking; a read under way (at most a few seconds) finishes on its daemon thread and closes."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1)
        else:
            self._close()

    def _connect(self) -> Any:
        return KafkaConsumer(bootstrap_servers=self.kafka.bootstrap_servers.split(","), group_id=self.kafka.group_id,
                             client_id=f"{self.kafka.client_id}-exporter", enable_auto_commit=False,
                             request_timeout_ms=10_000, bootstrap_timeout_ms=5_000)

    def _close(self) -> None:
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
            self._consumer = None

    def refresh(self) -> LagReading:
        try:
            if self._consumer is None:
                self._consumer = self._connect()
            self.reading = LagReading(up=True, lag=read_lag(self.kafka, self._consumer))
            self.failures = 0
        except (KafkaError, OSError) as exc:
            if self.failures == 0:
                log.warning("cannot read consumer lag from Kafka; retrying with backoff (set "
                            "prometheus.consumer_lag: false to stop asking)", extra=fields(error=repr(exc)))
            self.failures += 1
            self._close()
            self.reading = LagReading(up=False)
        return self.reading

    def delay(self) -> float:
        """Seconds to the next read: ``interval``, doubled per failure in a row up to 5 minutes.

        >>> monitor = LagMonitor(KafkaConfig(), interval=5)
        >>> [(setattr(monitor, "failures", n), monitor.delay())[1] for n in (0, 1, 3, 10)]
        [5.0, 10.0, 40.0, 300.0]
        """
        return float(min(self.interval * 2.0 ** self.failures, max(self.interval, 300.0)))

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self.refresh()
                self._stop.wait(self.delay())
        finally:
            self._close()
