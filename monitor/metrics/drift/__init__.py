"""Per-feature data drift statistics that reproduce Evidently 0.7.23's tabular tests.

Pure functions of plain arrays and dataframes (no store, Kafka, clock or disk):

* :func:`compute_feature_drift` / :func:`compute_dataset_drift` run a method
  (Evidently key such as ``ks``, ``psi``, ``wasserstein``) or Evidently's automatic
  choice (:func:`choose_method`) and return typed results;
* :func:`to_metric_points` turns a dataset result into the ``feature_drift_score``,
  ``feature_drift``, ``dataset_drift_share`` and ``dataset_drift`` metric points;
* :data:`DRIFT_METHODS` / :func:`get_method` give each :class:`DriftMethod`, callable
  on two columns.

Scores equal Evidently's (same binning, same scipy calls, same summation order,
same random permutations); they are computed with vectorised numpy instead of
pandas and Python loops, so a million-row window takes seconds, not minutes.
"""

from monitor.metrics.drift.auto import AUTO, choose_method
from monitor.metrics.drift.dataset import DEFAULT_DRIFT_SHARE, DatasetDriftResult, compute_dataset_drift
from monitor.metrics.drift.feature import FeatureDriftResult, compute_feature_drift
from monitor.metrics.drift.feature_type import FEATURE_TYPES, FeatureType, infer_feature_type
from monitor.metrics.drift.method import DriftMethod, MethodOutcome
from monitor.metrics.drift.points import to_metric_points
from monitor.metrics.drift.registry import DRIFT_METHODS, default_threshold, get_method, method_names

__all__ = [
    "AUTO",
    "DEFAULT_DRIFT_SHARE",
    "DRIFT_METHODS",
    "FEATURE_TYPES",
    "DatasetDriftResult",
    "DriftMethod",
    "FeatureDriftResult",
    "FeatureType",
    "MethodOutcome",
    "choose_method",
    "compute_dataset_drift",
    "compute_feature_drift",
    "default_threshold",
    "get_method",
    "infer_feature_type",
    "method_names",
    "to_metric_points",
]
