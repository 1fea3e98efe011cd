"""vitals per segment: metric_values.segment and alerts.segment

`metric_values.segment` names the segment a row is about (`country=DE`); NULL is the
whole model, as every row before. The unique key of a point gains the segment. An
alert of a rule with `segment: "country=*"` has one row per segment value, named in
`alerts.segment`. The metric views keep showing whole-model rows only; alert_history
gains the segment.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# The view text of this revision, frozen.
VIEWS = {
    'latest_vitals': """
SELECT m.model, m.model_version, m.metric, m.feature, m.window_start, m.window_end,
       m.value, m.threshold, m.is_breach, m.is_partial, m.computed_at,
       CASE WHEN m.metric IN ('prediction_count', 'label_count', 'dead_letter_count')
            THEN CAST(m.value AS BIGINT) END AS count_value
FROM metric_values m
JOIN (
    SELECT model, model_version, metric, COALESCE(feature, '') AS feature_key,
           MAX(window_start) AS window_start
    FROM metric_values
    WHERE NOT is_partial AND segment IS NULL
    GROUP BY model, model_version, metric, COALESCE(feature, '')
) latest
  ON m.model = latest.model
 AND m.model_version = latest.model_version
 AND m.metric = latest.metric
 AND COALESCE(m.feature, '') = latest.feature_key
 AND m.window_start = latest.window_start
WHERE NOT m.is_partial AND m.segment IS NULL
""",
    'partial_vitals': """
SELECT m.model, m.model_version, m.metric, m.feature, m.window_start, m.window_end,
       m.value, m.threshold, m.is_breach, m.is_partial, m.computed_at,
       CASE WHEN m.metric IN ('prediction_count', 'label_count', 'dead_letter_count')
            THEN CAST(m.value AS BIGINT) END AS count_value
FROM metric_values m
JOIN (
    SELECT model, model_version, metric, COALESCE(feature, '') AS feature_key,
           MAX(window_start) AS window_start
    FROM metric_values
    WHERE is_partial AND segment IS NULL
    GROUP BY model, model_version, metric, COALESCE(feature, '')
) latest
  ON m.model = latest.model
 AND m.model_version = latest.model_version
 AND m.metric = latest.metric
 AND COALESCE(m.feature, '') = latest.feature_key
 AND m.window_start = latest.window_start
WHERE m.is_partial AND m.segment IS NULL
""",
    'feature_drift': """
SELECT s.model, s.model_version, s.window_start, s.window_end, s.feature,
       s.value AS score, s.threshold, s.is_breach AS drifted, s.is_partial,
       s.details ->> 'method' AS method, CAST(s.details ->> 'p_value' AS DOUBLE PRECISION) AS p_value,
       s.computed_at
FROM metric_values s
WHERE s.metric = 'feature_drift_score' AND s.segment IS NULL
""",
    'confusion_counts': """
SELECT m.model, m.model_version, m.window_start, m.window_end, m.is_partial,
       m.details ->> 'positive_label' AS positive_label,
       CAST(m.details ->> 'tp' AS BIGINT) AS true_positives,
       CAST(m.details ->> 'fp' AS BIGINT) AS false_positives,
       CAST(m.details ->> 'fn' AS BIGINT) AS false_negatives,
       CAST(m.details ->> 'tn' AS BIGINT) AS true_negatives,
       m.computed_at
FROM metric_values m
WHERE m.metric = 'precision' AND m.details ->> 'tp' IS NOT NULL AND m.segment IS NULL
""",
    'alert_history': """
SELECT a.id AS alert_id, a.rule, a.model, a.model_version, a.feature, a.segment, a.metric,
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

# The text these replace (0008's, and 0001's alert_history).
PREVIOUS = {
    'latest_vitals': """
SELECT m.model, m.model_version, m.metric, m.feature, m.window_start, m.window_end,
       m.value, m.threshold, m.is_breach, m.is_partial, m.computed_at,
       CASE WHEN m.metric IN ('prediction_count', 'label_count', 'dead_letter_count')
            THEN CAST(m.value AS BIGINT) END AS count_value
FROM metric_values m
JOIN (
    SELECT model, model_version, metric, COALESCE(feature, '') AS feature_key,
           MAX(window_start) AS window_start
    FROM metric_values
    WHERE NOT is_partial
    GROUP BY model, model_version, metric, COALESCE(feature, '')
) latest
  ON m.model = latest.model
 AND m.model_version = latest.model_version
 AND m.metric = latest.metric
 AND COALESCE(m.feature, '') = latest.feature_key
 AND m.window_start = latest.window_start
WHERE NOT m.is_partial
""",
    'partial_vitals': """
SELECT m.model, m.model_version, m.metric, m.feature, m.window_start, m.window_end,
       m.value, m.threshold, m.is_breach, m.is_partial, m.computed_at,
       CASE WHEN m.metric IN ('prediction_count', 'label_count', 'dead_letter_count')
            THEN CAST(m.value AS BIGINT) END AS count_value
FROM metric_values m
JOIN (
    SELECT model, model_version, metric, COALESCE(feature, '') AS feature_key,
           MAX(window_start) AS window_start
    FROM metric_values
    WHERE is_partial
    GROUP BY model, model_version, metric, COALESCE(feature, '')
) latest
  ON m.model = latest.model
 AND m.model_version = latest.model_version
 AND m.metric = latest.metric
 AND COALESCE(m.feature, '') = latest.feature_key
 AND m.window_start = latest.window_start
WHERE m.is_partial
""",
    'feature_drift': """
SELECT s.model, s.model_version, s.window_start, s.window_end, s.feature,
       s.value AS score, s.threshold, s.is_breach AS drifted, s.is_partial,
       s.details ->> 'method' AS method, CAST(s.details ->> 'p_value' AS DOUBLE PRECISION) AS p_value,
       s.computed_at
FROM metric_values s
WHERE s.metric = 'feature_drift_score'
""",
    'confusion_counts': """
SELECT m.model, m.model_version, m.window_start, m.window_end, m.is_partial,
       m.details ->> 'positive_label' AS positive_label,
       CAST(m.details ->> 'tp' AS BIGINT) AS true_positives,
       CAST(m.details ->> 'fp' AS BIGINT) AS false_positives,
       CAST(m.details ->> 'fn' AS BIGINT) AS false_negatives,
       CAST(m.details ->> 'tn' AS BIGINT) AS true_negatives,
       m.computed_at
FROM metric_values m
WHERE m.metric = 'precision' AND m.details ->> 'tp' IS NOT NULL
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

_POINT: list[str | sa.TextClause] = ["model", "model_version", "window_start", "window_end", "metric", sa.text("COALESCE(feature, '')")]


def upgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.add_column('metric_values', sa.Column('segment', sa.String(length=255), nullable=True,
                                             comment='segment, e.g. country=DE; NULL for the whole model'))
    op.add_column('alerts', sa.Column('segment', sa.String(length=255), nullable=True,
                                      comment='segment the alert is about, e.g. country=DE; NULL: the whole model'))
    op.drop_index("uq_metric_values_point", table_name="metric_values")
    op.create_index("uq_metric_values_point", "metric_values", [*_POINT, sa.text("COALESCE(segment, '')")],
                    unique=True)
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS{body}")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    # Segment rows have no place in the older key: only the whole model's are kept.
    op.execute("DELETE FROM metric_values WHERE segment IS NOT NULL")
    op.drop_index("uq_metric_values_point", table_name="metric_values")
    op.create_index("uq_metric_values_point", "metric_values", _POINT, unique=True)
    with op.batch_alter_table('alerts') as batch:
        batch.drop_column('segment')
    with op.batch_alter_table('metric_values') as batch:
        batch.drop_column('segment')
    for name, body in PREVIOUS.items():
        op.execute(f"CREATE VIEW {name} AS{body}")
