"""Decode and validate one Kafka message against the message contract.

Pure: bytes in, a :class:`PredictionRecord`, :class:`LabelRecord` or
:class:`DeadLetterRecord` out. Hand-written checks rather than a pydantic model per
message, because this runs for every event (tens of thousands a second) and every
rejection needs a reason a person can act on.

>>> origin = Origin("predictions", 0, 7)
>>> decode_label(b'{"prediction_id": "p1", "model": "fraud", "label": 1, '
...              b'"timestamp": "2026-01-01T00:00:00Z"}', origin).label
'1'
>>> decode_prediction(b'{"model": "fraud"}', origin).reason
"missing required field 'prediction_id'; every prediction needs prediction_id, model, model_version, \
timestamp, features, prediction"
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NoReturn

import msgspec

from monitor.event_time import EventTimeRange
from monitor.ingest.records import DeadLetterRecord, Decoded, LabelRecord, Origin, PredictionRecord

__all__ = ["MessageDecoder", "decode_prediction", "decode_label", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 1_048_576
_MODEL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PREDICTION_FIELDS = ("prediction_id", "model", "model_version", "timestamp", "features", "prediction")
_KNOWN_PREDICTION = frozenset(
    (*_PREDICTION_FIELDS, "score", "probabilities", "latency_ms", "status", "error")
)
_LABEL_FIELDS = ("prediction_id", "model", "label")
_EPOCH_2000_MS = 946_684_800_000
_EPOCH_9999_MS = 253_402_300_799_000
# msgspec parses valid JSON into the same values as json.loads, several times faster;
# anything it refuses goes through json.loads for a precise reason.
_FAST_JSON = msgspec.json.Decoder()


class _Invalid(Exception):
    """A message broke the contract; ``args[0]`` is the reason shown to people."""


def _fail(reason: str) -> NoReturn:
    raise _Invalid(reason)


def _reject_constant(name: str) -> NoReturn:
    _fail(f"{name} is not allowed in JSON; send null for a missing value")


def _parse_json(raw: bytes, max_bytes: int) -> dict[str, Any]:
    if len(raw) > max_bytes:
        _fail(f"message is {len(raw)} bytes, over the {max_bytes}-byte limit; "
              "send fewer or shorter features, or raise ingest.max_message_bytes")
    try:
        data = _FAST_JSON.decode(raw)
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        # Not plain valid JSON: the standard library names what is wrong, and where.
        data = _parse_json_slowly(raw)
    if not isinstance(data, dict):
        _fail(f"message must be a JSON object, got {_json_type(data)}")
    if b"\\u" in raw:
        _check_escapes(raw, data)
    return data


def _parse_json_slowly(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(f"message is not UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}); encode JSON as UTF-8")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        # Some messages end in "at" ("Unterminated string starting at"): say it once.
        _fail(f"not valid JSON: {exc.msg.removesuffix(' at')} at line {exc.lineno} column {exc.colno}")
    except RecursionError:
        _fail("JSON is nested too deeply; features must be a flat object of numbers, strings, booleans or null")


def _check_escapes(raw: bytes, data: dict[str, Any]) -> None:
    """Reject what JSON can escape but a database cannot store."""
    if b"\\u0000" in raw:
        _fail("message contains a NUL character (\\u0000), which the store cannot keep; remove it")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        _fail("message contains an unpaired UTF-16 surrogate escape (\\ud800-\\udfff); send valid Unicode")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _string(value: object, name: str, max_len: int) -> str:
    if not isinstance(value, str):
        _fail(f"field {name!r} must be a string, got {_json_type(value)}")
    if not 1 <= len(value) <= max_len:
        _fail(f"field {name!r} must be 1 to {max_len} characters, got {len(value)}")
    return value


_VALID_MODELS: set[str] = set()
"""Model names already matched against :data:`_MODEL` (a few per deployment; bounded below)."""


def _model(value: object) -> str:
    if type(value) is str and value in _VALID_MODELS:
        return value
    if not isinstance(value, str) or not _MODEL.match(value):
        _fail(f"field 'model' must match [A-Za-z0-9_.-]{{1,64}}, got {str(value)[:80]!r}")
    _remember_model(value)
    return value


def _remember_model(value: str) -> None:
    if len(_VALID_MODELS) < 1000:
        _VALID_MODELS.add(value)


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(f"field {name!r} must be a number, got {_json_type(value)}")
    try:
        number = float(value)
    except OverflowError:
        _fail(f"field {name!r} is a number too large for a 64-bit float; send a finite number")
    if not math.isfinite(number):
        _fail(f"field {name!r} must be a finite number")
    return number


def _timestamp(value: object, name: str = "timestamp") -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            _fail(f"field {name!r} is not ISO-8601 ({value[:40]!r}); send e.g. 2026-01-01T12:00:00Z "
                  "or epoch milliseconds")
        if parsed.tzinfo is None:
            _fail(f"field {name!r} has no time zone ({value[:40]!r}); add Z or +00:00")
        return parsed.astimezone(UTC)
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(f"field {name!r} must be an ISO-8601 string or epoch milliseconds, got {_json_type(value)}")
    if not math.isfinite(value) or not _EPOCH_2000_MS <= value <= _EPOCH_9999_MS:
        hint = " (it looks like seconds; multiply by 1000)" if 946_684_800 <= value <= 253_402_300_799 else ""
        _fail(f"field {name!r} = {value} is not epoch milliseconds between 2000 and 9999{hint}")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _value_text(value: object, name: str) -> tuple[str, float | None]:
    """A prediction or label as text, plus its numeric value when it is a number."""
    if isinstance(value, str):
        if not value:
            _fail(f"field {name!r} is an empty string; send the class label or value")
        if len(value) > 256:
            _fail(f"field {name!r} is {len(value)} characters; class labels may be at most 256")
        return value, None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(f"field {name!r} must be a number or a string, got {_json_type(value)}")
    number = _number(value, name)
    return _number_text(number), number


def _number_text(number: float) -> str:
    """>>> _number_text(1.0), _number_text(0.25), _number_text(1e20)
    ('1', '0.25', '1e+20')
    """
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)


def _features(value: object) -> dict[str, Any]:
    if type(value) is not dict:
        _fail(f"field 'features' must be an object of name → value, got {_json_type(value)}")
    # Exact type checks: json.loads only ever produces these types, and this loop runs
    # for every feature of every message.
    isfinite = math.isfinite
    if "" in value:
        _fail("a feature has an empty name (\"\"); give every feature a non-empty name")
    for name, item in value.items():
        kind = type(item)
        if kind is float:
            if not isfinite(item):
                _fail(f"feature {name[:80]!r} is not a finite number; send null for a missing value")
        elif kind is int:
            if item.bit_length() > 1000 and not _fits_float(item):
                _fail(f"feature {name[:80]!r} is a number too large for a 64-bit float (over 1.8e308); "
                      "send a finite number, or null for a missing value")
        elif kind is not str and kind is not bool and item is not None:
            _fail(f"feature {name[:80]!r} must be a number, string, boolean or null, got {_json_type(item)}")
    return value


def _fits_float(number: int) -> bool:
    try:
        float(number)
    except OverflowError:
        return False
    return True


def _probabilities(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        _fail(f"field 'probabilities' must be an object of class → probability, got {_json_type(value)}")
    result = {}
    for name, item in value.items():
        number = _number(item, f"probabilities.{name[:40]}")
        if not 0.0 <= number <= 1.0:
            _fail(f"probability of class {name[:40]!r} is {number}, outside [0, 1]")
        result[name] = number
    return result


def _require(data: dict[str, Any], fields: tuple[str, ...], kind: str) -> None:
    for name in fields:
        if name not in data:
            _fail(f"missing required field {name!r}; every {kind} needs {', '.join(fields)}")


def _parse_prediction(data: dict[str, Any], origin: Origin) -> PredictionRecord:
    _require(data, _PREDICTION_FIELDS, "prediction")
    prediction_text, prediction_numeric = _value_text(data["prediction"], "prediction")
    score, latency, status, error = (data.get(name) for name in ("score", "latency_ms", "status", "error"))
    if score is not None:
        score = _number(score, "score")
        if not 0.0 <= score <= 1.0:
            _fail(f"field 'score' is {score}, outside [0, 1]; send the positive-class probability")
    if latency is not None:
        latency = _number(latency, "latency_ms")
        if latency < 0:
            _fail(f"field 'latency_ms' is {latency}; serving latency cannot be negative")
    if status is None:
        status = "ok"
    if status not in ("ok", "error"):
        _fail(f"field 'status' must be \"ok\" or \"error\", got {str(status)[:40]!r}")
    if error is not None and not isinstance(error, str):
        _fail(f"field 'error' must be a string, got {_json_type(error)}")
    probabilities = data.get("probabilities")
    return PredictionRecord(
        model=_model(data["model"]),
        model_version=_string(data["model_version"], "model_version", 64),
        prediction_id=_string(data["prediction_id"], "prediction_id", 128),
        event_time=_timestamp(data["timestamp"]),
        features=_features(data["features"]),
        prediction=prediction_text,
        prediction_numeric=prediction_numeric,
        score=score,
        probabilities=None if probabilities is None else _probabilities(probabilities),
        latency_ms=latency,
        status=status,
        error=error[:4000] if error else None,
        extra={key: value for key, value in data.items() if key not in _KNOWN_PREDICTION} or None,
        origin=origin,
    )


_Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
"""At most 64 bits: a larger integer (kept exact, perhaps too large for a float) takes the full path."""
_EpochMs = msgspec.Meta(ge=_EPOCH_2000_MS, le=_EPOCH_9999_MS)
_Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class _WirePrediction(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A prediction message with exactly the contract's fields, each of a JSON type and in a range it allows.

    msgspec checks all of it in C (its floats are always finite, its lengths count characters
    as ``len`` does); what it cannot express, :func:`_fast_prediction` checks.
    """

    prediction_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    model: str
    model_version: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    timestamp: Annotated[int, _EpochMs] | Annotated[float, _EpochMs] | str
    features: dict[str, _Int64 | float | str | bool | None]
    prediction: _Int64 | float | Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    score: _Probability | None = None
    probabilities: dict[str, _Probability] | None = None
    latency_ms: Annotated[float, msgspec.Meta(ge=0.0)] | None = None
    status: Literal["ok", "error"] | None = None
    error: str | None = None


_WIRE_PREDICTION = msgspec.json.Decoder(_WirePrediction)
_UTC = UTC


def _fast_prediction(raw: bytes, origin: Origin) -> PredictionRecord | None:
    """The usual message in one typed parse (types and ranges checked in C), or None.

    None for anything unusual — unknown fields, a wrong type, a bad value, escapes, a
    number out of range — which then takes the full path and gets its precise reason.
    Both paths accept the same messages and build equal records (a property test holds
    them to it).
    """
    if b"\\u0000" in raw:  # msgspec would keep a NUL the store cannot (lone surrogates it refuses itself)
        return None
    try:
        wire = _WIRE_PREDICTION.decode(raw)
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        return None
    model = wire.model
    if model not in _VALID_MODELS:
        if not _MODEL.match(model):
            return None
        _remember_model(model)
    prediction = wire.prediction
    if type(prediction) is str:
        prediction_text, prediction_numeric = prediction, None
    else:
        prediction_numeric = float(prediction)
        prediction_text = _number_text(prediction_numeric)
    timestamp = wire.timestamp
    if isinstance(timestamp, str):
        try:
            event_time = _timestamp(timestamp)
        except _Invalid:
            return None
    else:  # epoch milliseconds, in range already: as _timestamp converts them, without its checks
        event_time = datetime.fromtimestamp(timestamp / 1000, tz=_UTC)
    features = wire.features
    if "" in features:
        return None
    error = wire.error
    return PredictionRecord(model, wire.model_version, wire.prediction_id, event_time, features, prediction_text,
                            prediction_numeric, wire.score, wire.probabilities, wire.latency_ms,
                            wire.status or "ok", error[:4000] if error else None, None, origin)


def _parse_label(data: dict[str, Any], origin: Origin, fallback_time: datetime | None) -> LabelRecord:
    _require(data, _LABEL_FIELDS, "label")
    model = _model(data["model"])
    label, label_numeric = _value_text(data["label"], "label")
    if data.get("timestamp") is not None:
        event_time = _timestamp(data["timestamp"])
    elif fallback_time is not None:
        event_time = fallback_time
    else:
        _fail("missing field 'timestamp'; send when the outcome was observed (ISO-8601 or epoch ms)")
    return LabelRecord(
        model=model,
        prediction_id=_string(data["prediction_id"], "prediction_id", 128),
        label=label,
        label_numeric=label_numeric,
        event_time=event_time,
        origin=origin,
    )


def _dead(raw: bytes, origin: Origin, reason: str, max_bytes: int, data: object = None) -> DeadLetterRecord:
    model = None
    if isinstance(data, dict) and isinstance(data.get("model"), str) and _MODEL.match(data["model"]):
        model = data["model"]
    return DeadLetterRecord(origin=origin, raw=raw[:max_bytes], raw_size=len(raw), reason=reason, model=model)


class MessageDecoder:
    """Decodes messages of the predictions and labels topics.

    ``known_models``: when given, a message for any other model is a dead letter
    (most often a typo in the serving app's config). ``event_range``: when given, a
    message whose event time is outside it (as of ``clock``) is a dead letter.
    """

    def __init__(
        self,
        *,
        predictions_topic: str = "predictions",
        labels_topic: str = "labels",
        max_bytes: int = DEFAULT_MAX_BYTES,
        known_models: Collection[str] | None = None,
        event_range: EventTimeRange | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.predictions_topic = predictions_topic
        self.labels_topic = labels_topic
        self.max_bytes = max_bytes
        self.known_models = frozenset(known_models) if known_models else None
        self.event_range = event_range
        self.clock = clock

    def decode(self, raw: bytes | None, origin: Origin, kafka_timestamp_ms: int | None = None, *,
               now: datetime | None = None) -> Decoded:
        """One message as a record; ``now``: the clock's time for the event-time range (default: ask the
        clock). A batch's decoding passes one ``now`` for all its messages: reading the clock per
        message cost ingestion about 1% of its time."""
        if raw is None:
            return _dead(b"", origin, "empty message (null value, a tombstone?); send one JSON object per message",
                         self.max_bytes)
        data: object = None
        record: Decoded | None = None
        if origin.topic != self.labels_topic and len(raw) <= self.max_bytes:
            record = _fast_prediction(raw, origin)
        if record is None:
            try:
                data = _parse_json(raw, self.max_bytes)
                if origin.topic == self.labels_topic:
                    fallback = (datetime.fromtimestamp(kafka_timestamp_ms / 1000, tz=UTC)
                                if kafka_timestamp_ms and kafka_timestamp_ms > 0 else None)
                    record = _parse_label(data, origin, fallback)
                else:
                    record = _parse_prediction(data, origin)
            except _Invalid as exc:
                return _dead(raw, origin, str(exc), self.max_bytes, data)
            except (OverflowError, ValueError) as exc:
                return _dead(raw, origin, f"a number is out of range ({exc}); send finite 64-bit numbers",
                             self.max_bytes, data)
        if self.known_models is not None and record.model not in self.known_models:
            return DeadLetterRecord(
                origin=origin, raw=raw[:self.max_bytes], raw_size=len(raw), model=record.model,
                reason=f"model {record.model!r} is not configured; add it under models: in driftwatch.yaml "
                       f"(known: {', '.join(sorted(self.known_models))})",
            )
        if self.event_range is not None and not isinstance(record, DeadLetterRecord):
            problem = self.event_range.problem(record.event_time, self.clock() if now is None else now)
            if problem is not None:
                return DeadLetterRecord(origin=origin, raw=raw[:self.max_bytes], raw_size=len(raw),
                                        model=record.model, reason=f"field 'timestamp' "
                                        f"({record.event_time.isoformat().replace('+00:00', 'Z')}) {problem}")
        return record


def decode_prediction(raw: bytes, origin: Origin, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Decoded:
    return MessageDecoder(max_bytes=max_bytes, predictions_topic=origin.topic).decode(raw, origin)


def decode_label(raw: bytes, origin: Origin, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Decoded:
    return MessageDecoder(max_bytes=max_bytes, labels_topic=origin.topic).decode(raw, origin)
