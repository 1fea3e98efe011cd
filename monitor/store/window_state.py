"""``window_state``: what each window last saw, and who is computing it right now.

One row per (model, model_version, window_start). ``computed_at`` and
``data_watermark`` (the newest ``ingested_at`` among the window's predictions and
labels at its last computation) tell the scheduler whether the window is due;
``claimed_by``/``claimed_until`` make sure one scheduler at a time computes it.

A claim is a single conditional UPDATE — it succeeds only when nobody holds an
unexpired claim — so it is safe across processes and hosts on PostgreSQL (row
lock) and SQLite (one writer at a time). A claim that is never released (the
process died) expires after its lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from monitor.store.tables import window_state

__all__ = ["WindowKey", "WindowState", "claim_window", "read_window_state", "read_window_states", "release_window"]


@dataclass(frozen=True, slots=True, order=True)
class WindowKey:
    """One model version's window ``[start, end)``."""

    model: str
    model_version: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class WindowState:
    key: WindowKey
    computed_at: datetime | None
    data_watermark: datetime | None
    is_partial: bool
    claimed_by: str | None
    claimed_until: datetime | None


def _where(key: WindowKey) -> ColumnElement[bool]:
    return and_(
        window_state.c.model == key.model,
        window_state.c.model_version == key.model_version,
        window_state.c.window_start == key.start,
    )


def _state(row: Row[Any]) -> WindowState:
    return WindowState(
        key=WindowKey(row.model, row.model_version, row.window_start, row.window_end),
        computed_at=row.computed_at,
        data_watermark=row.data_watermark,
        is_partial=bool(row.is_partial),
        claimed_by=row.claimed_by,
        claimed_until=row.claimed_until,
    )


def read_window_state(connection: Connection, key: WindowKey) -> WindowState | None:
    row = connection.execute(select(window_state).where(_where(key))).first()
    return None if row is None else _state(row)


def read_window_states(
    engine: Engine, *, model: str, since: datetime | None = None, include_partial: bool = False
) -> dict[tuple[str, datetime], WindowState]:
    """States of a model's windows starting at or after ``since``, by (version, start).

    ``include_partial`` adds every window last computed as partial, however old.
    """
    query = select(window_state).where(window_state.c.model == model)
    if since is not None:
        window_filter = window_state.c.window_start >= since
        query = query.where(or_(window_filter, window_state.c.is_partial) if include_partial else window_filter)
    with engine.connect() as connection:
        states = [_state(row) for row in connection.execute(query)]
    return {(state.key.model_version, state.key.start): state for state in states}


def claim_window(
    engine: Engine, key: WindowKey, *, worker: str, now: datetime, lease: timedelta
) -> WindowState | None:
    """Claim ``key`` for ``worker`` until ``now + lease``; None if someone else holds it.

    Creates the state row on first use. Returns the state as it was when claimed
    (so the caller can check the window is still due: another scheduler may have
    just computed it).
    """
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
        connection.execute(
            insert(window_state)
            .values(model=key.model, model_version=key.model_version, window_start=key.start, window_end=key.end,
                    is_partial=False)
            .on_conflict_do_nothing(index_elements=["model", "model_version", "window_start"])
        )
        claimed = connection.execute(
            update(window_state)
            .where(
                _where(key),
                or_(
                    window_state.c.claimed_until.is_(None),
                    window_state.c.claimed_until < now,
                    window_state.c.claimed_by == worker,
                ),
            )
            .values(claimed_by=worker, claimed_until=now + lease)
        )
        if claimed.rowcount != 1:
            return None
        return read_window_state(connection, key)


def release_window(engine: Engine, key: WindowKey, *, worker: str) -> None:
    """Give a claim back without recording a computation."""
    with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
        connection.execute(
            update(window_state)
            .where(_where(key), window_state.c.claimed_by == worker)
            .values(claimed_by=None, claimed_until=None)
        )
