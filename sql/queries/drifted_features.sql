-- Which features drifted, when, by which test and how far: the newest 200 verdicts of
-- complete windows, strongest first within a window. Add `AND model = 'fraud'` to
-- narrow it to one model.
SELECT model, model_version, window_start, window_end, feature, method, score, threshold, p_value
FROM feature_drift
WHERE drifted AND NOT is_partial
ORDER BY window_start DESC, model, score DESC
LIMIT 200;
