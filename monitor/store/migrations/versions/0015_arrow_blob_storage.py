"""PostgreSQL stores the Arrow copies without pglz

`prediction_batches.data` and `reference_sets.columns` hold Arrow IPC streams of
mostly numeric columns. PostgreSQL's default storage (EXTENDED) runs pglz over every
value too large for a page, which spends server CPU on each ingested batch and gains
little; EXTERNAL keeps them out of line, uncompressed. Values already stored stay as
they are (storage applies to new values). SQLite has no such setting.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 13:40:00
"""

from __future__ import annotations

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# Frozen here (not imported from the application), as a migration must not change with the code.
_ARROW_BLOBS = (("prediction_batches", "data"), ("reference_sets", "columns"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _ARROW_BLOBS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _ARROW_BLOBS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTENDED")
