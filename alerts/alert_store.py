"""Alert rows and evaluation cursors in the store (tables ``alerts`` and
``alert_evaluations``).

The cursor of a (rule, model) is the newest window the rule has evaluated for the
model; evaluating a window at or before it again is a no-op, so replayed windows
never count twice. The cursor also keeps the newest window computation the rule has
judged (``computed_through``): a window at or before the cursor that was recomputed
since (late data) is judged again (see :mod:`alerts.evaluation`). Locking the cursor row also serialises every writer of
that rule's alerts for that model (see :mod:`alerts.transactions`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, select, update

from alerts.rules import Series, series_of
from alerts.state import Alert
from alerts.transactions import for_update, insert_ignore
from monitor.store.tables import alert_evaluations, alerts

__all__ = [
    "Cursor",
    "advance_cursor",
    "covers_window",
    "delete_alert",
    "load_alert",
    "load_cursors",
    "lock_cursor",
    "open_alerts",
    "open_alerts_of",
    "register_cursors",
    "save_alert",
]

_OPEN = ("pending", "firing")


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far ``rule`` has evaluated ``model`` (None: not yet). ``evaluated_at`` is
    when it last evaluated a window or, before the first one, when the pair was
    first seen (registered)."""

    rule: str
    model: str
    last_window_start: datetime | None
    last_window_end: datetime | None
    evaluated_at: datetime
    computed_through: datetime | None = None

    def done(self, window_start: datetime) -> bool:
        """True when the window starting at ``window_start`` was already evaluated."""
        return self.last_window_start is not None and window_start <= self.last_window_start

    def recomputed(self, window_start: datetime, computed_at: datetime | None) -> bool:
        """True when a window already evaluated was computed again since (its data changed)."""
        return (self.done(window_start) and computed_at is not None and self.computed_through is not None
                and computed_at > self.computed_through)


def lock_cursor(connection: Connection, *, rule: str, model: str, now: datetime) -> Cursor:
    """The cursor of (rule, model), created if missing and locked until commit."""
    insert_ignore(
        connection,
        alert_evaluations,
        [{"rule": rule, "model": model, "evaluated_at": now}],
        unique=("rule", "model"),
    )
    statement = select(alert_evaluations).where(
        alert_evaluations.c.rule == rule, alert_evaluations.c.model == model
    )
    return _cursor(connection.execute(for_update(statement, connection)).one())


def register_cursors(connection: Connection, pairs: Iterable[tuple[str, str]], *, now: datetime) -> int:
    """Create the missing cursors of (rule, model) pairs, first seen at ``now``."""
    rows = [{"rule": rule, "model": model, "evaluated_at": now} for rule, model in pairs]
    return insert_ignore(connection, alert_evaluations, rows, unique=("rule", "model"))


def advance_cursor(connection: Connection, cursor: Cursor, *, window_start: datetime, window_end: datetime,
                   now: datetime, computed_at: datetime | None = None) -> Cursor:
    """Record that the rule judged the window (computed at ``computed_at``); the cursor
    never moves back (a re-judged older window only moves ``computed_through``)."""
    if cursor.last_window_start is not None and window_start < cursor.last_window_start:
        window_start, window_end = cursor.last_window_start, cursor.last_window_end or window_end
    through = cursor.computed_through
    if computed_at is not None and (through is None or computed_at > through):
        through = computed_at
    connection.execute(
        update(alert_evaluations)
        .where(alert_evaluations.c.rule == cursor.rule, alert_evaluations.c.model == cursor.model)
        .values(last_window_start=window_start, last_window_end=window_end, evaluated_at=now,
                computed_through=through)
    )
    return replace(cursor, last_window_start=window_start, last_window_end=window_end, evaluated_at=now,
                   computed_through=through)


def covers_window(connection: Connection, *, rule: str, model: str, feature: str | None,
                  window_start: datetime, segment: str | None = None, compare: str | None = None,
                  challenger: str | None = None) -> bool:
    """True when an alert of the series (rule, model, feature, segment; a comparison's: compare and
    challenger too), open or resolved, already took the window into account (it started at or before
    it and saw it or a later one)."""
    statement = select(alerts.c.id).where(
        alerts.c.rule == rule, alerts.c.model == model,
        alerts.c.feature.is_(None) if feature is None else alerts.c.feature == feature,
        alerts.c.segment.is_(None) if segment is None else alerts.c.segment == segment,
        alerts.c["compare"].is_(None) if compare is None else alerts.c["compare"] == compare,
        alerts.c.started_at <= window_start, alerts.c.last_window_start >= window_start,
    ).limit(1)
    if compare is not None:
        statement = statement.where(alerts.c.model_version == challenger)
    return connection.execute(statement).first() is not None


def load_cursors(connection: Connection) -> dict[tuple[str, str], Cursor]:
    """Every cursor, by (rule, model)."""
    rows = connection.execute(select(alert_evaluations)).all()
    return {(row.rule, row.model): _cursor(row) for row in rows}


def open_alerts_of(connection: Connection, *, rule: str, model: str) -> dict[Series, Alert]:
    """The open (pending or firing) alerts of (rule, model), by series (see :data:`alerts.rules.Series`), locked until
    commit (so a concurrent repeat cannot be overwritten with stale values)."""
    statement = (
        select(alerts)
        .where(alerts.c.rule == rule, alerts.c.model == model, alerts.c.state.in_(_OPEN))
        .order_by(alerts.c.id)
    )
    found: dict[Series, Alert] = {}
    for row in connection.execute(for_update(statement, connection)).all():
        alert = _alert(row)
        # The newest wins should two ever exist.
        found[series_of(alert.feature, alert.segment, alert.compare, alert.model_version)] = alert
    return found


def open_alerts(connection: Connection, *, states: Iterable[str] = _OPEN) -> list[Alert]:
    """Every alert in ``states`` (default: pending and firing), oldest first."""
    statement = select(alerts).where(alerts.c.state.in_(list(states))).order_by(alerts.c.id)
    return [_alert(row) for row in connection.execute(statement).all()]


def load_alert(connection: Connection, alert_id: int, *, lock: bool = False) -> Alert | None:
    statement = select(alerts).where(alerts.c.id == alert_id)
    if lock:
        statement = for_update(statement, connection)
    row = connection.execute(statement).one_or_none()
    return None if row is None else _alert(row)


def save_alert(connection: Connection, alert: Alert, *, now: datetime) -> Alert:
    """Insert (``id`` None) or update the alert row; return it with its id."""
    values = _values(alert)
    values["updated_at"] = now
    if alert.id is None:
        inserted = connection.execute(alerts.insert().values(**values).returning(alerts.c.id)).scalar_one()
        return replace(alert, id=int(inserted))
    connection.execute(update(alerts).where(alerts.c.id == alert.id).values(**values))
    return alert


def delete_alert(connection: Connection, alert_id: int) -> None:
    connection.execute(delete(alerts).where(alerts.c.id == alert_id))


def _values(alert: Alert) -> dict[str, Any]:
    return {
        "rule": alert.rule,
        "model": alert.model,
        "model_version": alert.model_version,
        "feature": alert.feature,
        "segment": alert.segment,
        "metric": alert.metric,
        "severity": alert.severity,
        "state": alert.state,
        "condition": alert.condition,
        "consecutive": alert.consecutive,
        "started_at": alert.started_at,
        "fired_at": alert.fired_at,
        "resolved_at": alert.resolved_at,
        "last_value": alert.last_value,
        "last_window_start": alert.last_window_start,
        "last_window_end": alert.last_window_end,
        "last_notified_at": alert.last_notified_at,
        "compare": alert.compare,
    }


def _cursor(row: Row[Any]) -> Cursor:
    return Cursor(
        rule=row.rule,
        model=row.model,
        last_window_start=row.last_window_start,
        last_window_end=row.last_window_end,
        evaluated_at=row.evaluated_at,
        computed_through=row.computed_through,
    )


def _alert(row: Row[Any]) -> Alert:
    return Alert(
        id=int(row.id),
        rule=row.rule,
        model=row.model,
        feature=row.feature,
        segment=row.segment,
        metric=row.metric,
        severity=row.severity,
        condition=row.condition,
        state=row.state,
        consecutive=int(row.consecutive),
        model_version=row.model_version,
        started_at=row.started_at,
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        last_value=row.last_value,
        last_window_start=row.last_window_start,
        last_window_end=row.last_window_end,
        last_notified_at=row.last_notified_at,
        compare=row.compare,
    )
