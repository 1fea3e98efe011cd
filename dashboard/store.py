"""The dashboard's read-only connection to the store, and its errors in plain words.

One engine per store URL for the whole server (``st.cache_resource``), opened
read-only: SQLite with ``mode=ro``, PostgreSQL sessions with
``default_transaction_read_only``. Every database error is translated here into a
:class:`DashboardStoreError` whose message tells the on-call engineer what is
wrong and what to do; pages show it with ``st.error`` instead of a stack trace.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql import Executable

from dashboard.settings import QUERY_TTL
from monitor.errors import StoreUnavailableError
from monitor.store.engine import create_store_engine, redact_url

__all__ = ["REQUIRED_TABLES", "DashboardStoreError", "check_store", "describe_store_error", "get_engine",
           "read_frame"]

REQUIRED_TABLES = ("metric_values", "alerts", "notifications", "silences", "dead_letters", "predictions")


class DashboardStoreError(StoreUnavailableError):
    """The store cannot answer the dashboard; the message says why and what to do."""


def _dispose(engine: Engine) -> None:
    engine.dispose()


@st.cache_resource(show_spinner=False, on_release=_dispose)
def get_engine(url: str) -> Engine:
    """The shared read-only engine for ``url``."""
    return create_store_engine(url, read_only=True, pool_size=4)


def describe_store_error(url: str, exc: BaseException) -> str:
    """A message an on-call engineer can act on, for an error raised by the store.

    >>> describe_store_error("sqlite:///x.db", Exception("no such table: metric_values"))
    'The store sqlite:///x.db has no driftwatch schema (no such table: metric_values). Run `driftwatch init` \
against it, or point the dashboard at the right store (config key store / env DRIFTWATCH_STORE).'
    """
    where = redact_url(url)
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = detail.lower()
    missing_table = "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered)
    if missing_table or "no driftwatch" in lowered:
        return (
            f"The store {where} has no driftwatch schema ({detail}). Run `driftwatch init` against it, "
            "or point the dashboard at the right store (config key store / env DRIFTWATCH_STORE)."
        )
    if "unable to open database file" in lowered:
        return (
            f"The SQLite store {where} cannot be opened ({detail}): the file is missing or unreadable. "
            "Run `driftwatch init` to create it, or fix the path (config key store / env DRIFTWATCH_STORE)."
        )
    if (isinstance(exc, DBAPIError) and exc.connection_invalidated) or any(
        word in lowered for word in ("connection", "could not connect", "timeout", "refused", "terminating")
    ):
        return (
            f"Cannot reach the store {where} ({detail}). Check that the database is running and reachable; "
            "the dashboard retries on every refresh."
        )
    return f"The store {where} failed to answer a dashboard query ({detail})."


@st.cache_data(ttl=QUERY_TTL, show_spinner=False)
def check_store(url: str) -> None:
    """Raise :class:`DashboardStoreError` unless ``url`` is reachable and has the schema.

    Only success is cached: a failing store is asked again on every run.
    """
    try:
        engine = get_engine(url)
        with engine.connect() as connection:
            inspector = inspect(connection)
            missing = [table for table in REQUIRED_TABLES if not inspector.has_table(table)]
    except SQLAlchemyError as exc:
        raise DashboardStoreError(describe_store_error(url, exc)) from exc
    if missing:
        raise DashboardStoreError(
            describe_store_error(url, Exception(f"no driftwatch tables: {', '.join(missing)} missing"))
        )


def read_frame(url: str, statement: Executable) -> pd.DataFrame:
    """Run one select on the read-only engine; the rows as a DataFrame."""
    try:
        with get_engine(url).connect() as connection:
            result = connection.execute(statement)
            columns = list(result.keys())
            rows = result.fetchall()
    except SQLAlchemyError as exc:
        raise DashboardStoreError(describe_store_error(url, exc)) from exc
    return pd.DataFrame.from_records([tuple(row) for row in rows], columns=columns)
