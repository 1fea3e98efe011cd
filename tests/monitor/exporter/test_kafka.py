"""Consumer lag read from a real broker, and ``driftwatch run --metrics-port`` serving /metrics."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from local_kafka import free_port

from monitor.config.models import KafkaConfig
from monitor.exporter.lag import LagMonitor
from monitor.store.engine import create_store_engine
from monitor.store.schema import upgrade_schema
from tests.monitor.exporter.support import key, parse
from tests.support.traffic import IngestProcess, create_topics, prediction_message, producer, send_json, write_config

pytestmark = pytest.mark.kafka


def test_lag_is_end_offset_minus_the_groups_committed_offset(kafka_broker, topic_names):
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"]], partitions=2)
    create_topics(kafka_broker.bootstrap, [topic_names["labels"]])
    prod = producer(kafka_broker.bootstrap)
    for partition, count in ((0, 5), (1, 3)):
        for _ in range(count):
            prod.send(topic_names["predictions"], b"{}", partition=partition)
    prod.flush()
    prod.close()
    committer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, group_id=topic_names["group"],
                              enable_auto_commit=False)
    first = TopicPartition(topic_names["predictions"], 0)
    committer.assign([first])
    committer.commit({first: OffsetAndMetadata(2, "", -1)})
    committer.close()
    kafka = KafkaConfig(bootstrap_servers=kafka_broker.bootstrap, predictions_topic=topic_names["predictions"],
                        labels_topic=topic_names["labels"], group_id=topic_names["group"])
    monitor = LagMonitor(kafka, interval=60)
    try:
        reading = monitor.refresh()
    finally:
        monitor.stop()
    assert reading.up
    # Partition 1 has no commit yet: the group starts from the beginning (auto_offset_reset earliest).
    assert reading.lag == {(topic_names["predictions"], 0): 3, (topic_names["predictions"], 1): 3,
                           (topic_names["labels"], 0): 0}


def test_an_unreachable_broker_gives_no_lag():
    monitor = LagMonitor(KafkaConfig(bootstrap_servers=f"127.0.0.1:{free_port()}"), interval=60)
    try:
        reading = monitor.refresh()
    finally:
        monitor.stop()
    assert not reading.up and reading.lag == {}


def _metrics(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return parse(response.read().decode())


def test_run_serves_metrics_on_metrics_port(kafka_broker, topic_names, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'driftwatch.db'}"
    engine = create_store_engine(url)
    upgrade_schema(engine)
    engine.dispose()
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"], topic_names["labels"]])
    config = write_config(tmp_path / "driftwatch.yaml", store=url, bootstrap=kafka_broker.bootstrap,
                          topics=topic_names)
    port = free_port()
    service = IngestProcess(config, tmp_path / "run.log", command="run")
    service.start("--metrics-port", str(port))
    prod = producer(kafka_broker.bootstrap)
    send_json(prod, topic_names["predictions"], (prediction_message(i) for i in range(50)))
    prod.flush()
    prod.close()
    deadline = time.monotonic() + 90
    samples: dict = {}
    while time.monotonic() < deadline:
        try:
            samples = _metrics(port)
        except OSError:
            samples = {}
        if (samples.get(key("driftwatch_predictions_stored_total", model="fraud")) == 50
                and samples.get(key("driftwatch_kafka_consumer_lag", topic=topic_names["predictions"],
                                    partition="0")) == 0):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"/metrics never showed 50 stored and no lag: {samples}\n"
                             f"{(tmp_path / 'run.log').read_text()[-3000:]}")
    assert samples[key("driftwatch_kafka_up")] == 1 and samples[key("driftwatch_store_up")] == 1
    assert service.terminate() == 0
