"""columnar copies of (prediction, label) pairs; a replaced label gets a new id

`label_segments` keeps Arrow copies of the pairs, so a window's labels are read
without joining each of its predictions to `labels`; `segment_progress` gets two
rows for it ("labels", "labelled_predictions"). Derived data: dropping it loses
nothing. From this revision on, the ingest writer gives a label that replaces
another a new `labels.id`, so ids follow the order in which labels changed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('label_segments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('min_event_time', sa.DateTime(timezone=True), nullable=False,
              comment='earliest event time of the labelled predictions'),
    sa.Column('max_event_time', sa.DateTime(timezone=True), nullable=False,
              comment='latest event time of the labelled predictions'),
    sa.Column('data', sa.LargeBinary(), nullable=False, comment='Arrow IPC stream of (prediction, label) pairs'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label_segments'))
    )
    with op.batch_alter_table('label_segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_label_segments_model_model_version_min_event_time'),
                              ['model', 'model_version', 'min_event_time'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('label_segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_label_segments_model_model_version_min_event_time'))
    op.drop_table('label_segments')
