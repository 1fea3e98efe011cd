"""A topic that does not exist yet never holds up the others: ingestion of predictions
starts at once, and the labels topic is consumed as soon as it is created."""

from __future__ import annotations

import threading

import pytest
from kafka.admin import KafkaAdminClient

from monitor.config import load_config
from monitor.ingest.consumer import IngestService
from tests.support.traffic import (
    create_topics,
    label_message,
    labels,
    prediction_message,
    predictions,
    producer,
    send_json,
    wait_for_count,
    write_config,
)

pytestmark = pytest.mark.kafka


def _topics(bootstrap: str) -> set[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def test_predictions_are_ingested_before_the_labels_topic_exists(kafka_broker, engine, store_url, topic_names,
                                                                tmp_path):
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"]])
    prod = producer(kafka_broker.bootstrap)
    send_json(prod, topic_names["predictions"], (prediction_message(i) for i in range(20)))
    prod.flush()
    config = load_config(write_config(tmp_path / "driftwatch.yaml", store=store_url,
                                      bootstrap=kafka_broker.bootstrap, topics=topic_names))
    stop = threading.Event()
    service = IngestService(config=config, engine=engine)
    worker = threading.Thread(target=service.run, args=(stop,), daemon=True)
    worker.start()
    try:
        assert wait_for_count(engine, predictions, 20, timeout=25) == 20
        # Ingestion neither waited for the labels topic nor created it (the broker would
        # auto-create it for a consumer that names it): it is still for the operator to make.
        assert topic_names["labels"] not in _topics(kafka_broker.bootstrap)

        create_topics(kafka_broker.bootstrap, [topic_names["labels"]])
        send_json(prod, topic_names["labels"], [label_message(3, 1)])
        prod.flush()
        assert wait_for_count(engine, labels, 1, timeout=90) == 1
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not worker.is_alive()
    assert service.stats.predictions == 20 and service.stats.labels == 1
