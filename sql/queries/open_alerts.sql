-- Alerts that are pending or firing now, most severe and oldest first, with how their
-- notifications fared.
SELECT alert_id, rule, model, model_version, feature, metric, severity, state, condition,
       started_at, fired_at, last_value, last_window_start,
       notifications_delivered, notifications_failed
FROM alert_history
WHERE state IN ('pending', 'firing')
ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, started_at;
