"""Consumer-group rebalances on the real broker: a second ingest process joining the
group must neither wedge the first nor lose or duplicate a prediction."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml

from monitor.config import load_config
from monitor.ingest.consumer import IngestService, build_consumer
from monitor.store.tables import predictions
from tests.support.traffic import (
    count_rows,
    create_topics,
    prediction_message,
    producer,
    send_json,
    stored_prediction_ids,
    write_config,
)

pytestmark = pytest.mark.kafka


def _member_config(base: Path, name: str, **kwargs) -> Path:
    """The shared test config, but with this member's own static instance id."""
    path = write_config(base / f"{name}.yaml", **kwargs)
    raw = yaml.safe_load(path.read_text())
    raw["kafka"]["group_instance_id"] = name
    path.write_text(yaml.safe_dump(raw))
    return path


def _poll_until(consumer, done, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        consumer.poll(timeout_ms=200)
    assert done(), f"{what} ({consumer.assignment()})"


def test_commit_during_a_rebalance_returns_instead_of_spinning(kafka_broker, engine, store_url, topic_names,
                                                                tmp_path):
    """Regression: a commit refused with RebalanceInProgressError was retried forever
    without polling, and only a poll can finish the rebalance — ingestion stalled.

    The rebalance is held open for real: member b is in the group but stops polling, so
    when member c joins, the broker keeps a's JoinGroup waiting for b (until b's
    rebalance timeout, minutes away). a has records in hand and is mid-rebalance, as
    when a batch is written while a member joins; no timing luck is needed."""
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"], topic_names["labels"]], partitions=2)
    prod = producer(kafka_broker.bootstrap)
    send_json(prod, topic_names["predictions"], (prediction_message(i) for i in range(50)))
    prod.flush()
    common = {"store": store_url, "bootstrap": kafka_broker.bootstrap, "topics": topic_names}
    configs = {name: load_config(_member_config(tmp_path, name, **common)) for name in ("ingest-a", "ingest-b",
                                                                                         "ingest-c")}
    first, second, third = (build_consumer(config) for config in configs.values())
    joined = threading.Event()
    records: list = []
    member_c = None
    try:
        def received() -> bool:
            records.extend(r for batch in first.poll(timeout_ms=1000).values() for r in batch)
            return bool(records)

        deadline = time.monotonic() + 60
        while not received() and time.monotonic() < deadline:
            pass
        assert records, "the first member never received its messages"

        # b joins while a keeps polling, until both hold a partition; then b goes quiet.
        def poll_second() -> None:
            while not joined.is_set() and not second.assignment():
                second.poll(timeout_ms=200)

        member_b = threading.Thread(target=poll_second, daemon=True)
        member_b.start()
        _poll_until(first, lambda: not member_b.is_alive() and len(first.assignment()) == 2,
                    "members a and b never shared the four partitions")

        # c joins; a rejoins at its next poll and waits there for b, which never comes.
        def poll_third() -> None:
            while not joined.is_set():
                third.poll(timeout_ms=200)

        member_c = threading.Thread(target=poll_third, daemon=True)
        member_c.start()
        _poll_until(first, first._coordinator.rebalance_in_progress, "the broker never started a rebalance")

        service = IngestService(config=configs["ingest-a"], engine=engine)
        committer = threading.Thread(target=service._commit, args=(first, records, threading.Event()),
                                     daemon=True)
        committer.start()
        committer.join(timeout=60)
        assert not committer.is_alive(), "the commit spun on RebalanceInProgressError instead of returning"
        assert service.stats.commit_failures == 1
    finally:
        joined.set()
        if member_c is not None:
            # c's poll returns once the rebalance it waits in ends, and that needs b and a.
            first.close(autocommit=False)
            second.close(autocommit=False)
            member_c.join(timeout=60)
            third.close(autocommit=False)
        for consumer in (first, second, third):
            consumer.close(autocommit=False)


def test_a_member_joining_mid_stream_loses_and_duplicates_nothing(kafka_broker, engine, store_url, topic_names,
                                                                    tmp_path):
    total = 6000
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"], topic_names["labels"]], partitions=4)
    common = {"store": store_url, "bootstrap": kafka_broker.bootstrap, "topics": topic_names, "batch_size": 300}
    services = [IngestService(config=load_config(_member_config(tmp_path, name, **common)), engine=engine)
                for name in ("ingest-a", "ingest-b")]
    stop = threading.Event()
    threads = [threading.Thread(target=service.run, args=(stop,), daemon=True) for service in services]
    prod = producer(kafka_broker.bootstrap)
    try:
        threads[0].start()
        send_json(prod, topic_names["predictions"], (prediction_message(i) for i in range(total // 2)))
        prod.flush()
        deadline = time.monotonic() + 60
        while services[0].stats.predictions == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        threads[1].start()  # joins while the first member is busy: a rebalance mid-stream
        send_json(prod, topic_names["predictions"], (prediction_message(i) for i in range(total // 2, total)))
        prod.flush()
        deadline = time.monotonic() + 120
        while count_rows(engine, predictions) < total and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        prod.close()

    ids = stored_prediction_ids(engine)
    assert len(ids) == total, f"{len(ids)} of {total} predictions stored"
    assert sorted(ids) == sorted(f"fraud-{i}" for i in range(total))
    assert all(not thread.is_alive() for thread in threads), "an ingest member did not stop on request"
