"""who holds a window claim (when, which process); which window computations a rule judged

`window_state.claimed_at` is when the current claim was taken (`claimed_until`, its
lease, is renewed while the window computes); `claimed_process` names the claiming
process (pid namespace, pid, start time), so a claim whose process has ended is
taken over at once. `alert_evaluations.computed_through` is the newest window
computation a rule has judged, so a window recomputed after it (late data) is judged
again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('window_state', sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True,
                                            comment='when claimed_by claimed it (claimed_until: lease, renewed)'))
    op.add_column('window_state', sa.Column('claimed_process', sa.String(length=128), nullable=True,
                                            comment='the claiming process: pid namespace, pid, start time'))
    op.add_column('alert_evaluations', sa.Column('computed_through', sa.DateTime(timezone=True), nullable=True,
                                                 comment="newest window computation (computed_at) it has judged"))


def downgrade() -> None:
    with op.batch_alter_table('alert_evaluations') as batch:
        batch.drop_column('computed_through')
    with op.batch_alter_table('window_state') as batch:
        batch.drop_column('claimed_process')
        batch.drop_column('claimed_at')
