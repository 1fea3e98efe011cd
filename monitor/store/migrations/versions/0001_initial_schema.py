"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 16:17:57.470649
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# Views as of this revision, frozen (0008 re-creates latest_vitals and feature_drift).
VIEWS = {
    'latest_vitals': """
SELECT m.model, m.model_version, m.metric, m.feature, m.window_start, m.window_end,
       m.value, m.threshold, m.is_breach, m.is_partial, m.computed_at
FROM metric_values m
JOIN (
    SELECT model, model_version, metric, COALESCE(feature, '') AS feature_key,
           MAX(window_start) AS window_start
    FROM metric_values
    GROUP BY model, model_version, metric, COALESCE(feature, '')
) latest
  ON m.model = latest.model
 AND m.model_version = latest.model_version
 AND m.metric = latest.metric
 AND COALESCE(m.feature, '') = latest.feature_key
 AND m.window_start = latest.window_start
""",
    'feature_drift': """
SELECT s.model, s.model_version, s.window_start, s.window_end, s.feature,
       s.value AS score, s.threshold, s.is_breach AS drifted, s.is_partial,
       s.details ->> 'method' AS method, s.details ->> 'p_value' AS p_value, s.computed_at
FROM metric_values s
WHERE s.metric = 'feature_drift_score'
""",
    'alert_history': """
SELECT a.id AS alert_id, a.rule, a.model, a.model_version, a.feature, a.metric,
       a.severity, a.state, a.condition, a.started_at, a.fired_at, a.resolved_at,
       a.last_value, a.last_window_start, a.last_window_end,
       (SELECT COUNT(*) FROM notifications n WHERE n.alert_id = a.id) AS notifications_total,
       (SELECT COUNT(*) FROM notifications n
         WHERE n.alert_id = a.id AND n.status = 'delivered') AS notifications_delivered,
       (SELECT COUNT(*) FROM notifications n
         WHERE n.alert_id = a.id AND n.status = 'failed') AS notifications_failed
FROM alerts a
""",
}


def upgrade() -> None:

    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('rule', sa.String(length=255), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=True),
    sa.Column('feature', sa.String(length=255), nullable=True),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('condition', sa.String(length=128), nullable=False),
    sa.Column('consecutive', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False, comment='first breach (event time of its window)'),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_value', sa.Float(), nullable=True),
    sa.Column('last_window_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_window_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('pending', 'firing', 'resolved')", name=op.f('ck_alerts_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_rule_model_feature_state'), ['rule', 'model', 'feature', 'state'], unique=False)

    op.create_table('dead_letters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=True, comment='the model named in the message, when one could be read'),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('raw_size', sa.Integer(), nullable=False, comment='size of the original message in bytes'),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters')),
    sa.UniqueConstraint('topic', 'partition', 'offset', name=op.f('uq_dead_letters_topic_partition_offset'))
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letters_received_at'), ['received_at'], unique=False)

    op.create_table('job_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=True),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('trigger', sa.String(length=32), nullable=False, comment='schedule, late-data, backfill, partial'),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('metrics_written', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('worker', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_runs_model_started_at'), ['model', 'started_at'], unique=False)

    op.create_table('labels',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('prediction_id', sa.String(length=128), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('label_numeric', sa.Float(), nullable=True),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kafka_topic', sa.String(length=255), nullable=True),
    sa.Column('kafka_partition', sa.Integer(), nullable=True),
    sa.Column('kafka_offset', sa.BigInteger(), nullable=True),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_labels')),
    sa.UniqueConstraint('model', 'prediction_id', name=op.f('uq_labels_model_prediction_id'))
    )
    with op.batch_alter_table('labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_labels_model_ingested_at'), ['model', 'ingested_at'], unique=False)

    op.create_table('metric_values',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('feature', sa.String(length=255), nullable=True, comment='feature (or class, for class_share); NULL for model-level metrics'),
    sa.Column('value', sa.Float(), nullable=True, comment='NULL when not computable; details.reason says why'),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('is_breach', sa.Boolean(), nullable=True),
    sa.Column('is_partial', sa.Boolean(), server_default=sa.false(), nullable=False, comment='window not yet complete'),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_values'))
    )
    with op.batch_alter_table('metric_values', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_metric_values_model_metric_window_start'), ['model', 'metric', 'window_start'], unique=False)

    op.create_table('predictions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('prediction_id', sa.String(length=128), nullable=False),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('features', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('prediction', sa.Text(), nullable=False, comment='the prediction as text (class label or value)'),
    sa.Column('prediction_numeric', sa.Float(), nullable=True, comment='the prediction as a number when it is one'),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('probabilities', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=8), server_default='ok', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('extra', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True, comment='unknown top-level message fields, kept as sent'),
    sa.Column('kafka_topic', sa.String(length=255), nullable=True),
    sa.Column('kafka_partition', sa.Integer(), nullable=True),
    sa.Column('kafka_offset', sa.BigInteger(), nullable=True),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('ok', 'error')", name=op.f('ck_predictions_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_predictions')),
    sa.UniqueConstraint('model', 'prediction_id', name=op.f('uq_predictions_model_prediction_id'))
    )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_predictions_model_event_time'), ['model', 'event_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_predictions_model_ingested_at'), ['model', 'ingested_at'], unique=False)

    op.create_table('reference_sets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False, comment="'*' when one baseline serves all versions"),
    sa.Column('source', sa.Text(), nullable=False, comment='file path, window or first-N description'),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_sets')),
    sa.UniqueConstraint('model', 'model_version', name=op.f('uq_reference_sets_model_model_version'))
    )
    op.create_table('silences',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('rule', sa.String(length=255), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=True),
    sa.Column('feature', sa.String(length=255), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_silences'))
    )
    op.create_table('window_state',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True, comment='last successful computation'),
    sa.Column('data_watermark', sa.DateTime(timezone=True), nullable=True, comment='newest ingested_at of the data it saw'),
    sa.Column('is_partial', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('claimed_by', sa.String(length=128), nullable=True, comment='scheduler currently computing it'),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_window_state')),
    sa.UniqueConstraint('model', 'model_version', 'window_start', name=op.f('uq_window_state_model_model_version_window_start'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.BigInteger(), nullable=True),
    sa.Column('channel', sa.String(length=255), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('silenced_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'failed', 'silenced')", name=op.f('ck_notifications_status')),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_notifications_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_notifications_idempotency_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_status_next_attempt_at'), ['status', 'next_attempt_at'], unique=False)

    op.create_table('reference_data',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('reference_set_id', sa.BigInteger(), nullable=False),
    sa.Column('row_index', sa.Integer(), nullable=False),
    sa.Column('features', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('prediction', sa.Text(), nullable=True),
    sa.Column('prediction_numeric', sa.Float(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('label', sa.Text(), nullable=True),
    sa.Column('label_numeric', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['reference_set_id'], ['reference_sets.id'], name=op.f('fk_reference_data_reference_set_id_reference_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_data')),
    sa.UniqueConstraint('reference_set_id', 'row_index', name=op.f('uq_reference_data_reference_set_id_row_index'))
    )
    op.create_index(
        "uq_metric_values_point",
        "metric_values",
        ["model", "model_version", "window_start", "window_end", "metric", sa.text("COALESCE(feature, '')")],
        unique=True,
    )
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS{body}")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_index("uq_metric_values_point", table_name="metric_values")

    op.drop_table('reference_data')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_status_next_attempt_at'))

    op.drop_table('notifications')
    op.drop_table('window_state')
    op.drop_table('silences')
    op.drop_table('reference_sets')
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_predictions_model_ingested_at'))
        batch_op.drop_index(batch_op.f('ix_predictions_model_event_time'))

    op.drop_table('predictions')
    with op.batch_alter_table('metric_values', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_metric_values_model_metric_window_start'))

    op.drop_table('metric_values')
    with op.batch_alter_table('labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_labels_model_ingested_at'))

    op.drop_table('labels')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_runs_model_started_at'))

    op.drop_table('job_runs')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letters_received_at'))

    op.drop_table('dead_letters')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_rule_model_feature_state'))

    op.drop_table('alerts')

