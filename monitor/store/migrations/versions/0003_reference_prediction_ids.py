"""reference rows remember their prediction

A baseline copied from stored predictions (a reference window, or the first N
predictions of a version) keeps each row's prediction_id, so labels that arrive
after the baseline was taken are joined when it is read (concept drift needs them).
Rows from a reference file have none.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reference_data', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prediction_id', sa.String(length=128), nullable=True,
                                      comment='the stored prediction this row was copied from'))


def downgrade() -> None:
    with op.batch_alter_table('reference_data', schema=None) as batch_op:
        batch_op.drop_column('prediction_id')
