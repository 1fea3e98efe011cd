-- Model performance per window once labels have arrived, with label coverage (how much
-- of the window is labelled yet) and the concept-drift verdict. Late labels recompute a
-- window, so these rows change as coverage grows.
SELECT model, model_version, window_start, window_end,
       CAST(MAX(CASE WHEN metric = 'label_count' THEN value END) AS BIGINT) AS labels,
       MAX(CASE WHEN metric = 'label_coverage' THEN value END) AS label_coverage,
       MAX(CASE WHEN metric = 'accuracy' THEN value END) AS accuracy,
       MAX(CASE WHEN metric = 'roc_auc' THEN value END) AS roc_auc,
       MAX(CASE WHEN metric = 'mae' THEN value END) AS mae,
       MAX(CASE WHEN metric = 'performance_drop' THEN value END) AS performance_drop,
       MAX(CASE WHEN metric = 'concept_drift' THEN value END) AS concept_drift
FROM metric_values
WHERE feature IS NULL AND segment IS NULL AND NOT is_partial
  AND metric IN ('label_count', 'label_coverage', 'accuracy', 'roc_auc', 'mae', 'performance_drop',
                 'concept_drift')
GROUP BY model, model_version, window_start, window_end
HAVING MAX(CASE WHEN metric = 'label_count' THEN value END) > 0
ORDER BY model, model_version, window_start;
