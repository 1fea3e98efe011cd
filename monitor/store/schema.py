"""Creating and upgrading the schema (Alembic), and rendering it as plain SQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateIndex, CreateTable

from monitor.errors import StoreError, StoreUnavailableError
from monitor.store.engine import redact_url
from monitor.store.tables import ARROW_BLOBS, metadata
from monitor.store.urls import redact_text
from monitor.store.views import VIEWS

__all__ = ["upgrade_schema", "current_revision", "head_revision", "render_schema_sql", "require_schema"]

MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        reason = redact_text(str(exc.orig), engine.url.render_as_string(hide_password=False))
        raise StoreUnavailableError(f"cannot reach the store {redact_url(str(engine.url))}: {reason}") from exc


def upgrade_schema(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest revision (or ``revision``); return (before, after)."""
    before = current_revision(engine)
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, head_revision() if revision == "head" else revision


def require_schema(engine: Engine) -> None:
    """Fail with a clear message unless the store is at the newest revision."""
    current = current_revision(engine)
    head = head_revision()
    if current is None and not inspect(engine).has_table("predictions"):
        raise StoreError(f"the store {redact_url(str(engine.url))} has no driftwatch schema; run `driftwatch init`")
    if current != head:
        raise StoreError(
            f"the store schema is at revision {current}, this driftwatch needs {head}; run `driftwatch init` to upgrade"
        )


def render_schema_sql(dialect_name: str = "postgresql") -> str:
    """The DDL of every table, index and view, as ``sql/schema*.sql`` holds it."""
    dialect: Dialect = postgresql.dialect() if dialect_name == "postgresql" else sqlite.dialect()  # type: ignore[no-untyped-call]
    parts = [
        f"-- driftwatch schema for {dialect_name}, generated from monitor/store/tables.py.",
        "-- Do not edit: run `python -m monitor.store.render_sql` after changing the tables.",
        "",
    ]
    for table in metadata.sorted_tables:
        parts.append(str(CreateTable(table).compile(dialect=dialect)).strip() + ";\n")
        for index in sorted(table.indexes, key=lambda item: str(item.name)):
            parts.append(str(CreateIndex(index).compile(dialect=dialect)).strip() + ";\n")
    if dialect_name == "postgresql":
        parts += [f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTERNAL;\n" for table, column in ARROW_BLOBS]
    for name, body in VIEWS.items():
        parts.append(f"CREATE VIEW {name} AS{body.rstrip()};\n")
    return "\n".join(parts)
