"""The catalogue of metric names (the ``metric_values.metric`` contract)."""

from __future__ import annotations

__all__ = ["FEATURE_METRICS", "MODEL_METRICS", "ALL_METRICS", "METRIC_GROUPS"]

METRIC_GROUPS: dict[str, tuple[str, ...]] = {
    "traffic": ("prediction_count",),
    "latency": (
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "latency_mean_ms",
        "latency_max_ms",
    ),
    "serving_errors": ("error_rate",),
    "data_quality": (
        "missing_share",
        "out_of_range_share",
        "unseen_category_share",
        "type_mismatch_share",
        "dead_letter_count",
    ),
    "data_drift": (
        "feature_drift_score",
        "feature_drift",
        "dataset_drift_share",
        "dataset_drift",
        "reference_problem",
    ),
    "output": ("prediction_drift_score", "positive_rate", "class_share", "prediction_mean", "score_mean"),
    "performance": (
        "label_count",
        "label_coverage",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "mae",
        "rmse",
        "mape",
        "r2",
    ),
    "concept_drift": ("label_drift_score", "performance_drop", "concept_drift"),
}

# Metrics whose rows carry a feature (or, for class_share, a class) name.
FEATURE_METRICS: frozenset[str] = frozenset(
    {
        "missing_share",
        "out_of_range_share",
        "unseen_category_share",
        "type_mismatch_share",
        "feature_drift_score",
        "feature_drift",
        "reference_problem",
        "class_share",
    }
)

ALL_METRICS: frozenset[str] = frozenset(name for names in METRIC_GROUPS.values() for name in names)
MODEL_METRICS: frozenset[str] = ALL_METRICS - FEATURE_METRICS
