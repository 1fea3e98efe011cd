"""The decoder's two paths agree: the typed fast path (one msgspec parse) and the full
path (json.loads + field checks) accept exactly the same prediction messages, build
records equal down to each value's type, and the full path alone words the reasons."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.ingest.decode import MessageDecoder, _fast_prediction, _Invalid, _parse_json, _parse_prediction
from monitor.ingest.records import DeadLetterRecord, Origin
from tests.monitor.ingest.test_hostile_input import json_values
from tests.support.traffic import prediction_message

MAX_BYTES = 65_536
ORIGIN = Origin("predictions", 0, 7)
VALID = prediction_message(3)

edge_numbers = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, 1, -0.0, 1.0]),
)
edge_text = st.one_of(st.text(max_size=140), st.sampled_from(["", "ok", "error", "fraud", "x" * 65, "é\u2028\x00"]))
feature_values = st.one_of(st.none(), st.booleans(), edge_numbers, edge_text, st.lists(st.integers(), max_size=2))
timestamps = st.one_of(
    st.integers(0, 2**63), st.floats(), edge_text,
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00+02:00",
                     1_790_000_000_000, 1_790_000_000, 1.79e12]),
)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "prediction_id": edge_text, "model": edge_text, "model_version": edge_text, "timestamp": timestamps,
    "features": st.one_of(st.dictionaries(st.text(max_size=6), feature_values, max_size=5), json_values),
    "prediction": st.one_of(edge_numbers, edge_text, st.booleans()),
    "score": st.one_of(edge_numbers, st.booleans(), st.none(), edge_text),
    "probabilities": st.one_of(st.none(), st.dictionaries(st.text(max_size=3), edge_numbers, max_size=3), json_values),
    "latency_ms": st.one_of(edge_numbers, st.none(), edge_text), "status": st.one_of(edge_text, st.none()),
    "error": st.one_of(edge_text, st.none(), st.integers()),
}


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """A valid prediction with some fields dropped, replaced or added, in varied JSON spellings."""
    message: dict[str, Any] = dict(VALID)
    for name, values in FIELD_VALUES.items():
        action = draw(st.sampled_from(["keep", "keep", "keep", "replace", "drop"]))
        if action == "replace":
            message[name] = draw(values)
        elif action == "drop":
            message.pop(name, None)
    if draw(st.booleans()):
        message[draw(st.text(max_size=6))] = draw(json_values)
    return json.dumps(message, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2]))).encode()


def _full_path_only(raw: bytes) -> tuple[str, str]:
    try:
        record = _parse_prediction(_parse_json(raw, MAX_BYTES), ORIGIN)
    except _Invalid as exc:
        return "dead", str(exc)
    except (OverflowError, ValueError):
        return "dead", "a number is out of range"
    return "stored", repr(record)


@settings(max_examples=1500, deadline=None)
@given(raw=messages())
def test_both_paths_accept_the_same_messages_and_build_the_same_records(raw: bytes) -> None:
    decoded = MessageDecoder(max_bytes=MAX_BYTES).decode(raw, ORIGIN)
    outcome, detail = _full_path_only(raw)
    if isinstance(decoded, DeadLetterRecord):
        assert outcome == "dead", f"fast path rejected what the full path stores: {raw[:300]!r}"
        assert decoded.reason.startswith(detail)
    else:
        assert outcome == "stored", f"stored what the full path rejects ({detail}): {raw[:300]!r}"
        assert repr(decoded) == detail  # repr tells 1 from 1.0 and True from 1


def test_the_usual_message_takes_the_fast_path_and_unusual_ones_do_not() -> None:
    assert _fast_prediction(json.dumps(VALID).encode(), ORIGIN) is not None
    for unusual in ({**VALID, "campaign": "x"}, {**VALID, "score": 1.5}, {**VALID, "model": "no spaces"}):
        assert _fast_prediction(json.dumps(unusual).encode(), ORIGIN) is None
    assert _fast_prediction(json.dumps({**VALID, "model_version": "é"}).encode(), ORIGIN) is not None  # \u00e9
    assert _fast_prediction(json.dumps({**VALID, "model_version": "a\x00"}).encode(), ORIGIN) is None  # \u0000
