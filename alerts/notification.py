"""The one record a channel delivers: what fired (or resolved), where, and why.

A :class:`Notification` is built by the dispatcher from an alert and stored in the
outbox (``notifications.payload``) as :meth:`Notification.to_dict`; channels read it
back with :meth:`Notification.from_dict`. It never holds channel secrets: those live
in the channel objects only.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from alerts.errors import NotificationError
from monitor.clock import iso_utc

__all__ = ["Event", "Notification", "Severity", "State"]

Severity = Literal["info", "warning", "critical"]
State = Literal["firing", "resolved"]
Event = Literal["firing", "resolved", "repeat", "test"]

_STATE_OF_EVENT: dict[str, str] = {"firing": "firing", "repeat": "firing", "resolved": "resolved"}
_TIME_FIELDS = ("window_start", "window_end", "first_breach_at")
_TEXT_FIELDS = (
    "rule", "model", "model_version", "metric", "condition", "dashboard_url", "idempotency_key"
)
_IDEMPOTENCY_KEY_MAX = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """Everything one alert notification says, independent of the channel.

    ``value`` is the metric value of the window that caused the event (NaN when the
    window had none). ``details`` is JSON data such as the list of drifted features;
    non-finite floats in it become ``None`` and datetimes ISO strings, so that what
    is stored is exactly what is read back. All datetimes are timezone-aware UTC.
    ``idempotency_key`` is computed by the dispatcher and stays the same across
    every retry of this notification.
    """

    rule: str
    model: str
    model_version: str
    metric: str
    value: float
    condition: str
    severity: Severity
    state: State
    event: Event
    window_start: datetime
    window_end: datetime
    first_breach_at: datetime
    dashboard_url: str
    idempotency_key: str
    feature: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    segment: str | None = None  # "country=DE" for an alert about one segment; None: the whole model

    def __post_init__(self) -> None:
        for name in _TEXT_FIELDS:
            if not isinstance(getattr(self, name), str):
                raise NotificationError(f"Notification.{name} must be a string, got "
                                        f"{type(getattr(self, name)).__name__}")
        for name in ("rule", "model", "metric", "condition"):
            if not getattr(self, name).strip():
                raise NotificationError(f"Notification.{name} must not be empty")
        if self.feature is not None and not isinstance(self.feature, str):
            raise NotificationError("Notification.feature must be a string or None")
        if self.segment is not None and not isinstance(self.segment, str):
            raise NotificationError("Notification.segment must be a string or None")
        _check_choice("severity", self.severity, Severity)
        _check_choice("state", self.state, State)
        _check_choice("event", self.event, Event)
        expected_state = _STATE_OF_EVENT.get(self.event)
        if expected_state is not None and self.state != expected_state:
            raise NotificationError(
                f"Notification event {self.event!r} needs state {expected_state!r}, "
                f"got {self.state!r}"
            )
        if isinstance(self.value, bool) or not isinstance(self.value, numbers.Real):
            raise NotificationError(
                f"Notification.value must be a number, got {type(self.value).__name__}"
            )
        object.__setattr__(self, "value", float(self.value))
        for name in _TIME_FIELDS:
            object.__setattr__(self, name, _utc(name, getattr(self, name)))
        if self.window_end <= self.window_start:
            raise NotificationError(
                f"Notification window_end {iso_utc(self.window_end)} must be after "
                f"window_start {iso_utc(self.window_start)}"
            )
        _check_idempotency_key(self.idempotency_key)
        if not isinstance(self.details, Mapping):
            raise NotificationError("Notification.details must be a mapping")
        object.__setattr__(self, "details", _jsonable(dict(self.details), "details"))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable form stored in the outbox: ISO-8601 UTC timestamps,
        ``value`` as ``None`` when it is not finite."""
        data: dict[str, Any] = {}
        for f in fields(self):
            item = getattr(self, f.name)
            if isinstance(item, datetime):
                item = iso_utc(item)
            elif f.name == "value":
                item = item if math.isfinite(item) else None
            elif f.name == "details":
                item = dict(item)
            data[f.name] = item
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        """Rebuild a notification from :meth:`to_dict` output (e.g. an outbox payload).

        Raises :class:`NotificationError` naming the missing, unknown or bad key.
        """
        known = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.name not in ("feature", "details", "segment")}
        unknown = sorted(set(data) - known)
        if unknown:
            raise NotificationError(
                f"notification payload has unknown keys {unknown}; expected only {sorted(known)}"
            )
        missing = sorted(required - set(data))
        if missing:
            raise NotificationError(f"notification payload misses keys {missing}")
        values = dict(data)
        for name in _TIME_FIELDS:
            raw = values[name]
            if not isinstance(raw, str):
                raise NotificationError(f"notification payload {name} must be an ISO-8601 string")
            try:
                values[name] = datetime.fromisoformat(raw)
            except ValueError as exc:
                raise NotificationError(
                    f"notification payload {name}={raw!r} is not an ISO-8601 timestamp"
                ) from exc
        if values["value"] is None:
            values["value"] = math.nan
        return cls(**values)


def _check_choice(name: str, value: object, choices: Any) -> None:
    allowed = get_args(choices)
    if value not in allowed:
        raise NotificationError(f"Notification.{name} must be one of {list(allowed)}, got {value!r}")


def _utc(name: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise NotificationError(f"Notification.{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NotificationError(
            f"Notification.{name}={value.isoformat()} has no timezone; pass an aware UTC datetime"
        )
    return value.astimezone(UTC)


def _check_idempotency_key(key: str) -> None:
    # It travels as an HTTP header and inside Message-IDs: visible ASCII only.
    if not 0 < len(key) <= _IDEMPOTENCY_KEY_MAX or not all(
        "!" <= char <= "~" for char in key
    ):
        raise NotificationError(
            f"Notification.idempotency_key must be 1-{_IDEMPOTENCY_KEY_MAX} visible ASCII "
            f"characters without spaces, got {key!r}"
        )


def _jsonable(value: Any, where: str) -> Any:
    """A copy of ``value`` made of JSON types only (so storing and loading are exact)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):  # also numpy integers
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, datetime):
        return iso_utc(value) if value.tzinfo else value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotificationError(f"Notification.{where} keys must be strings, got {key!r}")
            out[key] = _jsonable(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise NotificationError(
        f"Notification.{where} holds a {type(value).__name__}, which JSON cannot store; "
        "pass numbers, strings, booleans, None, lists or mappings"
    )
