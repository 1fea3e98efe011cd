"""Notification: the record stored in the outbox and read back by every channel.

(It lives in alerts/notification.py; its tests sit here beside the channels that
consume it.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from alerts.errors import AlertsError, NotificationError
from alerts.notification import Notification

MakeNotification = Callable[..., Notification]


def test_to_dict_is_json_with_iso_utc_timestamps(make_notification: MakeNotification) -> None:
    data = make_notification(feature="amount").to_dict()

    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["window_start"] == "2026-03-01T10:00:00Z"
    assert data["window_end"] == "2026-03-01T11:00:00Z"
    assert data["first_breach_at"] == "2026-03-01T09:00:00Z"
    assert data["feature"] == "amount"
    assert data["value"] == 0.42
    assert data["details"] == {"drifted_features": ["amount", "country"], "drift_share_threshold": 0.5}
    assert set(data) == {
        "rule", "model", "model_version", "feature", "metric", "value", "condition", "severity",
        "state", "event", "window_start", "window_end", "first_breach_at", "dashboard_url",
        "idempotency_key", "details", "segment",
    }


def test_from_dict_restores_an_equal_notification(make_notification: MakeNotification) -> None:
    original = make_notification(feature="country", event="repeat")
    stored = json.dumps(original.to_dict())

    assert Notification.from_dict(json.loads(stored)) == original


def test_non_utc_datetimes_are_converted_to_utc(make_notification: MakeNotification) -> None:
    berlin = timezone(timedelta(hours=1))
    n = make_notification(first_breach_at=datetime(2026, 3, 1, 10, 30, tzinfo=berlin))

    assert n.first_breach_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert n.first_breach_at.utcoffset() == timedelta(0)


def test_nan_value_is_stored_as_null_and_read_back_as_nan(make_notification: MakeNotification) -> None:
    n = make_notification(value=float("nan"), state="resolved", event="resolved")
    data = n.to_dict()

    assert data["value"] is None
    json.dumps(data, allow_nan=False)
    assert math.isnan(Notification.from_dict(data).value)


def test_details_are_normalised_to_json_types(make_notification: MakeNotification) -> None:
    n = make_notification(details={
        "sample_sizes": (np.int64(1000), 250),
        "p_value": float("nan"),
        "computed_at": datetime(2026, 3, 1, 11, 0, tzinfo=UTC),
    })

    assert n.details == {
        "sample_sizes": [1000, 250],
        "p_value": None,
        "computed_at": "2026-03-01T11:00:00Z",
    }
    assert type(n.details["sample_sizes"][0]) is int


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"severity": "fatal"}, "severity must be one of"),
        ({"state": "pending"}, "state must be one of"),
        ({"event": "resolved"}, "event 'resolved' needs state 'resolved'"),
        ({"window_start": datetime(2026, 3, 1, 10, 0)}, "has no timezone"),
        ({"window_end": datetime(2026, 3, 1, 9, 0, tzinfo=UTC)}, "must be after window_start"),
        ({"value": "0.4"}, "value must be a number"),
        ({"idempotency_key": "has space"}, "idempotency_key must be"),
        ({"idempotency_key": "line\nbreak"}, "idempotency_key must be"),
        ({"details": {"x": object()}}, "details.x holds a object"),
    ],
)
def test_invalid_fields_are_refused_with_the_field_named(
    make_notification: MakeNotification, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(NotificationError, match=message):
        make_notification(**overrides)


def test_from_dict_names_unknown_and_missing_keys(make_notification: MakeNotification) -> None:
    data = make_notification().to_dict()

    with pytest.raises(NotificationError, match=r"unknown keys \['webhook_url'\]"):
        Notification.from_dict({**data, "webhook_url": "https://hooks.slack.com/x"})
    del data["metric"]
    with pytest.raises(NotificationError, match=r"misses keys \['metric'\]"):
        Notification.from_dict(data)


def test_from_dict_refuses_a_bad_timestamp(make_notification: MakeNotification) -> None:
    data = {**make_notification().to_dict(), "window_end": "yesterday"}

    with pytest.raises(NotificationError, match="window_end='yesterday' is not an ISO-8601"):
        Notification.from_dict(data)


def test_notification_errors_belong_to_the_alerts_hierarchy() -> None:
    assert issubclass(NotificationError, AlertsError)
