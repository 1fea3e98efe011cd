"""Views for analysts and BI tools: portable SQL for PostgreSQL and SQLite (3.38+)."""

from __future__ import annotations

__all__ = ["VIEWS"]

VIEWS: dict[str, str] = {
    "latest_vitals": """
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
    "feature_drift": """
SELECT s.model, s.model_version, s.window_start, s.window_end, s.feature,
       s.value AS score, s.threshold, s.is_breach AS drifted, s.is_partial,
       s.details ->> 'method' AS method, s.details ->> 'p_value' AS p_value, s.computed_at
FROM metric_values s
WHERE s.metric = 'feature_drift_score'
""",
    "alert_history": """
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
