"""The dashboard on stores that are empty, missing, schema-less or down; and read-only."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from streamlit.testing.v1 import AppTest

from dashboard.navigation import PAGES
from dashboard.store import get_engine
from tests.dashboard.conftest import APP, RUN_TIMEOUT

PAGE_NAMES = [None, *[key for key in PAGES if key != "overview"]]


@pytest.mark.parametrize("page", PAGE_NAMES)
def test_every_page_renders_on_an_empty_store(engine: Engine, open_app: Callable[..., AppTest],
                                              page: str | None) -> None:
    at = open_app(page)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    shown = " ".join(e.value for e in [*at.info, *at.success])
    expected = {
        None: "No computed windows",
        "model": "No computed windows",
        "drift": "No computed windows",
        "alerts": "No alerts have been raised yet.",
        "data_quality": "No dead letters",
        "versions": "No window had two versions of a model serving at once yet.",
    }[page]
    assert expected in shown


def run_on(url: str, monkeypatch: pytest.MonkeyPatch, page: str | None = None) -> AppTest:
    monkeypatch.setenv("DRIFTWATCH_STORE", url)
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
    if page:
        at.switch_page(f"views/{page}.py")
    return at.run()


def only_error(at: AppTest) -> str:
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1
    assert not at.dataframe and not at.metric  # the page did not run
    return at.error[0].value


@pytest.mark.parametrize("page", [None, "model", "alerts"])
def test_a_missing_sqlite_file_is_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  page: str | None) -> None:
    message = only_error(run_on(f"sqlite:///{tmp_path / 'nowhere.db'}", monkeypatch, page))
    assert "cannot be opened" in message and "driftwatch init" in message
    assert not (tmp_path / "nowhere.db").exists()  # read-only: the dashboard never creates a store


def test_a_store_without_the_schema_says_run_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE unrelated (x INTEGER)").connection.close()
    message = only_error(run_on(f"sqlite:///{path}", monkeypatch, "drift"))
    assert "has no driftwatch schema" in message and "`driftwatch init`" in message


def test_a_postgres_store_that_is_down_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://driftwatch:secret@127.0.0.1:9/driftwatch"
    message = only_error(run_on(url, monkeypatch))
    assert message.startswith("**The dashboard cannot read the store.** Cannot reach the store")
    assert "secret" not in message  # the password is redacted


def test_a_bad_store_url_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    message = only_error(run_on("mysql://somewhere/db", monkeypatch))
    assert "not supported" in message


def test_the_dashboard_engine_cannot_write(engine: Engine, store_url: str) -> None:
    reader = get_engine(store_url)
    with reader.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM metric_values")).scalar_one() == 0
    with pytest.raises(DBAPIError, match=r"(?i)read.?only"), reader.begin() as connection:
        connection.execute(text("DELETE FROM dead_letters"))
