"""Silences: "notify nobody about rule R (for model M, feature F) until T".

A silence mutes notifications at delivery time (the dispatcher's mute stage); the
alerts it matches still change state, and their outbox rows end as ``silenced``
with ``silenced_by`` naming the silence. ``model`` or ``feature`` left empty match
any. Expiring a silence ends it now; silences are never deleted (they are history).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update

from alerts.errors import SilenceError
from alerts.transactions import read_connection, write_transaction
from monitor.store.tables import silences

__all__ = [
    "Silence",
    "active_silences",
    "create_silence",
    "expire_silence",
    "list_silences",
    "matching_silence",
]

_COLUMNS = ("rule", "model", "feature", "starts_at", "ends_at", "comment", "created_by", "created_at")


@dataclass(frozen=True, slots=True, kw_only=True)
class Silence:
    """One row of ``silences``."""

    id: int
    rule: str
    model: str | None
    feature: str | None
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str | None
    created_at: datetime

    def is_active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, *, rule: str, model: str, feature: str | None) -> bool:
        """True when this silence covers the alert series (rule, model, feature)."""
        return (
            self.rule == rule
            and (self.model is None or self.model == model)
            and (self.feature is None or self.feature == feature)
        )


def create_silence(
    engine: Engine,
    *,
    rule: str,
    duration: timedelta,
    comment: str,
    now: datetime,
    model: str | None = None,
    feature: str | None = None,
    created_by: str | None = None,
) -> Silence:
    """Silence ``rule`` (optionally only for ``model`` / ``feature``) from ``now`` for
    ``duration``. Raises :class:`SilenceError` on an empty rule or comment, or a
    duration that is not positive."""
    if not rule.strip():
        raise SilenceError("a silence needs the name of the rule to silence (--rule)")
    if not comment.strip():
        raise SilenceError("a silence needs a comment saying why (--comment), so others know")
    if duration <= timedelta():
        raise SilenceError(f"a silence must last a positive time, got {duration}; e.g. --for 2h")
    silence = Silence(
        id=0,
        rule=rule.strip(),
        model=model or None,
        feature=feature or None,
        starts_at=now,
        ends_at=now + duration,
        comment=comment.strip(),
        created_by=created_by,
        created_at=now,
    )
    values = {name: getattr(silence, name) for name in _COLUMNS}
    with write_transaction(engine, f"create a silence for rule {rule!r}") as connection:
        new_id = connection.execute(silences.insert().values(**values).returning(silences.c.id)).scalar_one()
    return replace(silence, id=int(new_id))


def list_silences(engine: Engine, *, now: datetime, include_expired: bool = False) -> list[Silence]:
    """Active silences (and, with ``include_expired``, every past one), oldest first."""
    with read_connection(engine, "list silences") as connection:
        found = _all(connection) if include_expired else active_silences(connection, now)
    return found


def expire_silence(engine: Engine, silence_id: int, *, now: datetime) -> Silence:
    """End silence ``silence_id`` at ``now`` (a no-op when it already ended)."""
    with write_transaction(engine, f"expire silence {silence_id}") as connection:
        row = connection.execute(select(silences).where(silences.c.id == silence_id)).one_or_none()
        if row is None:
            raise SilenceError(f"there is no silence {silence_id}; `driftwatch alerts silences` lists them")
        silence = _silence(row)
        if silence.ends_at <= now:
            return silence
        connection.execute(update(silences).where(silences.c.id == silence_id).values(ends_at=now))
    return replace(silence, ends_at=now)


def active_silences(connection: Connection, now: datetime) -> list[Silence]:
    statement = (
        select(silences)
        .where(silences.c.starts_at <= now, silences.c.ends_at > now)
        .order_by(silences.c.id)
    )
    return [_silence(row) for row in connection.execute(statement).all()]


def matching_silence(
    candidates: Iterable[Silence], *, rule: str, model: str, feature: str | None
) -> Silence | None:
    """The first of ``candidates`` that covers (rule, model, feature), if any."""
    for silence in candidates:
        if silence.matches(rule=rule, model=model, feature=feature):
            return silence
    return None


def _all(connection: Connection) -> list[Silence]:
    return [_silence(row) for row in connection.execute(select(silences).order_by(silences.c.id)).all()]


def _silence(row: Row[Any]) -> Silence:
    return Silence(
        id=int(row.id),
        rule=row.rule,
        model=row.model,
        feature=row.feature,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        comment=row.comment,
        created_by=row.created_by,
        created_at=row.created_at,
    )

