"""Round trip on the real broker and both stores: N messages in → exactly N rows, fields exact."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from monitor.config import load_config
from monitor.ingest.consumer import IngestService
from monitor.store.tables import dead_letters, labels, predictions
from tests.support.traffic import (
    create_topics,
    label_message,
    prediction_message,
    producer,
    send_json,
    stored_prediction_ids,
    write_config,
)

pytestmark = pytest.mark.kafka


def _ingest(config_path: Path, engine: Engine) -> IngestService:
    service = IngestService(config=load_config(config_path), engine=engine)
    service.run(threading.Event(), until_idle=3.0)
    return service


def test_predictions_and_labels_round_trip(kafka_broker, engine, store_url, topic_names, tmp_path):
    n = 3000
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"], topic_names["labels"]], partitions=3)
    prod = producer(kafka_broker.bootstrap)
    # Half of the labels arrive BEFORE their prediction, half after.
    send_json(prod, topic_names["labels"], (label_message(i, i % 2) for i in range(0, n, 4)))
    prod.flush()
    config = write_config(tmp_path / "driftwatch.yaml", store=store_url, bootstrap=kafka_broker.bootstrap,
                          topics=topic_names, batch_size=700)
    first = _ingest(config, engine)
    assert first.stats.labels == len(range(0, n, 4))

    sent = [prediction_message(i) for i in range(n)]
    send_json(prod, topic_names["predictions"], sent)
    send_json(prod, topic_names["labels"], (label_message(i, i % 2) for i in range(2, n, 4)))
    prod.flush()
    second = _ingest(config, engine)
    assert second.stats.predictions == n

    ids = stored_prediction_ids(engine)
    assert sorted(ids) == sorted(m["prediction_id"] for m in sent)

    with engine.connect() as connection:
        rows = {r.prediction_id: r for r in connection.execute(select(predictions))}
        joined = connection.execute(
            select(predictions.c.prediction_id, labels.c.label).join(
                labels, (labels.c.model == predictions.c.model)
                & (labels.c.prediction_id == predictions.c.prediction_id))
        ).all()
        assert connection.execute(select(dead_letters)).first() is None
    for message in sent[:200]:
        row = rows[message["prediction_id"]]
        assert row.model == "fraud" and row.model_version == "v1"
        assert row.event_time == datetime.fromisoformat(message["timestamp"]).astimezone(UTC)
        assert row.features == message["features"]
        assert row.prediction == str(message["prediction"])
        assert row.prediction_numeric == float(message["prediction"])
        assert row.score == message["score"]
        assert row.latency_ms == message["latency_ms"]
        assert row.status == message["status"]
        assert row.kafka_topic == topic_names["predictions"]
        assert row.kafka_offset is not None and row.ingested_at is not None
    expected_labels = {f"fraud-{i}": str(i % 2) for i in range(0, n, 2)}
    assert dict(joined) == expected_labels


def test_newest_label_wins_and_replay_changes_nothing(kafka_broker, engine, store_url, topic_names, tmp_path):
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"], topic_names["labels"]])
    prod = producer(kafka_broker.bootstrap)
    send_json(prod, topic_names["predictions"], [prediction_message(1)])
    newer = label_message(1, 1, offset_s=7200)
    older = label_message(1, 0, offset_s=60)
    send_json(prod, topic_names["labels"], [newer, older, newer])
    prod.flush()
    config = write_config(tmp_path / "c.yaml", store=store_url, bootstrap=kafka_broker.bootstrap, topics=topic_names)
    _ingest(config, engine)
    with engine.connect() as connection:
        first = connection.execute(select(labels)).all()
    assert len(first) == 1 and first[0].label == "1"

    # A later, newer correction replaces it; an out-of-date one in a later batch does not.
    send_json(prod, topic_names["labels"], [label_message(1, 0, offset_s=9000), label_message(1, 1, offset_s=100)])
    prod.flush()
    _ingest(config, engine)
    with engine.connect() as connection:
        final = connection.execute(select(labels)).all()
    assert len(final) == 1 and final[0].label == "0"


def test_unknown_fields_are_kept_and_duplicates_ignored(kafka_broker, engine, store_url, topic_names, tmp_path):
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"], topic_names["labels"]])
    prod = producer(kafka_broker.bootstrap)
    message = {**prediction_message(5), "request_id": "abc", "tags": {"team": "risk"}}
    send_json(prod, topic_names["predictions"], [message, message, {**message, "score": 0.99}])
    prod.flush()
    config = write_config(tmp_path / "c.yaml", store=store_url, bootstrap=kafka_broker.bootstrap, topics=topic_names)
    service = _ingest(config, engine)
    assert (service.stats.predictions, service.stats.duplicates) == (1, 2)
    with engine.connect() as connection:
        row = connection.execute(select(predictions)).one()
    assert row.extra == {"request_id": "abc", "tags": {"team": "risk"}}
    assert row.score == message["score"]  # the first delivery wins
    assert json.loads(json.dumps(row.features)) == message["features"]
