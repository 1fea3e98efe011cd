"""one stored-row format: columnar prediction batches written with their rows

`prediction_batches` holds every stored prediction in the stored-row format
(monitor.store.row_format), one Arrow table per ingested batch and model version,
written in the same transaction as the rows; windows and baselines are read only from
it. This revision builds the batches of the predictions already stored (from their
JSON), rebuilds every baseline's columnar copy (`reference_sets.columns`) in the new
format, and drops the compaction tables it replaces (`prediction_segments`,
`label_segments`, `segment_progress`). Downgrading recreates those empty (the old code
then reads every window from JSON until it has compacted again).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:30:00
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_CHUNK_ROWS = 100_000


def _id() -> sa.Column[Any]:
    return sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False)


def _copy_predictions(connection: sa.Connection) -> None:
    """Every stored prediction into batches of at most _CHUNK_ROWS, per model version, in id order."""
    from datetime import UTC, datetime

    from monitor.store.row_format import rows_table, serialise
    from monitor.store.tables import prediction_batches, predictions

    p = predictions.c
    versions = connection.execute(sa.select(p.model, p.model_version).distinct()).all()
    created = datetime.now(UTC)
    for model, version in versions:
        after = 0
        while True:
            rows = connection.execute(
                sa.select(p.id, p.prediction_id, p.event_time, p.features, p.prediction, p.prediction_numeric,
                          p.score, p.probabilities, p.latency_ms, p.status, p.ingested_at)
                .where(p.model == model, p.model_version == version, p.id > after)
                .order_by(p.id).limit(_CHUNK_ROWS)
            ).all()
            if not rows:
                break
            after = rows[-1].id
            records = [SimpleNamespace(**row._mapping) for row in rows]
            table = rows_table(records, ingested_at=[row.ingested_at for row in rows])
            events = [row.event_time for row in rows]
            connection.execute(sa.insert(prediction_batches).values(
                model=model, model_version=version, row_count=len(rows), min_event_time=min(events),
                max_event_time=max(events), max_ingested_at=max(row.ingested_at for row in rows),
                data=serialise(table), created_at=created))


def _reference_rows(connection: sa.Connection, set_id: int) -> Iterator[Any]:
    from monitor.store.tables import reference_data

    rd = reference_data.c
    yield from connection.execute(
        sa.select(rd.features, rd.prediction, rd.prediction_numeric, rd.score, rd.label, rd.label_numeric,
                  rd.prediction_id)
        .where(rd.reference_set_id == set_id).order_by(rd.row_index))


def _copy_references(connection: sa.Connection) -> None:
    """Every baseline's columnar copy, rebuilt from its rows in the new format."""
    import pyarrow as pa

    from monitor.store.reference_store import ReferenceRecord, _records_table
    from monitor.store.row_format import serialise
    from monitor.store.tables import reference_sets

    for (set_id,) in connection.execute(sa.select(reference_sets.c.id)).all():
        rows = list(_reference_rows(connection, set_id))
        records = [ReferenceRecord(features=row.features, prediction=row.prediction,
                                   prediction_numeric=row.prediction_numeric, score=row.score, label=row.label,
                                   label_numeric=row.label_numeric) for row in rows]
        table = _records_table(records)
        table = table.set_column(0, "prediction_id", pa.array([row.prediction_id for row in rows], pa.string()))
        connection.execute(sa.update(reference_sets).where(reference_sets.c.id == set_id)
                           .values(columns=serialise(table)))


def upgrade() -> None:
    op.create_table('prediction_batches',
    _id(),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('min_event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('max_event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('max_ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False, comment='Arrow IPC stream in the stored-row format'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prediction_batches'))
    )
    with op.batch_alter_table('prediction_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prediction_batches_model_model_version_max_event_time'),
                              ['model', 'model_version', 'max_event_time'], unique=False)
    connection = op.get_bind()
    if connection.dialect.name == 'postgresql':
        # (SQLite keeps no comments; its batch mode would rebuild the table, cascading to reference_data.)
        op.alter_column('reference_sets', 'columns', existing_type=sa.LargeBinary(), existing_nullable=True,
                        comment='the rows in the stored-row format (labels of copied predictions joined at '
                                'read), written with the set')
    _copy_predictions(connection)
    _copy_references(connection)
    for table in ('label_segments', 'prediction_segments'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_model_model_version_min_event_time'))
        op.drop_table(table)
    op.drop_table('segment_progress')


def downgrade() -> None:
    op.create_table('segment_progress',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_segment_progress'))
    )
    for table in ('prediction_segments', 'label_segments'):
        columns = [_id(), sa.Column('model', sa.String(length=64), nullable=False),
                   sa.Column('model_version', sa.String(length=64), nullable=False)]
        if table == 'prediction_segments':
            columns += [sa.Column('first_id', sa.BigInteger(), nullable=False),
                        sa.Column('last_id', sa.BigInteger(), nullable=False)]
        columns += [sa.Column('row_count', sa.Integer(), nullable=False),
                    sa.Column('min_event_time', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('max_event_time', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('data', sa.LargeBinary(), nullable=table == 'prediction_segments'),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False)]
        op.create_table(table, *columns, sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_model_model_version_min_event_time'),
                                  ['model', 'model_version', 'min_event_time'], unique=False)
    # The old code reads these copies in its own format, or builds them when NULL.
    op.execute(sa.text("UPDATE reference_sets SET columns = NULL"))
    with op.batch_alter_table('prediction_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prediction_batches_model_model_version_max_event_time'))
    op.drop_table('prediction_batches')
