"""alert evaluation cursors

One row per (alert rule, model): the newest window the rule has evaluated for the
model, so a recomputed or replayed window never counts twice and a restart resumes
where evaluation stopped.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert_evaluations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('rule', sa.String(length=255), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('last_window_start', sa.DateTime(timezone=True), nullable=True,
              comment='newest window this rule has evaluated for this model'),
    sa.Column('last_window_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_evaluations')),
    sa.UniqueConstraint('rule', 'model', name=op.f('uq_alert_evaluations_rule_model'))
    )


def downgrade() -> None:
    op.drop_table('alert_evaluations')
