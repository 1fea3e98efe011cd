"""predictions.features is json, not jsonb, on PostgreSQL

Features are written once per prediction and read back whole as text for a window;
`json` keeps the text as sent, so both directions skip jsonb's binary conversion
(about 10 µs per row each way). SQLite stores JSON as text either way: no change.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.alter_column('predictions', 'features', type_=sa.JSON(), existing_nullable=False,
                    postgresql_using='features::json')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.alter_column('predictions', 'features', type_=postgresql.JSONB(astext_type=sa.Text()),
                    existing_nullable=False, postgresql_using='features::jsonb')
