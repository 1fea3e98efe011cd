"""Consumer lag per partition, asked of the broker (not of an ingest process).

Lag is the partition's end offset minus the consumer group's committed offset (the
beginning offset while the group has committed nothing there), for both topics. It is
read on a background thread every ``interval``, so a scrape never waits on Kafka; while
the broker cannot be reached, the exporter reports ``driftwatch_kafka_up 0`` and no lag
(an unknown lag is never shown as zero).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from monitor.config.models import KafkaConfig
from monitor.logs import fields

__all__ = ["LagReading", "LagMonitor", "read_lag"]

log = logging.getLogger("driftwatch.exporter")


@dataclass(frozen=True, slots=True)
class LagReading:
    up: bool
    lag: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition) → messages behind


def read_lag(kafka: KafkaConfig, admin: Any, consumer: Any) -> dict[tuple[str, int], int]:
    """The group's lag on every partition of the predictions and labels topics."""
    partitions = [TopicPartition(topic, p) for topic in (kafka.predictions_topic, kafka.labels_topic)
                  for p in sorted(consumer.partitions_for_topic(topic) or ())]
    if not partitions:
        return {}
    committed = admin.list_consumer_group_offsets(kafka.group_id)
    ends = consumer.end_offsets(partitions)
    starts = consumer.beginning_offsets(partitions)
    lag: dict[tuple[str, int], int] = {}
    for tp in partitions:
        done = committed.get(tp)
        position = done.offset if done is not None and done.offset >= 0 else starts[tp]
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
        self._clients: tuple[Any, Any] | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._close()

    def _connect(self) -> tuple[Any, Any]:
        servers = self.kafka.bootstrap_servers.split(",")
        common = {"bootstrap_servers": servers, "client_id": f"{self.kafka.client_id}-exporter",
                  "request_timeout_ms": 10_000}
        admin = KafkaAdminClient(**common)
        try:
            consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, **common)
        except KafkaError:
            admin.close()
            raise
        return admin, consumer

    def _close(self) -> None:
        if self._clients is not None:
            for client in self._clients:
                client.close()
            self._clients = None

    def refresh(self) -> LagReading:
        try:
            if self._clients is None:
                self._clients = self._connect()
            self.reading = LagReading(up=True, lag=read_lag(self.kafka, *self._clients))
        except (KafkaError, OSError) as exc:
            if self.reading.up:
                log.warning("cannot read consumer lag from Kafka", extra=fields(error=repr(exc)))
            self._close()
            self.reading = LagReading(up=False)
        return self.reading

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.interval)
