"""``window_state``: what each window last saw, and who is computing it right now.

One row per (model, model_version, window_start). ``computed_at`` and
``data_watermark`` (the newest ``ingested_at`` among the window's predictions and
labels at its last computation) tell the scheduler whether the window is due;
``claimed_by``/``claimed_at``/``claimed_until`` make sure one scheduler at a time
computes it, and ``claimed_process`` names the claiming process (see
:mod:`monitor.jobs.lease`).

A claim is a conditional UPDATE — it succeeds only when nobody holds an unexpired
claim, or the holder's process is known to be gone — so it is safe across
processes and hosts on PostgreSQL (row lock) and SQLite (one writer at a time). A
claim that is never released (the process died) expires after its lease; its
holder extends the lease while it computes (:func:`extend_claims`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from monitor.store.dialect import dialect_of
from monitor.store.tables import window_state

__all__ = [
    "WindowKey",
    "WindowState",
    "claim_window",
    "extend_claims",
    "read_claim",
    "read_window_state",
    "read_window_states",
    "release_window",
]

RELEASED = {"claimed_by": None, "claimed_at": None, "claimed_until": None, "claimed_process": None}
"""The claim columns of a window nobody computes."""


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
    claimed_at: datetime | None = None
    claimed_process: str | None = None


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
        claimed_at=row.claimed_at,
        claimed_process=row.claimed_process,
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
    engine: Engine,
    key: WindowKey,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    process: str | None = None,
    process_gone: Callable[[str | None], bool] | None = None,
) -> WindowState | None:
    """Claim ``key`` for ``worker`` until ``now + lease``; None if someone else holds it.

    Creates the state row on first use. A claim held by another worker is taken over
    when it expired, or when ``process_gone`` says its process (``claimed_process``)
    has ended. ``process`` names the claiming process. Returns the state as it was
    when claimed (so the caller can check the window is still due: another scheduler
    may have just computed it).
    """
    insert = dialect_of(engine).upsert
    with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
        connection.execute(
            insert(window_state)
            .values(model=key.model, model_version=key.model_version, window_start=key.start, window_end=key.end,
                    is_partial=False)
            .on_conflict_do_nothing(index_elements=["model", "model_version", "window_start"])
        )
        free = or_(
            window_state.c.claimed_until.is_(None),
            window_state.c.claimed_until < now,
            window_state.c.claimed_by == worker,
        )
        before = read_window_state(connection, key)
        if (before is not None and before.claimed_by is not None and before.claimed_process is not None
                and process_gone is not None and process_gone(before.claimed_process)):
            # Its process has ended: take it over, unless it changed hands meanwhile.
            free = or_(free, and_(window_state.c.claimed_by == before.claimed_by,
                                  window_state.c.claimed_process == before.claimed_process))
        claimed = connection.execute(
            update(window_state)
            .where(_where(key), free)
            .values(claimed_by=worker, claimed_at=now, claimed_until=now + lease, claimed_process=process)
        )
        if claimed.rowcount != 1:
            return None
        return read_window_state(connection, key)


def read_claim(engine: Engine, key: WindowKey) -> WindowState | None:
    """The window's state, to tell who holds its claim."""
    with engine.connect() as connection:
        return read_window_state(connection, key)


def extend_claims(engine: Engine, keys: Sequence[WindowKey], *, worker: str, until: datetime) -> list[WindowKey]:
    """Extend ``worker``'s claims on ``keys`` to ``until`` (the heartbeat); return the
    keys it no longer holds (taken over after its lease ran out)."""
    lost = []
    with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
        for key in keys:
            extended = connection.execute(
                update(window_state)
                .where(_where(key), window_state.c.claimed_by == worker)
                .values(claimed_until=until)
            )
            if extended.rowcount != 1:
                lost.append(key)
    return lost


def release_window(engine: Engine, key: WindowKey, *, worker: str) -> None:
    """Give a claim back without recording a computation."""
    with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
        connection.execute(
            update(window_state)
            .where(_where(key), window_state.c.claimed_by == worker)
            .values(**RELEASED)
        )
