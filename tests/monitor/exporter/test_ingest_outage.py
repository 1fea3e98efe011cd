"""Ingestion's own counters on /metrics, through a real PostgreSQL outage.

``driftwatch ingest --metrics-port`` serves this process's ingestion counters beside the
store's: the store outage the ingestion paused for is counted (and ``ingest_paused`` is 1)
while the store is down, when nothing can be read from it."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from local_kafka import free_port

from monitor.store.engine import create_store_engine
from monitor.store.schema import upgrade_schema
from monitor.store.tables import dead_letters, predictions
from tests.monitor.exporter.support import Samples, key, parse
from tests.support.traffic import (
    IngestProcess,
    create_topics,
    prediction_message,
    producer,
    send_json,
    wait_for_count,
    write_config,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

OUTAGES = "driftwatch_ingest_store_outages_total"
MESSAGES = "driftwatch_ingest_messages_total"
DEAD_LETTERS = "driftwatch_ingest_dead_letters_total"
PAUSED = "driftwatch_ingest_paused"


def _metrics(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return parse(response.read().decode())


def _until(port: int, holds: Callable[[Samples], bool], what: str, log: Path, timeout: float = 90) -> Samples:
    deadline = time.monotonic() + timeout
    samples: Samples = {}
    while time.monotonic() < deadline:
        try:
            samples = _metrics(port)
        except OSError:
            samples = {}
        if holds(samples):
            return samples
        time.sleep(0.5)
    raise AssertionError(f"/metrics never showed {what}: {samples}\n{log.read_text()[-3000:]}")


def _send(bootstrap: str, topic: str, first: int, count: int, *, junk: int = 0) -> None:
    prod = producer(bootstrap)
    send_json(prod, topic, (prediction_message(i) for i in range(first, first + count)))
    for _ in range(junk):
        prod.send(topic, b"not json")
    prod.flush()
    prod.close()


def test_a_store_outage_is_counted_on_metrics_while_the_store_is_down(kafka_broker, postgres_server, topic_names,
                                                                     tmp_path):
    url = postgres_server.create_database(f"exp_outage_{topic_names['group'][-8:]}")
    engine = create_store_engine(url)
    upgrade_schema(engine)
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"], topic_names["labels"]])
    config = write_config(tmp_path / "driftwatch.yaml", store=url, bootstrap=kafka_broker.bootstrap,
                          topics=topic_names, batch_size=100)
    port = free_port()
    log = tmp_path / "ingest.log"
    ingest = IngestProcess(config, log)
    ingest.start("--metrics-port", str(port))
    try:
        _send(kafka_broker.bootstrap, topic_names["predictions"], 0, 100, junk=3)
        assert wait_for_count(engine, predictions, 100, timeout=90) == 100
        before = _until(port, lambda s: s.get(key(MESSAGES)) == 103, "103 messages", log)
        assert before[key(OUTAGES)] == 0 and before[key(PAUSED)] == 0 and before[key(DEAD_LETTERS)] == 3
        assert wait_for_count(engine, dead_letters, 3, timeout=30) == 3

        postgres_server.stop("fast")
        _send(kafka_broker.bootstrap, topic_names["predictions"], 100, 100)
        # Served from the process itself: the store is down, its own reads are not.
        during = _until(port, lambda s: s.get(key(OUTAGES)) == 1 and s.get(key(PAUSED)) == 1
                        and s.get(key("driftwatch_store_up")) == 0, "one outage, paused, the store down", log)
        assert during[key(MESSAGES)] >= 103
        postgres_server.start()
        assert wait_for_count(engine, predictions, 200, timeout=120) == 200
        after = _until(port, lambda s: s.get(key(PAUSED)) == 0 and s.get(key(MESSAGES)) == 203
                       and s.get(key("driftwatch_store_up")) == 1, "resumed, 203 messages, the store up", log)
        assert after[key(OUTAGES)] == 1 and after[key(DEAD_LETTERS)] == 3
    finally:
        if not postgres_server.is_running():
            postgres_server.start()
        engine.dispose()
    assert ingest.terminate() == 0
    text = log.read_text()
    assert "store unavailable, ingestion paused" in text and "store available again, ingestion resumed" in text
