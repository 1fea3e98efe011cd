"""Session-wide real services: one Kafka broker and one PostgreSQL server.

Both are started by the project's own scripts (``scripts/local_kafka.py``,
``scripts/local_postgres.py``) the first time a test asks for them, and stopped
at the end of the session. Store tests take the ``store_url`` / ``engine``
fixtures, which run each test on SQLite AND PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from local_kafka import LocalKafka  # noqa: E402
from local_postgres import LocalPostgres  # noqa: E402

from monitor.store.engine import create_store_engine  # noqa: E402
from monitor.store.schema import upgrade_schema  # noqa: E402

STORE_BACKENDS = ["sqlite", "postgresql"]


def _tempdir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)  # the postgres user must be able to enter it
    return path


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[LocalKafka]:
    """A real single-node KRaft broker on free loopback ports."""
    base = _tempdir("driftwatch-kafka-")
    broker = LocalKafka(base_dir=base)
    broker.start()
    yield broker
    broker.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A real PostgreSQL server (Debian's package), run as the postgres user."""
    base = _tempdir("driftwatch-pg-")
    server = LocalPostgres(base_dir=base)
    server.start()
    yield server
    server.stop("immediate")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store of each backend (a fresh database per test)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'driftwatch.db'}"
    server: LocalPostgres = request.getfixturevalue("postgres_server")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A store engine with the schema created by the real migrations."""
    engine = create_store_engine(store_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def topic_names() -> dict[str, str]:
    """Unique topic names so tests never read each other's messages."""
    suffix = uuid.uuid4().hex[:10]
    return {"predictions": f"predictions-{suffix}", "labels": f"labels-{suffix}", "group": f"group-{suffix}"}


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's driftwatch.yaml or DRIFTWATCH_* variables."""
    for name in list(os.environ):
        if name.startswith("DRIFTWATCH_") and name not in ("DRIFTWATCH_CACHE",):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _no_orphan_processes() -> Iterator[None]:
    """Child processes a test started never outlive it, even when it fails."""
    yield
    from tests.support.traffic import kill_live_processes

    kill_live_processes()


_LONGEST_FIRST = {"slow": 0, "browser": 1, "kafka": 2}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the minute-long tests (streams, crashes, browsers) first.

    pytest-xdist hands tests out in this order, one at a time (``--maxschedchunk 1`` in
    scripts/test.sh): longest first keeps both workers busy to the end. (A stable sort:
    the rest keep their order.)"""
    items.sort(key=lambda item: min((_LONGEST_FIRST[mark.name] for mark in item.iter_markers()
                                     if mark.name in _LONGEST_FIRST), default=len(_LONGEST_FIRST)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What tests measured (``record_property("measured", ...)``, e.g. the e2e detection
    delays), printed after the run: a passing test's own output is not shown, and
    pytest-xdist workers' output never reaches the terminal."""
    measured = [f"{report.nodeid}: {value}"
                for reports in terminalreporter.stats.values() for report in reports
                if getattr(report, "when", None) == "call"
                for name, value in getattr(report, "user_properties", ()) if name == "measured"]
    if measured:
        terminalreporter.section("measured")
        for line in measured:
            terminalreporter.write_line(line)
