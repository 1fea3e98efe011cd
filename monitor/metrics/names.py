"""The catalogue of metric names (the ``metric_values.metric`` contract)."""

from __future__ import annotations

__all__ = [
    "CONFUSION_CELL_METRIC", "ESTIMATED_CELL_METRICS", "FEATURE_METRICS", "MODEL_METRICS", "ALL_METRICS",
    "ESTIMATED_METRICS", "LEARNABLE_METRICS", "METRIC_GROUPS", "COMPARE_METRICS", "COMPARE_FEATURE_METRICS",
    "COMPARE_TESTED_METRICS", "confusion_cell_feature",
]

# What each task's performance estimation can estimate (``estimated_<name>`` in metric_values).
# The confusion-matrix cells are expected counts (not normalised, as NannyML's default): binary
# has NannyML's four names; multiclass has one ``estimated_confusion_cell`` row per (true,
# predicted) class pair, its ``feature`` naming the cell (see :func:`confusion_cell_feature`).
ESTIMATED_METRICS: dict[str, tuple[str, ...]] = {
    "binary_classification": ("roc_auc", "f1", "precision", "recall", "specificity", "accuracy",
                              "true_positive", "true_negative", "false_positive", "false_negative"),
    "multiclass_classification": ("roc_auc", "f1", "precision", "recall", "specificity", "accuracy",
                                  "confusion_cell"),
    "regression": ("mae", "mse", "rmse", "mape"),
}
CONFUSION_CELL_METRIC = "estimated_confusion_cell"
ESTIMATED_CELL_METRICS: frozenset[str] = frozenset(
    {"estimated_true_positive", "estimated_true_negative", "estimated_false_positive", "estimated_false_negative",
     CONFUSION_CELL_METRIC})
"""Estimated confusion-matrix cells: counts that scale with the window's rows (not rates)."""


def confusion_cell_feature(true_class: str, predicted_class: str) -> str:
    """The ``feature`` of a multiclass ``estimated_confusion_cell`` row: the cell's true and predicted class.

    >>> confusion_cell_feature("cat", "dog")
    'true=cat,pred=dog'
    """
    return f"true={true_class},pred={predicted_class}"


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
    "estimation": (
        *(f"estimated_{name}" for name in dict.fromkeys(n for names in ESTIMATED_METRICS.values() for n in names)),
        "multivariate_drift",
    ),
}

# Metrics whose rows carry a feature (or, for class_share, a class; for estimated_confusion_cell, a cell) name.
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
        CONFUSION_CELL_METRIC,
    }
)

ALL_METRICS: frozenset[str] = frozenset(name for names in METRIC_GROUPS.values() for name in names)
MODEL_METRICS: frozenset[str] = ALL_METRICS - FEATURE_METRICS

# Metrics whose alert thresholds can be learned from reference chunks of the window's size
# (``models.<name>.metrics.<metric>.threshold: reference``; see monitor.jobs.learned_metrics).
LEARNABLE_METRICS: tuple[str, ...] = (
    "missing_share", "type_mismatch_share",
    "positive_rate", "class_share", "prediction_mean", "score_mean",
    "accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse", "mape", "r2",
    "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate",
)  # latency and error rate: from the reference's latency_ms / status (copied predictions keep them)

# Comparisons of a challenger with the champion in the same window (rows with ``compare``
# set; see monitor.jobs.compare_versions). Kept apart from ALL_METRICS: one version's
# window never has them.
COMPARE_TESTED_METRICS: frozenset[str] = frozenset(
    {
        "compare_error_rate_diff",
        "compare_latency_p50_diff_ms",
        "compare_latency_p95_diff_ms",
        "compare_accuracy_diff",
        "compare_roc_auc_diff",
        "compare_mae_diff",
    }
)
"""Differences with a significance test (``details["p_value"]``)."""
COMPARE_FEATURE_METRICS: frozenset[str] = frozenset({"compare_feature_drift_score", "compare_feature_drift"})
COMPARE_METRICS: frozenset[str] = frozenset(
    {
        *COMPARE_TESTED_METRICS,
        *COMPARE_FEATURE_METRICS,
        "compare_dataset_drift_share",
        "compare_dataset_drift",
        "compare_prediction_drift_score",
        # counts (the confusion cells) scale with each version's share of the traffic: not compared
        *(f"compare_estimated_{name}_diff" for names in ESTIMATED_METRICS.values() for name in names
          if f"estimated_{name}" not in ESTIMATED_CELL_METRICS),
    }
)
