"""How the alerts package talks to the store: short write transactions that take
their locks up front, insert-or-ignore, and driver errors translated at the edge.

SQLite: a read-then-write transaction starts with ``BEGIN IMMEDIATE`` (execution
option ``sqlite_immediate``), so concurrent writers queue on the busy timeout
instead of failing on the lock upgrade. PostgreSQL: callers lock the rows they are
about to change with ``SELECT … FOR UPDATE`` (``for_update`` below is a no-op on
SQLite, where the whole database is already locked).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Select, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError

from monitor.errors import StoreError, StoreUnavailableError
from monitor.store.engine import redact_url

__all__ = ["for_update", "insert_ignore", "read_connection", "write_transaction"]


@contextmanager
def write_transaction(engine: Engine, action: str) -> Iterator[Connection]:
    """One transaction that commits on success; ``action`` names it in errors
    ("evaluate window fraud 2026-03-01T10:00Z")."""
    try:
        with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
            yield connection
    except SQLAlchemyError as exc:
        raise _translate(exc, engine, action) from exc


@contextmanager
def read_connection(engine: Engine, action: str) -> Iterator[Connection]:
    """A plain connection for reads, with driver errors translated."""
    try:
        with engine.connect() as connection:
            yield connection
    except SQLAlchemyError as exc:
        raise _translate(exc, engine, action) from exc


def for_update(statement: Select[Any], connection: Connection, *, skip_locked: bool = False) -> Select[Any]:
    """``statement`` with ``FOR UPDATE [SKIP LOCKED]`` on PostgreSQL, unchanged on SQLite."""
    if connection.dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=skip_locked)
    return statement


def insert_ignore(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, unique: Sequence[str]
) -> int:
    """Insert ``rows``, skipping any that collide on the ``unique`` columns; return
    how many were inserted."""
    if not rows:
        return 0
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    inserted = 0
    for row in rows:
        # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT DO NOTHING.
        statement = (
            insert(table).values(**row).on_conflict_do_nothing(index_elements=list(unique)).returning(*table.primary_key)
        )
        inserted += len(connection.execute(statement).all())
    return inserted


def _translate(exc: SQLAlchemyError, engine: Engine, action: str) -> StoreError:
    where = redact_url(str(engine.url))
    detail = str(getattr(exc, "orig", None) or exc).strip()
    unavailable = isinstance(exc, OperationalError | InterfaceError | DisconnectionError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
    if unavailable:
        return StoreUnavailableError(f"{action}: store {where} is unavailable ({detail[:300]}); retry later")
    return StoreError(f"{action}: store {where} refused the change ({detail[:500]})")
