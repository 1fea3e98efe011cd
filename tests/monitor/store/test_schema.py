"""The schema: migrations, the generated SQL files, and the views, on both stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from monitor.errors import StoreError
from monitor.store.engine import create_store_engine
from monitor.store.render_sql import FILES, SQL_DIR
from monitor.store.schema import current_revision, head_revision, render_schema_sql, require_schema, upgrade_schema
from monitor.store.tables import metadata
from monitor.store.views import VIEWS


@pytest.mark.parametrize("name", sorted(FILES))
def test_sql_files_match_the_tables(name):
    assert (SQL_DIR / name).read_text() == render_schema_sql(FILES[name]), (
        f"sql/{name} is stale: run `python -m monitor.store.render_sql`")


def test_migrations_create_exactly_the_declared_schema(engine):
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    # Expression indexes cannot be reflected on every backend; everything else must match.
    diff = [item for item in diff if "uq_metric_values_point" not in str(item)]
    assert diff == []
    assert current_revision(engine) == head_revision()
    names = set(inspect(engine).get_view_names())
    assert set(VIEWS) <= names


def test_init_is_idempotent_and_required(store_url):
    engine = create_store_engine(store_url)
    with pytest.raises(StoreError, match="driftwatch init"):
        require_schema(engine)
    assert upgrade_schema(engine) == (None, head_revision())
    assert upgrade_schema(engine) == (head_revision(), head_revision())
    require_schema(engine)


def test_generated_sql_builds_a_working_sqlite_schema(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    with engine.begin() as connection:
        for statement in (SQL_DIR / "schema.sqlite.sql").read_text().split(";\n"):
            if statement.strip() and not statement.strip().startswith("--"):
                connection.exec_driver_sql(statement)
            elif statement.strip():
                body = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
                if body.strip():
                    connection.exec_driver_sql(body)
        assert connection.execute(text("SELECT COUNT(*) FROM latest_vitals")).scalar_one() == 0


def test_sqlite_read_only_engine_cannot_write(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'ro.db'}"
    upgrade_schema(create_store_engine(url))
    reader = create_store_engine(url, read_only=True)
    with reader.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM predictions")).scalar_one() == 0
        with pytest.raises(Exception, match="readonly"):
            connection.execute(text("DELETE FROM predictions"))
