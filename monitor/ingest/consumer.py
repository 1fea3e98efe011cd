"""The ingestion loop: Kafka → decode → one durable batch → commit offsets.

Exactly-once storage comes from two rules together: offsets are committed to
Kafka only after the batch's transaction has committed, and every write is
idempotent (see :mod:`monitor.store.ingest_writer`). A crash at any instant
therefore replays at most the uncommitted batch, and the replay changes nothing.

Outages pause work instead of losing it: while the store is down the consumer
pauses its partitions (staying in the group) and retries the same batch with
backoff; while the broker is down kafka-python reconnects and commits are
retried. A SIGTERM/SIGINT finishes the batch in hand, commits, and returns.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from kafka.structs import OffsetAndMetadata
from sqlalchemy import Engine

from monitor.config.models import DriftwatchConfig
from monitor.errors import BrokerUnavailableError, StoreError, StoreUnavailableError
from monitor.event_time import EventTimeRange
from monitor.ingest.counters import INGEST_COUNTERS
from monitor.ingest.decode import MessageDecoder
from monitor.ingest.records import DeadLetterRecord, Decoded, LabelRecord, Origin, PredictionRecord
from monitor.logs import fields
from monitor.store.ingest_writer import IngestWriter, PreparedBatch, WriteResult

__all__ = ["IngestService", "IngestStats", "build_consumer", "topic_pattern"]

log = logging.getLogger("driftwatch.ingest")

# Commit errors that mean "this member's group generation is out of date".
_MEMBERSHIP_ERRORS = (CommitFailedError, RebalanceInProgressError, IllegalGenerationError, UnknownMemberIdError)


_Decoded = tuple[list[PredictionRecord], list[LabelRecord], list[DeadLetterRecord]]


@dataclass(frozen=True, slots=True)
class _Batch:
    """Polled records, decoded, with their write under way."""

    records: list[Any]
    decoded: _Decoded
    written: Future[WriteResult]


@dataclass
class IngestStats:
    batches: int = 0
    messages: int = 0
    predictions: int = 0
    duplicates: int = 0
    labels: int = 0
    dead_letters: int = 0
    store_outages: int = 0
    paused: int = 0  # 1 while paused for a store outage (workers: how many are)
    commit_failures: int = 0
    started: float = field(default_factory=time.monotonic)

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.messages / elapsed if elapsed > 0 else 0.0


# How often the topic list is re-read: how soon a topic created after start-up is consumed.
_METADATA_MAX_AGE_MS = 5_000


def topic_pattern(topics: Sequence[str]) -> str:
    """A regular expression that matches exactly ``topics``.

    >>> topic_pattern(["predictions", "labels_v1"])
    '^(?:predictions|labels_v1)$'
    """
    return "^(?:" + "|".join(re.escape(topic) for topic in topics) + ")$"


def build_consumer(config: DriftwatchConfig) -> KafkaConsumer:
    """A consumer in the configured group, with auto-commit off."""
    kafka = config.kafka
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=kafka.bootstrap_servers.split(","),
            group_id=kafka.group_id,
            client_id=kafka.client_id,
            group_instance_id=kafka.group_instance_id,
            enable_auto_commit=False,
            auto_offset_reset=kafka.auto_offset_reset,
            max_poll_records=config.ingest.batch_size,
            # Oversized messages must still reach us, to be dead-lettered with a reason. 4 MiB
            # (kafka-python's default is 1 MiB) fetches a whole batch of usual messages from a
            # partition in one round trip: about a tenth more messages a second (benchmarks/ingest.py).
            max_partition_fetch_bytes=max(4_194_304, 2 * config.ingest.max_message_bytes),
            fetch_max_bytes=max(52_428_800, 4 * config.ingest.max_message_bytes),
            request_timeout_ms=30_000,
            session_timeout_ms=int(kafka.session_timeout.total_seconds() * 1000),
            heartbeat_interval_ms=max(1000, int(kafka.session_timeout.total_seconds() * 1000) // 3),
            reconnect_backoff_max_ms=2_000,
            metadata_max_age_ms=_METADATA_MAX_AGE_MS,
        )
        # Subscribe by pattern: a topic that does not exist yet (labels often come later) is
        # picked up when it appears — kafka-python re-reads the topic list every
        # metadata_max_age_ms — instead of holding up the topics that already exist.
        # The coordinator refreshes metadata before joining, so the leader assigns every
        # existing partition. A pattern subscription never auto-creates a topic.
        topics = [kafka.predictions_topic, kafka.labels_topic]
        missing = sorted(set(topics) - consumer.topics())
        if missing:
            log.warning("a topic does not exist yet; ingesting the others now, it is picked up once created",
                        extra=fields(missing=",".join(missing)))
        consumer.subscribe(pattern=topic_pattern(topics))
        return consumer
    except KafkaError as exc:
        raise BrokerUnavailableError(
            f"cannot reach Kafka at {kafka.bootstrap_servers} ({exc}); start the broker or fix "
            "kafka.bootstrap_servers (env DRIFTWATCH_KAFKA__BOOTSTRAP_SERVERS)"
        ) from exc


def _freeze_heap() -> None:
    """Keep the garbage collector from re-scanning everything loaded so far, batch after batch.

    Decoding allocates several container objects per message (records, feature
    dicts, row tuples), so the collector runs often, and each older-generation pass
    walks every object alive, most of them the libraries imported at start. Those
    never become garbage: moving them to the permanent generation (``gc.freeze``)
    took about a fifth off ingestion's time per message (benchmarks/ingest.py).
    Cycles among objects created later are still collected.
    """
    gc.collect()
    gc.freeze()


class IngestService:
    """Consumes both topics into the store until ``stop`` is set."""

    def __init__(
        self,
        *,
        config: DriftwatchConfig,
        engine: Engine,
        consumer_factory: Callable[[DriftwatchConfig], KafkaConsumer] = build_consumer,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.writer = IngestWriter(engine)
        self.decoder = MessageDecoder(
            predictions_topic=config.kafka.predictions_topic,
            labels_topic=config.kafka.labels_topic,
            max_bytes=config.ingest.max_message_bytes,
            known_models=config.models.keys() if (config.models and config.ingest.reject_unknown_models) else None,
            event_range=EventTimeRange(config.ingest.max_event_age, config.ingest.max_event_lead),
            clock=clock,
        )
        self.consumer_factory = consumer_factory
        self.clock = clock
        self.stats = IngestStats()
        self._publish: Callable[[IngestStats], None] | None = None

    def run(self, stop: threading.Event, *, until_idle: float | None = None,
            publish: Callable[[IngestStats], None] | None = None) -> IngestStats:
        """Consume until ``stop`` is set (or, with ``until_idle``, after that many idle seconds).

        The counts are readable by this process's exporter while it runs
        (:mod:`monitor.ingest.counters`); ``publish`` (a worker process's) also gets them
        after every batch and every pause or resume."""
        self._publish = publish
        token = INGEST_COUNTERS.register(self._reading) if publish is None else None
        try:
            return self._run(stop, until_idle=until_idle)
        finally:
            if token is not None:
                INGEST_COUNTERS.retire(token)

    def _reading(self) -> dict[str, float]:
        stats = self.stats
        return {"messages": stats.messages, "dead_letters": stats.dead_letters,
                "store_outages": stats.store_outages, "paused": stats.paused}

    def _published(self) -> None:
        if self._publish is not None:
            self._publish(self.stats)

    def _run(self, stop: threading.Event, *, until_idle: float | None) -> IngestStats:
        consumer = self.consumer_factory(self.config)
        _freeze_heap()
        log.info("ingestion started", extra=fields(
            bootstrap=self.config.kafka.bootstrap_servers, group=self.config.kafka.group_id,
            topics=f"{self.config.kafka.predictions_topic},{self.config.kafka.labels_topic}",
            batch_size=self.config.ingest.batch_size))
        idle_since = time.monotonic()
        # One batch is written (on the writer thread) while the next is fetched, decoded
        # and prepared (its rows and columnar copies built) on this one: the store's time
        # overlaps Kafka's and ours. The writer thread runs little Python, so the two
        # threads seldom wait for each other's GIL. A batch's offsets are still committed
        # only after its own transaction, and batches are written one at a time, in order;
        # the next write starts before those offsets are committed, so the store never
        # waits for Kafka's commit round trip (PostgreSQL: 0.49x -> 0.63x of the bare loop).
        in_flight: _Batch | None = None
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-writer") as writer:
                while not stop.is_set():
                    records = self._collect(consumer, stop)
                    if records:
                        idle_since = time.monotonic()
                        decoded = self._decode(records)
                        prepared = self._prepare(decoded)
                    stored, in_flight = in_flight, None
                    if stored is not None and not self._store(consumer, stored, stop):
                        break  # stopped during a store outage: nothing committed, all replays later
                    if records:
                        in_flight = _Batch(records, decoded, writer.submit(self._write, prepared, decoded))
                    if stored is not None:
                        self._commit(consumer, stored.records, stop)
                    elif not records and until_idle is not None and time.monotonic() - idle_since >= until_idle:
                        break
                if in_flight is not None and self._store(consumer, in_flight, stop):
                    self._commit(consumer, in_flight.records, stop)
        finally:
            consumer.close(autocommit=False)
            log.info("ingestion stopped", extra=fields(**self._summary()))
        return self.stats

    # -- steps -------------------------------------------------------------------------

    def _collect(self, consumer: KafkaConsumer, stop: threading.Event) -> list[Any]:
        batch_size = self.config.ingest.batch_size
        deadline = time.monotonic() + self.config.ingest.batch_max_wait.total_seconds()
        records: list[Any] = []
        while len(records) < batch_size and not stop.is_set():
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                break
            polled = consumer.poll(timeout_ms=min(remaining_ms, 500), max_records=batch_size - len(records))
            for partition_records in polled.values():
                records.extend(partition_records)
        return records

    def _decode(self, records: Sequence[Any]) -> _Decoded:
        predictions: list[PredictionRecord] = []
        labels: list[LabelRecord] = []
        letters: list[DeadLetterRecord] = []
        decode = self.decoder.decode
        now = self.clock()  # one reading for the batch (fetched together; the range is minutes to days wide)
        for record in records:
            item: Decoded = decode(record.value, Origin(record.topic, record.partition, record.offset),
                                   record.timestamp, now=now)
            if type(item) is PredictionRecord:
                predictions.append(item)
            elif type(item) is LabelRecord:
                labels.append(item)
            else:
                letters.append(item)  # type: ignore[arg-type]
        return predictions, labels, letters

    def _store(self, consumer: KafkaConsumer, batch: _Batch, stop: threading.Event) -> bool:
        """Wait for ``batch``'s write; through a store outage, pause and retry it until it lands."""
        write: Callable[[], WriteResult] = batch.written.result
        outage_started: float | None = None
        delay = 0.5
        while True:
            try:
                result = write()
                break
            except StoreUnavailableError as exc:
                if outage_started is None:
                    outage_started = time.monotonic()
                    self.stats.store_outages += 1
                    self.stats.paused = 1
                    self._published()
                    log.warning("store unavailable, ingestion paused", extra=fields(error=str(exc)))
                    consumer.pause(*consumer.assignment())
                if stop.is_set():
                    log.warning("stopping during a store outage; the uncommitted batch will be re-read on restart",
                                extra=fields(messages=len(batch.records)))
                    return False
                # Polling a paused consumer returns nothing but keeps the group membership alive.
                consumer.poll(timeout_ms=int(delay * 1000))
                delay = min(delay * 2, 5.0)
                write = partial(self._write, self._prepare(batch.decoded), batch.decoded)  # stamped anew
        if outage_started is not None:
            self.stats.paused = 0
            consumer.resume(*consumer.paused())
            log.warning("store available again, ingestion resumed",
                        extra=fields(outage_s=round(time.monotonic() - outage_started, 1)))
        self._account(len(batch.records), result)
        return True

    def _prepare(self, decoded: _Decoded) -> PreparedBatch:
        return self.writer.prepare(*decoded, ingested_at=self.clock())

    def _write(self, batch: PreparedBatch, decoded: _Decoded) -> WriteResult:
        try:
            return self.writer.write_prepared(batch)
        except StoreUnavailableError:
            raise
        except StoreError as exc:
            # A row the store refuses must not block the stream: write one by one and
            # dead-letter exactly the rows that fail, with the store's reason.
            log.error("store rejected a batch; retrying row by row", extra=fields(error=str(exc)))
            return self._write_row_by_row(*decoded, batch.ingested_at)

    def _write_row_by_row(self, predictions: list[PredictionRecord], labels: list[LabelRecord],
                          letters: list[DeadLetterRecord], at: datetime) -> WriteResult:
        totals = [0, 0, 0, 0]
        rejected: list[DeadLetterRecord] = []
        singles: list[tuple[list[PredictionRecord], list[LabelRecord], list[DeadLetterRecord]]] = (
            [([p], [], []) for p in predictions]
            + [([], [lab], []) for lab in labels]
            + [([], [], [d]) for d in letters]
        )
        for batch in singles:
            try:
                part = self.writer.write(*batch, ingested_at=at)
            except StoreUnavailableError:
                raise
            except StoreError as exc:
                record = (batch[0] or batch[1] or batch[2])[0]
                rejected.append(DeadLetterRecord(origin=record.origin, raw=repr(record).encode()[:65536],
                                                 raw_size=0, reason=f"the store rejected this record: {exc}",
                                                 model=getattr(record, "model", None)))
                continue
            for index, value in enumerate((part.predictions_stored, part.predictions_duplicate,
                                           part.labels_stored, part.dead_letters_stored)):
                totals[index] += value
        if rejected:
            totals[3] += self.writer.write([], [], rejected, ingested_at=at).dead_letters_stored
        return WriteResult(*totals)

    def _commit(self, consumer: KafkaConsumer, records: Sequence[Any], stop: threading.Event) -> None:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            current = offsets.get(partition)
            if current is None or record.offset + 1 > current.offset:
                offsets[partition] = OffsetAndMetadata(record.offset + 1, "", -1)
        delay = 0.5
        while True:
            try:
                consumer.commit(offsets=offsets, timeout_ms=10_000)
                return
            except _MEMBERSHIP_ERRORS as exc:
                # The group is rebalancing (or already has): only the next poll() can
                # complete the rebalance, so retrying the commit here would spin forever.
                # The batch is durable; whoever owns these partitions next re-reads it,
                # and the idempotent writes make that replay harmless.
                self.stats.commit_failures += 1
                log.warning("offset commit rejected during a rebalance; the batch will be replayed harmlessly",
                            extra=fields(error=type(exc).__name__))
                return
            except KafkaError as exc:
                self.stats.commit_failures += 1
                log.warning("offset commit failed, retrying", extra=fields(error=repr(exc)))
                if stop.is_set() and self.stats.commit_failures > 20:
                    return
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _account(self, messages: int, result: WriteResult) -> None:
        stats = self.stats
        stats.batches += 1
        stats.messages += messages
        stats.predictions += result.predictions_stored
        stats.duplicates += result.predictions_duplicate
        stats.labels += result.labels_stored
        stats.dead_letters += result.dead_letters_stored
        log.info("batch stored", extra=fields(
            messages=messages, predictions=result.predictions_stored, duplicates=result.predictions_duplicate,
            labels=result.labels_stored, dead_letters=result.dead_letters_stored,
            total=stats.messages, rate_per_s=round(stats.rate())))
        self._published()

    def _summary(self) -> dict[str, Any]:
        stats = self.stats
        return {"batches": stats.batches, "messages": stats.messages, "predictions": stats.predictions,
                "duplicates": stats.duplicates, "labels": stats.labels, "dead_letters": stats.dead_letters,
                "store_outages": stats.store_outages, "commit_failures": stats.commit_failures}
