-- Every window in which a challenger (canary, shadow, A/B) served beside the champion:
-- its differences from the champion (challenger minus champion) with their two-sided
-- p-values, and the drift of its inputs against the champion's. One row per challenger
-- and complete window, newest first. Runs unchanged on PostgreSQL and SQLite.
SELECT m.model, m.model_version AS challenger, SUBSTR(m.compare, 10) AS champion,
       m.window_start, m.window_end,
       MAX(CASE WHEN m.metric = 'compare_error_rate_diff' THEN m.value END) AS error_rate_diff,
       MAX(CASE WHEN m.metric = 'compare_error_rate_diff'
                THEN CAST(m.details ->> 'p_value' AS DOUBLE PRECISION) END) AS error_rate_p_value,
       MAX(CASE WHEN m.metric = 'compare_latency_p95_diff_ms' THEN m.value END) AS latency_p95_diff_ms,
       MAX(CASE WHEN m.metric = 'compare_latency_p95_diff_ms'
                THEN CAST(m.details ->> 'p_value' AS DOUBLE PRECISION) END) AS latency_p_value,
       MAX(CASE WHEN m.metric = 'compare_accuracy_diff' THEN m.value END) AS accuracy_diff,
       MAX(CASE WHEN m.metric = 'compare_accuracy_diff'
                THEN CAST(m.details ->> 'p_value' AS DOUBLE PRECISION) END) AS accuracy_p_value,
       MAX(CASE WHEN m.metric = 'compare_mae_diff' THEN m.value END) AS mae_diff,
       MAX(CASE WHEN m.metric = 'compare_dataset_drift_share' THEN m.value END) AS input_drift_share
FROM metric_values m
WHERE m.compare IS NOT NULL AND m.feature IS NULL AND NOT m.is_partial
GROUP BY m.model, m.model_version, m.compare, m.window_start, m.window_end
ORDER BY m.model, m.window_start DESC, m.model_version;
