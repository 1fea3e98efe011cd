-- The newest complete window of every model and version: traffic, serving errors,
-- latency, data drift and (once labels arrive) accuracy. One row per model version.
-- Runs unchanged on PostgreSQL and SQLite.
WITH latest AS (
    SELECT model, model_version, MAX(window_start) AS window_start
    FROM metric_values
    WHERE metric = 'prediction_count' AND NOT is_partial AND segment IS NULL
    GROUP BY model, model_version
)
SELECT m.model, m.model_version, m.window_start, m.window_end,
       CAST(MAX(CASE WHEN m.metric = 'prediction_count' THEN m.value END) AS BIGINT) AS predictions,
       MAX(CASE WHEN m.metric = 'error_rate' THEN m.value END) AS error_rate,
       MAX(CASE WHEN m.metric = 'latency_p95_ms' THEN m.value END) AS latency_p95_ms,
       MAX(CASE WHEN m.metric = 'dataset_drift_share' THEN m.value END) AS drift_share,
       MAX(CASE WHEN m.metric = 'accuracy' THEN m.value END) AS accuracy
FROM metric_values m
JOIN latest l
  ON m.model = l.model AND m.model_version = l.model_version AND m.window_start = l.window_start
WHERE m.feature IS NULL AND m.segment IS NULL AND NOT m.is_partial
GROUP BY m.model, m.model_version, m.window_start, m.window_end
ORDER BY m.model, m.model_version;
