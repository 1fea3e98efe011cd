"""columnar segments of stored predictions

`prediction_segments` keeps Arrow copies of compacted predictions (features parsed
once, not on every computation of a window); `segment_progress` says up to which
prediction id the compaction got. Both are derived data: dropping them loses nothing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('prediction_segments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('first_id', sa.BigInteger(), nullable=False, comment='lowest predictions.id in the segment'),
    sa.Column('last_id', sa.BigInteger(), nullable=False, comment='highest predictions.id in the segment'),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('min_event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('max_event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=True,
              comment='Arrow IPC stream; NULL: the rows stay JSON-only (mixed feature types)'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prediction_segments'))
    )
    with op.batch_alter_table('prediction_segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prediction_segments_model_model_version_min_event_time'),
                              ['model', 'model_version', 'min_event_time'], unique=False)

    op.create_table('segment_progress',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False,
              comment='every prediction up to this id is in a segment'),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_segment_progress'))
    )


def downgrade() -> None:
    op.drop_table('segment_progress')
    with op.batch_alter_table('prediction_segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prediction_segments_model_model_version_min_event_time'))
    op.drop_table('prediction_segments')
