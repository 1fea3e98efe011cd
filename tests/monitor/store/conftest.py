"""Fixtures of the store tests."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from monitor.store.engine import create_store_engine
from monitor.store.schema import upgrade_schema


@pytest.fixture
def pg_engine(postgres_server):
    """A fresh PostgreSQL store, for the tests of what only PostgreSQL does (ids handed out at insert)."""
    engine = create_store_engine(postgres_server.create_database(f"s_{uuid.uuid4().hex[:12]}"))
    upgrade_schema(engine)
    yield engine
    engine.dispose()


def at_once(target: Callable[[], Any], *, times: int) -> list[BaseException]:
    """Run ``target`` on ``times`` threads at once; the exceptions they raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - returned to the test, which asserts on it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def assert_waits_for_open_insert(engine: Engine, insert_sql: str, params: tuple[Any, ...], *,
                                 commit_higher: Callable[[], Any], compact: Callable[[], Any]) -> None:
    """PostgreSQL hands ids out at insert, not at commit: ``compact`` must wait for an open insert.

    A transaction runs ``insert_sql`` and stays open while ``commit_higher`` commits a
    row with a higher id; ``compact`` must not finish before the open one commits.
    """
    slow = psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        slow.execute(insert_sql, params)
        commit_higher()
        done = threading.Event()
        compactor = threading.Thread(target=lambda: (compact(), done.set()))
        compactor.start()
        time.sleep(1.0)
        assert not done.is_set(), "compaction went on while an insert was still open"
        slow.commit()
        compactor.join(timeout=30)
    finally:
        slow.close()
    assert done.is_set()
