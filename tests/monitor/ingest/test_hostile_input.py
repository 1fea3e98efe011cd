"""Hostile input: hypothesis-generated garbage interleaved with valid messages.

Pure property tests of the decoder (thousands of examples, no I/O), then the same
kind of traffic through the real broker into both stores: every valid message is
stored, every bad one is in dead_letters with a reason, and the consumer never stops.
"""

from __future__ import annotations

import json
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor.config import load_config
from monitor.ingest.consumer import IngestService
from monitor.ingest.decode import MessageDecoder
from monitor.ingest.records import DeadLetterRecord, LabelRecord, Origin, PredictionRecord
from monitor.store.tables import dead_letters
from tests.support.traffic import create_topics, prediction_message, producer, stored_prediction_ids, write_config

MAX_BYTES = 65_536
VALID = prediction_message(0)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=12)


def _mutated_valid() -> st.SearchStrategy[bytes]:
    """A valid message with one field removed, retyped or made non-finite."""
    fields = sorted(VALID)

    def build(choice: tuple[str, str, object]) -> bytes:
        field, action, value = choice
        message = dict(VALID)
        if action == "drop" and field in ("prediction_id", "model", "model_version", "timestamp", "features",
                                          "prediction"):
            del message[field]
        elif action == "retype":
            message[field] = value
        else:
            return json.dumps(message).replace(json.dumps(VALID["score"]), "NaN", 1).encode()
        return json.dumps(message).encode()

    return st.tuples(st.sampled_from(fields), st.sampled_from(["drop", "retype", "nan"]), json_values).map(build)


hostile = st.one_of(
    st.binary(max_size=300),  # binary garbage
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.text(min_size=1, max_size=50).map(lambda text: text.encode("utf-16")),  # wrong encoding
    st.integers(1, 400).map(lambda n: json.dumps(VALID).encode()[: n % len(json.dumps(VALID))]),  # truncated
    st.integers(100, 3000).map(lambda depth: b'{"features": ' + b"[" * depth + b"]" * depth + b"}"),  # nesting
    st.integers(MAX_BYTES + 1, MAX_BYTES * 3).map(lambda n: json.dumps({**VALID, "pad": "x" * n}).encode()),
    st.sampled_from([b"NaN", b"Infinity", b'{"score": -Infinity}', b"null", b"[]", b'"text"', b"", b"\x00"]),
    _mutated_valid(),
    json_values.map(lambda value: json.dumps(value).encode()),
)


def _is_wellformed_valid(record: object) -> bool:
    return isinstance(record, PredictionRecord | LabelRecord)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw=hostile)
def test_decoder_never_raises_and_always_explains(raw: bytes) -> None:
    decoder = MessageDecoder(max_bytes=MAX_BYTES, known_models={"fraud"})
    record = decoder.decode(raw, Origin("predictions", 0, 1))
    if isinstance(record, DeadLetterRecord):
        assert len(record.reason) > 15
        assert len(record.raw) <= MAX_BYTES
        assert record.raw_size == len(raw)
    else:
        # Anything accepted must satisfy the contract exactly.
        assert isinstance(record, PredictionRecord)
        assert record.model == "fraud" and record.event_time.tzinfo is not None
        assert all(value is None or isinstance(value, bool | int | float | str) for value in record.features.values())
        json.dumps(record.features, allow_nan=False).encode("utf-8")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "not valid JSON"),
        (b"\xff{}", "not UTF-8"),
        (json.dumps({**VALID, "features": {"x": [1]}}).encode(), "feature 'x' must be a number, string, boolean"),
        (json.dumps({k: v for k, v in VALID.items() if k != "model_version"}).encode(), "'model_version'"),
        (json.dumps({**VALID, "score": "high"}).encode(), "field 'score' must be a number, got string"),
        (json.dumps({**VALID, "score": 1.5}).encode(), "outside [0, 1]"),
        (json.dumps({**VALID, "latency_ms": -1}).encode(), "cannot be negative"),
        (json.dumps({**VALID, "status": "failed"}).encode(), "must be \"ok\" or \"error\""),
        (json.dumps({**VALID, "timestamp": "2026-01-01T00:00:00"}).encode(), "has no time zone"),
        (json.dumps({**VALID, "model": "other"}).encode(), "model 'other' is not configured"),
        (json.dumps({**VALID, "model": "bad model!"}).encode(), "must match"),
        (json.dumps({**VALID, "pad": "x" * MAX_BYTES}).encode(), "over the 65536-byte limit"),
        (json.dumps(VALID).replace('"score": ', '"score": NaN, "s": ').encode(), "NaN is not allowed"),
    ],
)
def test_each_rejection_names_the_problem(raw: bytes, reason: str) -> None:
    record = MessageDecoder(max_bytes=MAX_BYTES, known_models={"fraud"}).decode(raw, Origin("predictions", 3, 9))
    assert isinstance(record, DeadLetterRecord)
    assert reason in record.reason
    assert record.origin == Origin("predictions", 3, 9)


@pytest.mark.kafka
def test_hostile_stream_through_kafka(kafka_broker, engine, store_url, topic_names, tmp_path) -> None:
    """Thousands of hypothesis-generated bad messages interleaved with valid ones."""
    samples: list[bytes] = []

    @settings(max_examples=2500, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(raw=hostile)
    def collect(raw: bytes) -> None:
        samples.append(raw)

    collect()
    decoder = MessageDecoder(max_bytes=MAX_BYTES, known_models={"fraud"})
    bad = [raw for raw in samples if not _is_wellformed_valid(decoder.decode(raw, Origin("p", 0, 0)))]
    assert len(bad) >= 2000
    create_topics(kafka_broker.bootstrap, [topic_names["predictions"], topic_names["labels"]], partitions=2)
    prod = producer(kafka_broker.bootstrap)
    valid_ids = []
    for index, raw in enumerate(bad):
        prod.send(topic_names["predictions"], raw)
        if index % 2 == 0:
            message = prediction_message(index)
            valid_ids.append(message["prediction_id"])
            prod.send(topic_names["predictions"], json.dumps(message).encode())
    prod.send(topic_names["labels"], b'{"prediction_id": "x", "model": "fraud"}')  # label without label
    prod.flush()
    config_path = write_config(tmp_path / "c.yaml", store=store_url, bootstrap=kafka_broker.bootstrap,
                               topics=topic_names, batch_size=1000)
    text = config_path.read_text().replace("batch_size: 1000", f"batch_size: 1000\n  max_message_bytes: {MAX_BYTES}")
    config_path.write_text(text)
    service = IngestService(config=load_config(config_path), engine=engine)
    service.run(threading.Event(), until_idle=4.0)

    assert sorted(stored_prediction_ids(engine)) == sorted(valid_ids)
    with engine.connect() as connection:
        letters = connection.execute(select(dead_letters)).all()
    assert len(letters) == len(bad) + 1
    assert all(len(letter.reason) > 15 and len(letter.raw) <= MAX_BYTES for letter in letters)
    assert any("missing required field 'label'" in letter.reason for letter in letters)
    assert {letter.topic for letter in letters} == {topic_names["predictions"], topic_names["labels"]}
