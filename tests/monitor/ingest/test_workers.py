"""``driftwatch ingest --workers N``: N consumer processes in one group, one command.

Proven on the real broker and both stores: the workers share the partitions and
store every prediction exactly once; a worker killed with SIGKILL makes the command
stop the others and exit 1; a restart finishes the stream without a duplicate; and
SIGTERM stops every worker cleanly (exit 0, no process left behind)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.ingest.workers import worker_config
from tests.monitor.ingest.test_guarantees import _assert_exactly, _tail, stream_with_duplicates
from tests.support.traffic import (
    count_rows,
    predictions,
    wait_for_count,
    write_config,
)

pytestmark = pytest.mark.kafka


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _workers_of(pid: int, expected: int, timeout: float = 60) -> list[int]:
    """The ingest worker processes of the command ``pid`` (its children that run Python's spawn)."""
    deadline = time.monotonic() + timeout
    workers: list[int] = []
    while time.monotonic() < deadline:
        workers = [child for child in _children(pid)
                   if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]
        if len(workers) == expected:
            return workers
        time.sleep(0.2)
    raise AssertionError(f"expected {expected} worker processes under {pid}, found {workers}")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
    except FileNotFoundError:
        return False


def test_each_worker_gets_its_own_client_and_static_member_id(tmp_path):
    config = load_config(write_config(tmp_path / "driftwatch.yaml", store="sqlite:///x.db", bootstrap="k:9092",
                                      topics={"predictions": "p", "labels": "l", "group": "g"}))
    static = [worker_config(config, index).kafka for index in range(2)]
    assert [k.client_id for k in static] == [f"{config.kafka.client_id}-0", f"{config.kafka.client_id}-1"]
    assert [k.group_instance_id for k in static] == ["ingest-1-0", "ingest-1-1"]
    assert {k.group_id for k in static} == {config.kafka.group_id}
    dynamic = config.model_copy(update={"kafka": config.kafka.model_copy(update={"group_instance_id": None})})
    assert [worker_config(dynamic, i).kafka.group_instance_id for i in range(2)] == [None, None]


def test_workers_share_the_stream_and_a_killed_worker_loses_nothing(kafka_broker, store_url, topic_names, tmp_path):
    total = 30_000
    engine, streamer, ingest = stream_with_duplicates(kafka_broker.bootstrap, store_url, topic_names, tmp_path,
                                                      total=total, rate=3000, duplicate_every=40, partitions=4,
                                                      batch_size=1000)
    ingest.start("--workers", "2")
    assert ingest.proc is not None
    workers = _workers_of(ingest.proc.pid, 2)

    # Mid-stream, one worker dies: the command stops the other and fails, so that a
    # supervisor restarts it.
    assert wait_for_count(engine, predictions, 2000, timeout=90) >= 2000, _tail(ingest.log)
    before_kill = count_rows(engine, predictions)
    os.kill(workers[0], signal.SIGKILL)
    assert ingest.wait(timeout=90) == 1, _tail(ingest.log)
    assert "ended unexpectedly" in ingest.log.read_text()
    assert not any(_alive(pid) for pid in workers), "a worker outlived its command"
    assert before_kill < total

    ingest.start("--workers", "2")
    streamer.join(timeout=300)
    assert streamer.error is None, streamer.error
    assert wait_for_count(engine, predictions, total, timeout=240) == total, _tail(ingest.log)
    workers = _workers_of(ingest.proc.pid, 2)
    assert ingest.terminate() == 0, _tail(ingest.log)
    assert not any(_alive(pid) for pid in workers), "a worker outlived its command after SIGTERM"
    _assert_exactly(engine, total)
    # Both workers took part: each logged batches of its own.
    log = ingest.log.read_text()
    assert "pids=" in log and log.count("batch stored") > 2
