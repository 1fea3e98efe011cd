"""views: integer counts, complete windows in latest_vitals, partial_vitals, confusion_counts

latest_vitals now holds each metric's newest *complete* window (the still-open window
moves to the new partial_vitals) and both add count_value, the value as an integer for
prediction_count, label_count and dead_letter_count. confusion_counts gives a binary
classifier's confusion cells per window as integers; feature_drift.p_value becomes a
number on PostgreSQL too (it was text there). Views only: no data changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 07:10:00
"""

from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
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
    'feature_drift': """
SELECT s.model, s.model_version, s.window_start, s.window_end, s.feature,
       s.value AS score, s.threshold, s.is_breach AS drifted, s.is_partial,
       s.details ->> 'method' AS method, CAST(s.details ->> 'p_value' AS DOUBLE PRECISION) AS p_value,
       s.computed_at
FROM metric_values s
WHERE s.metric = 'feature_drift_score'
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
}

# The text these replace, as 0001 created it.
PREVIOUS = {
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
}


def upgrade() -> None:
    for name in PREVIOUS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS{body}")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    for name, body in PREVIOUS.items():
        op.execute(f"CREATE VIEW {name} AS{body}")
