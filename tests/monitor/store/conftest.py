"""Fixtures of the store tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

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
