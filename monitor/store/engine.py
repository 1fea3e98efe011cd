"""Engines for the store URL: SQLite (default, no setup) or PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from monitor.errors import StoreError
from monitor.store.urls import redact_text, redact_url

__all__ = ["create_store_engine", "is_postgres", "redact_url", "sqlite_file"]


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (None for other stores and in-memory).

    >>> sqlite_file("sqlite:///data/dw.db")
    PosixPath('data/dw.db')
    >>> sqlite_file("sqlite://") is None, sqlite_file("postgresql://u@h/db") is None
    (True, True)
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_store_engine(url: str, *, read_only: bool = False, pool_size: int = 5, must_exist: bool = False) -> Engine:
    """Create an engine with the settings driftwatch relies on.

    SQLite runs in WAL mode with ``synchronous=FULL`` (a committed batch survives a
    killed process and a power cut) and a long busy timeout so the dashboard and a
    scheduler can read while ingestion writes. ``read_only`` opens SQLite with
    ``mode=ro`` and makes PostgreSQL sessions ``default_transaction_read_only``.
    ``must_exist`` refuses a SQLite file that is not there instead of creating it:
    only ``driftwatch init`` creates a store.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"store URL {redact_url(url)!r} is not valid; use sqlite:///path/to/file.db or "
            "postgresql+psycopg://user@host/db (config key store / env DRIFTWATCH_STORE)"
        ) from None
    backend = parsed.get_backend_name()
    if backend != "sqlite" and url.partition("://")[2].split("?", 1)[0].count("@") > 1:
        # SQLAlchemy would take the text after the first '@' for the host name, and the
        # driver's "cannot resolve host" error would then show part of the password.
        raise StoreError(
            f"store URL {redact_url(url)!r} has more than one '@' before the host; percent-encode '@' in the "
            "user name or password as %40 (e.g. postgresql+psycopg://user:p%40ss@host/db)"
        )
    kwargs: dict[str, Any] = {"future": True}
    if backend == "sqlite":
        database = parsed.database or ""
        file = sqlite_file(url)
        if must_exist and file is not None and not file.exists():
            raise StoreError(f"store {redact_url(url)} does not exist (no file {file.resolve()}); "
                             "run `driftwatch init` to create it, or fix the config key store")
        if read_only and database and database != ":memory:":
            url = f"sqlite:///file:{database}?mode=ro&uri=true"
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    elif backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
            url = parsed.render_as_string(hide_password=False)
        connect_args: dict[str, Any] = {"connect_timeout": 5, "application_name": "driftwatch"}
        if read_only:
            connect_args["options"] = "-c default_transaction_read_only=on"
        kwargs.update(pool_pre_ping=True, pool_size=pool_size, connect_args=connect_args)
    else:
        raise StoreError(f"store backend {backend!r} is not supported; use sqlite or postgresql")
    try:
        engine = create_engine(url, **kwargs)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise StoreError(f"cannot open store {redact_url(url)}: {redact_text(str(exc), url)}") from None
    if backend == "sqlite":
        _configure_sqlite(engine, read_only=read_only)
    return engine


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _configure_sqlite(engine: Engine, *, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not read_only:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Read-then-write transactions ask for IMMEDIATE (execution option
        # sqlite_immediate) so two writers queue on busy_timeout instead of failing
        # with SQLITE_BUSY on the lock upgrade; plain reads stay deferred.
        immediate = not read_only and connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
