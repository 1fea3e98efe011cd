"""The outbox (table ``notifications``): every notification is a row first.

The evaluator writes rows in the same transaction as the alert state change that
calls for them (:func:`enqueue`); the dispatcher claims due rows (:func:`claim_due`),
delivers them and records the outcome (:func:`settle`). Each row has a stable
``idempotency_key`` (a hash of the alert, the event, the window or repeat sequence,
and the channel): enqueueing the same event again inserts nothing, and the key
travels with every delivery attempt (``Idempotency-Key`` header, email Message-ID)
so a receiver can drop the rare duplicate.

Claiming leases a row: ``attempts`` goes up by one and ``next_attempt_at`` moves a
lease into the future, in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so no lock is held while a receiver is
slow. ``attempts`` is also the fencing token: only the claimer of the current
attempt can reschedule or fail the row, and a dispatcher that dies mid-delivery
simply lets the lease run out, after which another claims the row again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode

from sqlalchemy import Connection, func, select, update

from alerts.notification import Event, Notification, Severity, State
from alerts.state import Alert
from alerts.transactions import for_update, insert_ignore
from monitor.clock import iso_utc
from monitor.store.tables import notifications

__all__ = [
    "Delivered",
    "Failed",
    "OutboxItem",
    "Outcome",
    "Retry",
    "Silenced",
    "claim_due",
    "dashboard_url",
    "enqueue",
    "idempotency_key",
    "next_due",
    "settle",
]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One claimed notification row; ``attempts`` counts the attempt now running."""

    id: int
    alert_id: int | None
    channel: str
    event: str
    payload: Mapping[str, Any]
    idempotency_key: str
    attempts: int
    created_at: datetime

    def notification(self) -> Notification:
        """The stored payload as a Notification (NotificationError when unreadable)."""
        return Notification.from_dict(self.payload)


@dataclass(frozen=True, slots=True)
class Delivered:
    summary: str


@dataclass(frozen=True, slots=True)
class Retry:
    at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class Failed:
    error: str


@dataclass(frozen=True, slots=True)
class Silenced:
    silence_id: int


Outcome = Delivered | Retry | Failed | Silenced


def idempotency_key(alert: Alert, event: str, marker: datetime, channel: str) -> str:
    """Stable key of one notification: the same inputs always give the same key.

    ``marker`` tells the notifications of one alert and event apart: the window
    that fired or resolved it, or for a repeat the time of the notification it
    repeats.
    """
    parts = [
        alert.rule, alert.model, alert.feature or "", str(alert.id), iso_utc(alert.started_at),
        event, iso_utc(marker), channel,
    ]
    if alert.segment is not None:  # (keys of whole-model alerts stay as they were)
        parts.append(alert.segment)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def dashboard_url(base_url: str, *, model: str, model_version: str, window_start: datetime,
                  segment: str | None = None, page: str = "model") -> str:
    """``{base_url}/model?model=M&version=V&window=<ISO window_start>`` (``&segment=S`` for a segment;
    ``page``: ``versions`` for an alert comparing a challenger with the champion)."""
    parameters = {"model": model, "version": model_version, "window": iso_utc(window_start)}
    if segment is not None:
        parameters["segment"] = segment
    query = urlencode(parameters)
    return f"{base_url.rstrip('/')}/{page}?{query}"


def enqueue(
    connection: Connection,
    *,
    alert: Alert,
    event: Event,
    channels: Sequence[str],
    window_start: datetime,
    window_end: datetime,
    value: float,
    details: Mapping[str, Any],
    marker: datetime,
    dashboard_base_url: str,
    now: datetime,
) -> int:
    """Write one notification per channel (skipping keys already stored); return how
    many rows were inserted."""
    if alert.id is None:
        raise ValueError("save the alert before enqueueing its notifications")
    version = alert.model_version or ""
    state: State = "resolved" if event == "resolved" else "firing"
    url = dashboard_url(dashboard_base_url, model=alert.model, model_version=version, window_start=window_start,
                        segment=alert.segment, page="versions" if alert.compare else "model")
    rows = []
    for channel in channels:
        key = idempotency_key(alert, event, marker, channel)
        notification = Notification(
            rule=alert.rule,
            model=alert.model,
            model_version=version,
            feature=alert.feature,
            segment=alert.segment,
            metric=alert.metric,
            value=value,
            condition=alert.condition,
            severity=cast(Severity, alert.severity),
            state=state,
            event=event,
            window_start=window_start,
            window_end=window_end,
            first_breach_at=alert.started_at,
            dashboard_url=url,
            idempotency_key=key,
            details=details,
        )
        rows.append({
            "alert_id": alert.id,
            "channel": channel,
            "event": event,
            "payload": notification.to_dict(),
            "idempotency_key": key,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        })
    return insert_ignore(connection, notifications, rows, unique=("idempotency_key",))


def claim_due(connection: Connection, *, now: datetime, limit: int, lease: timedelta) -> list[OutboxItem]:
    """Lease up to ``limit`` pending rows due at ``now`` (oldest first)."""
    statement = (
        select(notifications)
        .where(notifications.c.status == "pending", notifications.c.next_attempt_at <= now)
        .order_by(notifications.c.next_attempt_at, notifications.c.id)
        .limit(limit)
    )
    rows = connection.execute(for_update(statement, connection, skip_locked=True)).all()
    if not rows:
        return []
    connection.execute(
        update(notifications)
        .where(notifications.c.id.in_([row.id for row in rows]))
        .values(attempts=notifications.c.attempts + 1, next_attempt_at=now + lease)
    )
    return [
        OutboxItem(
            id=int(row.id),
            alert_id=row.alert_id,
            channel=row.channel,
            event=row.event,
            payload=row.payload,
            idempotency_key=row.idempotency_key,
            attempts=int(row.attempts) + 1,
            created_at=row.created_at,
        )
        for row in rows
    ]


def settle(connection: Connection, item: OutboxItem, outcome: Outcome, *, now: datetime) -> bool:
    """Record ``outcome`` for a claimed row; False when the row moved on meanwhile
    (another dispatcher re-claimed it after this one's lease ran out)."""
    row = notifications.c
    statement = update(notifications).where(row.id == item.id, row.status == "pending")
    if isinstance(outcome, Delivered):
        # A delivery is a fact: it is recorded even if the lease ran out meanwhile.
        statement = statement.values(status="delivered", delivered_at=now, next_attempt_at=None)
    else:
        statement = statement.where(row.attempts == item.attempts)
        if isinstance(outcome, Retry):
            statement = statement.values(next_attempt_at=outcome.at, last_error=outcome.error)
        elif isinstance(outcome, Failed):
            statement = statement.values(status="failed", next_attempt_at=None, last_error=outcome.error)
        else:
            statement = statement.values(
                status="silenced", silenced_by=outcome.silence_id, next_attempt_at=None,
                attempts=item.attempts - 1,  # nothing was sent
            )
    return bool(connection.execute(statement).rowcount)


def next_due(connection: Connection) -> datetime | None:
    """When the earliest pending row is due (None: nothing pending)."""
    statement = select(func.min(notifications.c.next_attempt_at)).where(notifications.c.status == "pending")
    value: datetime | None = connection.execute(statement).scalar_one_or_none()
    if value is not None and value.tzinfo is None:  # func.min bypasses the column type on SQLite
        value = datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
    return value

