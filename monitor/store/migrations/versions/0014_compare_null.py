"""`compare` is NULL on a row about one version alone, as `segment` is NULL for the whole model

Revision 0012 stored an empty `compare` on every ordinary row of `metric_values` and
`alerts` (NOT NULL, default ''), while `segment` is NULL for the whole model, so a query
needed `segment IS NULL AND compare = ''`. Both columns now mean "none" by NULL:
`compare` becomes nullable without a default and every '' becomes NULL. The point key
reads `COALESCE(compare, '')`, as it does `COALESCE(segment, '')`, so a point without
comparison stays unique (NULLs never collide in a unique index on their own).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 12:30:00
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_POINT: list[str | sa.TextClause] = ["model", "model_version", "window_start", "window_end", "metric",
                                     sa.text("COALESCE(feature, '')"), sa.text("COALESCE(segment, '')")]
_COMMENTS = {
    'metric_values': "'champion=<version>' on a row comparing model_version (the challenger) with the champion; "
                     "NULL for a row about one version alone",
    'alerts': "'champion=<version>' when the alert compares model_version with the champion; NULL otherwise",
}
_OLD_COMMENTS = {
    'metric_values': "'champion=<version>' on a row comparing model_version (the challenger) with the champion; "
                     "empty for a row about one version alone",
    'alerts': "'champion=<version>' when the alert compares model_version with the champion",
}


def _views() -> dict[str, str]:
    """The views of this revision: those of 0001 as 0008 and 0011 changed them (they do not read `compare`)."""
    views: dict[str, str] = {}
    for name in ("0001_initial_schema", "0008_views_counts", "0011_segments"):
        views.update(importlib.import_module(f"monitor.store.migrations.versions.{name}").VIEWS)
    return views


def _alter(*, nullable: bool, comments: dict[str, str]) -> None:
    # SQLite changes a column's nullability by copying the table, which its views must not watch meanwhile.
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        for name in _views():
            op.execute(f"DROP VIEW IF EXISTS {name}")
    for table, comment in comments.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('compare', existing_type=sa.String(length=80), nullable=nullable,
                                  server_default=None if nullable else '', comment=comment,
                                  existing_comment=None if sqlite else _OLD_COMMENTS[table] if nullable
                                  else _COMMENTS[table])
    if sqlite:
        for name, body in _views().items():
            op.execute(f"CREATE VIEW {name} AS{body}")


def upgrade() -> None:
    op.drop_index("uq_metric_values_point", table_name="metric_values")
    _alter(nullable=True, comments=_COMMENTS)
    op.execute("UPDATE metric_values SET compare = NULL WHERE compare = ''")
    op.execute("UPDATE alerts SET compare = NULL WHERE compare = ''")
    op.create_index("uq_metric_values_point", "metric_values", [*_POINT, sa.text("COALESCE(compare, '')")],
                    unique=True)


def downgrade() -> None:
    op.drop_index("uq_metric_values_point", table_name="metric_values")
    op.execute("UPDATE metric_values SET compare = '' WHERE compare IS NULL")
    op.execute("UPDATE alerts SET compare = '' WHERE compare IS NULL")
    _alter(nullable=False, comments=_OLD_COMMENTS)
    op.create_index("uq_metric_values_point", "metric_values", [*_POINT, sa.text("compare")], unique=True)
