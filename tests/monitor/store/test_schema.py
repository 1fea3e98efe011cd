"""The schema: migrations, the generated SQL files, and the views, on both stores."""

from __future__ import annotations

import json
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


def test_arrow_copies_are_not_compressed_twice(engine):
    """PostgreSQL must not run pglz over the Arrow copies (STORAGE EXTERNAL): server CPU for little."""
    if engine.dialect.name != "postgresql":
        assert "STORAGE" not in render_schema_sql("sqlite")  # SQLite has no such setting
        return
    with engine.connect() as connection:
        storage = dict(connection.execute(text(
            "SELECT c.relname || '.' || a.attname, a.attstorage FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE (c.relname, a.attname) IN (('prediction_batches', 'data'), ('reference_sets', 'columns'))")).all())
    assert storage == {"prediction_batches.data": "e", "reference_sets.columns": "e"}


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


def test_features_become_json_with_their_rows_and_back(store_url):
    """0004 turns predictions.features from jsonb into json on PostgreSQL (a no-op on
    SQLite): rows stored before it read back the same, and the downgrade restores jsonb."""
    from alembic import command

    from monitor.store.schema import _alembic_config

    engine = create_store_engine(store_url)

    def migrate(step, revision: str) -> None:
        config = _alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)

    def features_type() -> str:
        return str(next(c["type"] for c in inspect(engine).get_columns("predictions") if c["name"] == "features"))

    migrate(command.upgrade, "0003")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO predictions (model, model_version, prediction_id, event_time, features, prediction, status, "
            "ingested_at) VALUES ('m', 'v1', 'p1', '2026-01-01 00:00:00', :features, '1', 'ok', '2026-01-01 00:00:00')"
        ), {"features": '{"amount": 12.5, "country": "DE", "new": null}'})
    before = features_type()
    migrate(command.upgrade, "head")
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT features FROM predictions")).scalar_one()
    assert (stored if isinstance(stored, dict) else json.loads(stored)) == {"amount": 12.5, "country": "DE",
                                                                            "new": None}
    if engine.dialect.name == "postgresql":
        assert (before, features_type()) == ("JSONB", "JSON")
        migrate(command.downgrade, "0003")
        assert (features_type(), current_revision(engine)) == ("JSONB", "0003")


def _migrate(engine, step, revision: str) -> None:

    from monitor.store.schema import _alembic_config

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)


def test_the_newest_migration_created_exactly_the_declared_views(tmp_path: Path):
    """Migrations freeze their view text: it must be what monitor/store/views.py declares."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'views.db'}")
    upgrade_schema(engine)
    with engine.connect() as connection:
        created = dict(connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'view'")).all())
    assert {name: sql.rstrip() for name, sql in created.items()} == {
        name: f"CREATE VIEW {name} AS{body}".rstrip() for name, body in VIEWS.items()}


def test_views_migration_upgrades_and_downgrades_a_store_with_metrics(store_url):
    """0008 re-creates the views over existing rows: integer counts, the open window in
    partial_vitals, p-values as numbers; the downgrade restores 0007's views."""
    from alembic import command

    engine = create_store_engine(store_url)
    _migrate(engine, command.upgrade, "0007")
    insert = text("INSERT INTO metric_values (model, model_version, window_start, window_end, metric, feature, value, "
                  "is_partial, details, computed_at) VALUES ('m', 'v1', :start, :end, :metric, :feature, :value, "
                  ":partial, :details, :end)")
    with engine.begin() as connection:
        for start, end, partial, n in (("2026-01-01 10:00:00", "2026-01-01 11:00:00", False, 6000.0),
                                       ("2026-01-01 11:00:00", "2026-01-01 12:00:00", True, 37.0)):
            connection.execute(insert, {"start": start, "end": end, "metric": "prediction_count", "feature": None,
                                        "value": n, "partial": partial, "details": "{}"})
        connection.execute(insert, {"start": "2026-01-01 10:00:00", "end": "2026-01-01 11:00:00",
                                    "metric": "feature_drift_score", "feature": "amount", "value": 0.31,
                                    "partial": False, "details": '{"method": "ks", "p_value": 0.0123}'})
        connection.execute(insert, {"start": "2026-01-01 10:00:00", "end": "2026-01-01 11:00:00",
                                    "metric": "precision", "feature": None, "value": 0.75, "partial": False,
                                    "details": '{"positive_label": "1", "tp": 3, "fp": 1, "fn": 2, "tn": 14}'})

    def query(sql: str) -> list[tuple]:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]

    assert query("SELECT value FROM latest_vitals WHERE metric = 'prediction_count'") == [(37.0,)]  # 0007: mixed

    _migrate(engine, command.upgrade, "head")
    assert query("SELECT value, count_value, is_partial FROM latest_vitals WHERE metric = 'prediction_count'") == [
        (6000.0, 6000, False)]
    assert query("SELECT count_value FROM latest_vitals WHERE metric = 'precision'") == [(None,)]
    assert query("SELECT count_value, is_partial FROM partial_vitals") == [(37, True)]
    [(count_value,)] = query("SELECT count_value FROM latest_vitals WHERE metric = 'prediction_count'")
    assert type(count_value) is int
    [(p_value,)] = query("SELECT p_value FROM feature_drift")
    assert type(p_value) is float and p_value == 0.0123
    assert query("SELECT positive_label, true_positives, false_positives, false_negatives, true_negatives "
                 "FROM confusion_counts") == [("1", 3, 1, 2, 14)]

    _migrate(engine, command.downgrade, "0007")
    assert query("SELECT value FROM latest_vitals WHERE metric = 'prediction_count'") == [(37.0,)]
    assert not {"partial_vitals", "confusion_counts"} & set(inspect(engine).get_view_names())
    engine.dispose()
