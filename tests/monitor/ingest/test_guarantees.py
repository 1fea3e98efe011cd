"""The exactly-once guarantee under real failures: SIGKILL of the ingest process,
a PostgreSQL outage and a broker restart, each while messages stream in."""

from __future__ import annotations

import collections
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
from local_kafka import LocalKafka
from sqlalchemy import Engine

from monitor.store.engine import create_store_engine
from monitor.store.schema import upgrade_schema
from tests.support.traffic import (
    IngestProcess,
    count_rows,
    create_topics,
    predictions,
    producer,
    send_json,
    stored_prediction_ids,
    wait_for_count,
    write_config,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _lean_message(index: int) -> dict[str, object]:
    return {
        "prediction_id": f"fraud-{index}",
        "model": "fraud",
        "model_version": "v1",
        "timestamp": 1_790_000_000_000 + index * 100,
        "features": {"amount": index % 997, "country": ("DE", "FR", "US")[index % 3]},
        "prediction": index % 2,
        "score": (index % 100) / 100,
    }


class Streamer(threading.Thread):
    """Produces ``total`` predictions at about ``rate`` per second, some of them twice."""

    def __init__(self, bootstrap: str, topic: str, total: int, rate: float, duplicate_every: int = 0) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.total, self.rate = bootstrap, topic, total, rate
        self.duplicate_every = duplicate_every
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            prod = producer(self.bootstrap)
            started = time.monotonic()
            chunk = 1000
            for start in range(0, self.total, chunk):
                indices = range(start, min(start + chunk, self.total))
                send_json(prod, self.topic, (_lean_message(i) for i in indices))
                if self.duplicate_every:
                    send_json(prod, self.topic, (_lean_message(i) for i in indices if i % self.duplicate_every == 0))
                ahead = (start + chunk) / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            prod.flush(timeout=120)
            prod.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test
            self.error = exc


def _tail(log: Path, lines: int = 40) -> str:
    """The service's own log lines (not kafka-python's), for failure messages."""
    own = [line for line in log.read_text(errors="replace").splitlines() if "driftwatch" in line or "rror" in line]
    return "\n".join(own[-lines:])


def _assert_exactly(engine, total: int) -> None:
    ids = stored_prediction_ids(engine)
    duplicates = [key for key, seen in collections.Counter(ids).items() if seen > 1]
    missing = set(range(total)) - {int(key.split("-")[1]) for key in ids}
    assert not duplicates, f"{len(duplicates)} duplicated ids, e.g. {duplicates[:5]}"
    assert not missing, f"{len(missing)} missing ids, e.g. {sorted(missing)[:5]}"
    assert len(ids) == total


def stream_with_duplicates(bootstrap: str, store_url: str, topic_names: dict[str, str], tmp_path: Path, *,
                           total: int, rate: float, duplicate_every: int, partitions: int,
                           batch_size: int) -> tuple[Engine, Streamer, IngestProcess]:
    """A fresh store and topics, a started stream of ``total`` predictions (some sent twice),
    and an ingest process ready to start."""
    engine = create_store_engine(store_url)
    upgrade_schema(engine)
    create_topics(bootstrap, [topic_names["predictions"], topic_names["labels"]], partitions=partitions)
    config = write_config(tmp_path / "driftwatch.yaml", store=store_url, bootstrap=bootstrap, topics=topic_names,
                          batch_size=batch_size)
    streamer = Streamer(bootstrap, topic_names["predictions"], total, rate=rate, duplicate_every=duplicate_every)
    streamer.start()
    return engine, streamer, IngestProcess(config, tmp_path / "ingest.log")


def test_sigkill_at_random_instants_loses_and_duplicates_nothing(kafka_broker, store_url, topic_names, tmp_path):
    total = 200_000
    rng = random.Random(20261128)
    # The stream (~80 s) must outlast the twelve kill-and-restart rounds (~45 s, more under
    # load): ingestion catches up within a second of each restart, so a faster stream
    # ended before the last kills and they hit an idle process.
    engine, streamer, ingest = stream_with_duplicates(kafka_broker.bootstrap, store_url, topic_names, tmp_path,
                                                      total=total, rate=2500, duplicate_every=50, partitions=2,
                                                      batch_size=3000)
    ingest.start()
    progress: list[int] = [0]
    for _ in range(12):
        # Kill only once this incarnation is storing, at a random instant after that.
        assert wait_for_count(engine, predictions, progress[-1] + 1, timeout=90) > progress[-1], _tail(ingest.log)
        time.sleep(rng.uniform(0.0, 1.5))
        assert streamer.is_alive(), "the stream ended before the kills did; lower the stream's rate"
        ingest.kill()
        progress.append(count_rows(engine, predictions))
        ingest.start()
    streamer.join(timeout=300)
    assert streamer.error is None, streamer.error
    assert wait_for_count(engine, predictions, total, timeout=240) == total, _tail(ingest.log)
    assert ingest.terminate() == 0
    _assert_exactly(engine, total)
    # The kills really happened mid-stream: each incarnation stored something, none finished.
    assert progress == sorted(progress) and len(set(progress)) == 13 and progress[-1] < total, progress


@pytest.mark.postgres
def test_postgres_outage_pauses_and_resumes_ingestion(kafka_broker, postgres_server, topic_names, tmp_path):
    total = 60_000
    url = postgres_server.create_database(f"outage_{topic_names['group'][-8:]}")
    engine = create_store_engine(url)
    upgrade_schema(engine)
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"], topic_names["labels"]])
    config = write_config(tmp_path / "driftwatch.yaml", store=url, bootstrap=kafka_broker.bootstrap,
                          topics=topic_names, batch_size=2000)
    streamer = Streamer(kafka_broker.bootstrap, topic_names["predictions"], total, rate=1500)
    log = tmp_path / "ingest.log"
    ingest = IngestProcess(config, log)
    streamer.start()
    ingest.start()
    try:
        assert wait_for_count(engine, predictions, 5000, timeout=60) >= 5000
        postgres_server.stop("fast")
        time.sleep(20)
        postgres_server.start()
    finally:
        if not postgres_server.is_running():
            postgres_server.start()
    streamer.join(timeout=120)
    assert streamer.error is None, streamer.error
    assert wait_for_count(engine, predictions, total, timeout=120) == total
    assert ingest.terminate() == 0
    text = log.read_text()
    assert "store unavailable, ingestion paused" in text
    assert "store available again, ingestion resumed" in text
    _assert_exactly(engine, total)


def test_broker_restart_mid_stream_loses_nothing(store_url, topic_names, tmp_path):
    total = 40_000
    base = Path(tempfile.mkdtemp(prefix="driftwatch-kafka-restart-"))
    broker = LocalKafka(base_dir=base)
    broker.start()
    try:
        engine = create_store_engine(store_url)
        upgrade_schema(engine)
        create_topics(broker.bootstrap, [topic_names["predictions"], topic_names["labels"]])
        config = write_config(tmp_path / "driftwatch.yaml", store=store_url, bootstrap=broker.bootstrap,
                              topics=topic_names, batch_size=2000)
        log = tmp_path / "ingest.log"
        ingest = IngestProcess(config, log)
        ingest.start()
        streamer = Streamer(broker.bootstrap, topic_names["predictions"], total // 2, rate=4000)
        streamer.start()
        streamer.join(timeout=120)
        assert streamer.error is None
        assert wait_for_count(engine, predictions, 5000, timeout=60) >= 5000
        broker.stop()
        time.sleep(5)
        broker.start()
        # The second half is produced after the restart, to the same topic.
        prod = producer(broker.bootstrap)
        send_json(prod, topic_names["predictions"], (_lean_message(i) for i in range(total // 2, total)))
        prod.flush(timeout=120)
        assert wait_for_count(engine, predictions, total, timeout=180) == total, log.read_text()[-3000:]
        assert ingest.terminate() == 0
        _assert_exactly(engine, total)
    finally:
        broker.stop(kill=True)
        shutil.rmtree(base, ignore_errors=True)
