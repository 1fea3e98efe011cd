"""fitted estimators per reference set: performance estimation and multivariate drift

`reference_models` keeps, per reference set and estimation settings, what was learned
from the reference (calibrators, scaler and PCA, loss models; pickled) with the
library versions that fitted it and the thresholds learned from reference chunks. A
window computation reads it and never refits; derived data, refitted when lost.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('reference_models',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('reference_set_id', sa.BigInteger(), nullable=False),
    sa.Column('config_key', sa.String(length=64), nullable=False,
              comment='hash of the settings fitted with (task, metrics, ...)'),
    sa.Column('fingerprint', sa.String(length=128), nullable=False,
              comment='the reference rows fitted on: rows, labels, scores'),
    sa.Column('library_versions', _JSON, nullable=False,
              comment='python, numpy, scikit-learn, ... that fitted it'),
    sa.Column('chunk_size', sa.Integer(), nullable=False,
              comment='reference chunk size the thresholds were learned on'),
    sa.Column('thresholds', _JSON, nullable=False, comment='learned thresholds per metric: [lower, upper]'),
    sa.Column('fitted', sa.LargeBinary(), nullable=False,
              comment='pickled fitted estimators (calibrator, scaler, PCA, ...)'),
    sa.Column('fitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reference_set_id'], ['reference_sets.id'],
                            name=op.f('fk_reference_models_reference_set_id_reference_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_models')),
    sa.UniqueConstraint('reference_set_id', 'config_key',
                        name=op.f('uq_reference_models_reference_set_id_config_key'))
    )


def downgrade() -> None:
    op.drop_table('reference_models')
