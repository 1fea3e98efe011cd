"""Views for analysts and BI tools: portable SQL for PostgreSQL and SQLite (3.38+).

``metric_values.value`` is a float for every metric. The views add ``count_value``, the
same number as an integer for the metrics that count things (:data:`COUNT_METRICS`;
NULL for the others), and ``confusion_counts`` reads a binary classifier's confusion
cells out of ``details`` as integers. ``latest_vitals`` holds complete windows only;
the still-open window's values so far are in ``partial_vitals``. The metric views hold
whole-model rows only (``segment IS NULL``); per-segment rows are in ``metric_values``.

Migrations freeze the text they create (a view changed here needs a migration that
drops and re-creates it); a test checks that the newest migration created these.
"""

from __future__ import annotations

__all__ = ["COUNT_METRICS", "VIEWS"]

COUNT_METRICS: tuple[str, ...] = ("prediction_count", "label_count", "dead_letter_count")
"""Metrics whose value is a number of rows or messages, shown as integers by the views."""

_COUNT_VALUE = (
    f"CASE WHEN m.metric IN ({', '.join(repr(name) for name in COUNT_METRICS)})\n"
    "            THEN CAST(m.value AS BIGINT) END AS count_value"
)


def _newest_window_per_metric(partial: bool) -> str:
    """Each metric's (and feature's) row of its newest complete, or newest partial, window."""
    negation = "" if partial else "NOT "
    return f"""
SELECT m.model, m.model_version, m.metric, m.feature, m.window_start, m.window_end,
       m.value, m.threshold, m.is_breach, m.is_partial, m.computed_at,
       {_COUNT_VALUE}
FROM metric_values m
JOIN (
    SELECT model, model_version, metric, COALESCE(feature, '') AS feature_key,
           MAX(window_start) AS window_start
    FROM metric_values
    WHERE {negation}is_partial AND segment IS NULL
    GROUP BY model, model_version, metric, COALESCE(feature, '')
) latest
  ON m.model = latest.model
 AND m.model_version = latest.model_version
 AND m.metric = latest.metric
 AND COALESCE(m.feature, '') = latest.feature_key
 AND m.window_start = latest.window_start
WHERE {negation}m.is_partial AND m.segment IS NULL
"""


VIEWS: dict[str, str] = {
    "latest_vitals": _newest_window_per_metric(partial=False),
    "partial_vitals": _newest_window_per_metric(partial=True),
    "feature_drift": """
SELECT s.model, s.model_version, s.window_start, s.window_end, s.feature,
       s.value AS score, s.threshold, s.is_breach AS drifted, s.is_partial,
       s.details ->> 'method' AS method, CAST(s.details ->> 'p_value' AS DOUBLE PRECISION) AS p_value,
       s.computed_at
FROM metric_values s
WHERE s.metric = 'feature_drift_score' AND s.segment IS NULL
""",
    "confusion_counts": """
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
    "alert_history": """
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
