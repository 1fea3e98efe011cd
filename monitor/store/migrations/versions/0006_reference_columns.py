"""reference sets keep a columnar copy of their rows

`reference_sets.columns` holds the baseline's features and outputs as an Arrow
table, written when it is first read, so every later read skips parsing its JSON.
Derived data: NULL means "not built yet".

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reference_sets', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'columns', sa.LargeBinary(), nullable=True,
            comment='Arrow copy of the rows (labels joined at read), written on first read; '
                    'empty: read from JSON (mixed feature types)'))


def downgrade() -> None:
    with op.batch_alter_table('reference_sets', schema=None) as batch_op:
        batch_op.drop_column('columns')
