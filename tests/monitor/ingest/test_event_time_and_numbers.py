"""Event times outside the accepted range, numbers too large for a float and empty
feature names are dead letters whose reason names the problem (ISO and epoch alike)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from monitor.event_time import EventTimeRange
from monitor.ingest.decode import MessageDecoder
from monitor.ingest.records import DeadLetterRecord, LabelRecord, Origin, PredictionRecord
from tests.support.traffic import prediction_message

NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
ORIGIN = Origin("predictions", 0, 1)
VALID = {**prediction_message(0), "timestamp": "2026-12-03T05:00:00Z"}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _decoder(age: timedelta = timedelta(days=365), lead: timedelta = timedelta(days=1)) -> MessageDecoder:
    return MessageDecoder(known_models={"fraud"}, event_range=EventTimeRange(age, lead), clock=lambda: NOW)


def _decode(message: dict[str, object], decoder: MessageDecoder | None = None) -> object:
    return (decoder or _decoder()).decode(json.dumps(message).encode(), ORIGIN)


@pytest.mark.parametrize("timestamp", [
    "9999-12-31T23:59:59Z", 253_402_300_799_000, "2999-01-01T00:00:00+00:00", _ms(NOW + timedelta(days=2)),
    (NOW + timedelta(hours=25)).isoformat(),
])
def test_event_times_too_far_ahead_are_dead_letters(timestamp: object) -> None:
    record = _decode({**VALID, "timestamp": timestamp})
    assert isinstance(record, DeadLetterRecord)
    assert "field 'timestamp'" in record.reason and "ahead of now" in record.reason
    assert "ingest.max_event_lead" in record.reason and record.model == "fraud"


@pytest.mark.parametrize("timestamp", [
    "1970-01-01T00:00:00Z", "2000-01-01T00:00:00+00:00", _ms(datetime(2001, 1, 1, tzinfo=UTC)),
    (NOW - timedelta(days=366)).isoformat(), _ms(NOW - timedelta(days=366)),
])
def test_event_times_too_old_are_dead_letters(timestamp: object) -> None:
    record = _decode({**VALID, "timestamp": timestamp})
    assert isinstance(record, DeadLetterRecord)
    assert "before now" in record.reason and "ingest.max_event_age" in record.reason


@pytest.mark.parametrize("timestamp", [
    (NOW - timedelta(days=364)).isoformat(), _ms(NOW - timedelta(days=364)), (NOW + timedelta(hours=23)).isoformat(),
    _ms(NOW + timedelta(hours=23)), "2026-12-03T06:00:00Z",
])
def test_event_times_inside_the_range_are_accepted(timestamp: object) -> None:
    assert isinstance(_decode({**VALID, "timestamp": timestamp}), PredictionRecord)


def test_the_range_is_configurable() -> None:
    wide = _decoder(age=timedelta(days=365 * 60), lead=timedelta(days=400))
    assert isinstance(_decode({**VALID, "timestamp": "1970-01-02T00:00:00Z"}, wide), PredictionRecord)
    assert isinstance(_decode({**VALID, "timestamp": "2027-06-01T00:00:00Z"}, wide), PredictionRecord)


def test_a_batch_can_pass_its_clock_reading_once() -> None:
    """The consumer reads the clock once per batch and passes it; the decoder then never asks its clock."""
    def no_clock() -> datetime:
        raise AssertionError("the decoder read its clock although it was given now")

    decoder = MessageDecoder(event_range=EventTimeRange(timedelta(days=365), timedelta(days=1)), clock=no_clock)
    raw = json.dumps({**VALID, "timestamp": (NOW - timedelta(days=2)).isoformat()}).encode()
    assert isinstance(decoder.decode(raw, ORIGIN, now=NOW), PredictionRecord)
    assert isinstance(decoder.decode(raw, ORIGIN, now=NOW - timedelta(days=400)), DeadLetterRecord)


def test_label_times_are_checked_too() -> None:
    label = {"prediction_id": "p1", "model": "fraud", "label": 1}
    decoder = MessageDecoder(labels_topic="labels", event_range=EventTimeRange(), clock=lambda: NOW)
    far = decoder.decode(json.dumps({**label, "timestamp": "9999-12-31T23:59:59Z"}).encode(), Origin("labels", 0, 1))
    assert isinstance(far, DeadLetterRecord) and "ahead of now" in far.reason
    ok = decoder.decode(json.dumps({**label, "timestamp": "2026-12-01T00:00:00Z"}).encode(), Origin("labels", 0, 2))
    assert isinstance(ok, LabelRecord)


@pytest.mark.parametrize("raw_number", ["1" + "0" * 400, "-" + "9" * 330, "1e999"])
def test_numbers_too_large_for_a_float_are_dead_letters_naming_the_feature(raw_number: str) -> None:
    raw = json.dumps({**VALID, "features": {"amount": 0, "country": "DE"}}).replace(
        '"amount": 0', f'"amount": {raw_number}').encode()
    record = _decoder().decode(raw, ORIGIN)
    assert isinstance(record, DeadLetterRecord)
    assert "feature 'amount'" in record.reason and "finite" in record.reason


@pytest.mark.parametrize("field", ["score", "latency_ms", "prediction"])
def test_huge_integers_in_other_fields_name_the_field(field: str) -> None:
    raw = json.dumps({**VALID, field: 7}).replace(f'"{field}": 7', f'"{field}": 1{"0" * 400}').encode()
    record = _decoder().decode(raw, ORIGIN)
    assert isinstance(record, DeadLetterRecord)
    assert f"field {field!r}" in record.reason


def test_large_but_finite_integers_are_kept() -> None:
    record = _decode({**VALID, "features": {"amount": 10**300, "big": 2**70}})
    assert isinstance(record, PredictionRecord) and record.features["amount"] == 10**300


def test_an_empty_feature_name_is_a_dead_letter() -> None:
    record = _decode({**VALID, "features": {"": 1.0, "amount": 2.0}})
    assert isinstance(record, DeadLetterRecord)
    assert "empty name" in record.reason


def test_the_ingest_service_takes_the_range_from_the_config() -> None:
    from monitor.config.loader import config_from_mapping
    from monitor.ingest.consumer import IngestService
    from monitor.store.engine import create_store_engine

    config = config_from_mapping({"store": "sqlite://", "ingest": {"max_event_age": "2d", "max_event_lead": "1h"},
                                  "models": {"fraud": {"task": "binary_classification", "positive_label": 1}}},
                                 environ={})
    engine = create_store_engine(config.store)
    try:
        decoder = IngestService(config=config, engine=engine, clock=lambda: NOW).decoder
    finally:
        engine.dispose()
    assert isinstance(_decode({**VALID, "timestamp": "2026-12-02T00:00:00Z"}, decoder), PredictionRecord)
    for timestamp, reason in (("2026-11-30T00:00:00Z", "before now"), ("2026-12-03T07:30:00Z", "ahead of now")):
        record = _decode({**VALID, "timestamp": timestamp}, decoder)
        assert isinstance(record, DeadLetterRecord) and reason in record.reason
