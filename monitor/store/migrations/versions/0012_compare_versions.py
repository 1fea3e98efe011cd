"""versions side by side: a `compare` column on metric_values and alerts

When two versions of a model serve in the same window, the comparison of the
challenger with the champion is stored as metric rows of the challenger whose
`compare` says which version it was compared with ('champion=v1'); every other row
has an empty `compare`. The point key gains the column. An alert on a comparison
metric records the same label.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:30:00
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_POINT: list[str | sa.TextClause] = ["model", "model_version", "window_start", "window_end", "metric",
                                     sa.text("COALESCE(feature, '')"), sa.text("COALESCE(segment, '')")]


def upgrade() -> None:
    with op.batch_alter_table('metric_values', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'compare', sa.String(length=80), server_default='', nullable=False,
            comment="'champion=<version>' on a row comparing model_version (the challenger) with the champion; "
                    "empty for a row about one version alone"))
    op.drop_index("uq_metric_values_point", table_name="metric_values")
    op.create_index("uq_metric_values_point", "metric_values", [*_POINT, sa.text("compare")], unique=True)
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'compare', sa.String(length=80), server_default='', nullable=False,
            comment="'champion=<version>' when the alert compares model_version with the champion"))


def _views() -> dict[str, str]:
    """The views of this revision: those of 0001 as 0008 and 0011 changed them."""
    views: dict[str, str] = {}
    for revision in ("0001_initial_schema", "0008_views_counts", "0011_segments"):
        views.update(importlib.import_module(f"monitor.store.migrations.versions.{revision}").VIEWS)
    return views


def downgrade() -> None:
    # SQLite drops a column by copying the table, which its views must not watch meanwhile.
    for name in _views():
        op.execute(f"DROP VIEW IF EXISTS {name}")
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('compare')
    op.execute("DELETE FROM metric_values WHERE compare <> ''")
    op.drop_index("uq_metric_values_point", table_name="metric_values")
    with op.batch_alter_table('metric_values', schema=None) as batch_op:
        batch_op.drop_column('compare')
    op.create_index("uq_metric_values_point", "metric_values", _POINT, unique=True)
    for name, body in _views().items():
        op.execute(f"CREATE VIEW {name} AS{body}")
