"""Multivariate drift by a domain classifier (NannyML 0.13.1's recipe).

For each chunk, a LightGBM classifier (NannyML's default settings) learns to tell
reference rows from the chunk's rows; its cross-validated ROC AUC (five stratified
folds, out-of-fold predictions pooled) is the drift score: 0.5 means the chunk cannot be
told apart from the reference, 1 means it is entirely different. Categories are
ordinal-encoded over reference and chunk together. Thresholds are NannyML's fixed
defaults, 0.45 and 0.65. There is no sampling-error band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import OrdinalEncoder

from monitor.metrics.estimation.chunks import split_rows
from monitor.metrics.estimation.pca import is_categorical
from monitor.metrics.estimation.results import ChunkResult, EstimationReport, MetricEstimate
from monitor.metrics.estimation.thresholds import outside

__all__ = ["DEFAULT_THRESHOLDS", "LIGHTGBM_SETTINGS", "FittedDomainClassifier", "fit_domain_classifier"]

METRIC = "auroc"
FOLDS = 5
DEFAULT_THRESHOLDS = (0.45, 0.65)
LIGHTGBM_SETTINGS: dict[str, Any] = {  # NannyML's defaults for this calculator
    "boosting_type": "gbdt", "class_weight": None, "colsample_bytree": 1.0, "importance_type": "split",
    "learning_rate": 0.1, "max_depth": -1, "min_child_samples": 20, "min_child_weight": 0.001,
    "min_split_gain": 0.0, "n_estimators": 100, "n_jobs": -1, "num_leaves": 31, "objective": None,
    "random_state": 13, "reg_alpha": 0.0, "reg_lambda": 0.0, "subsample": 1.0, "subsample_for_bin": 200000,
    "subsample_freq": 0, "verbose": -1,
}


def _encoded(frame: pd.DataFrame, continuous: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """Categorical columns first, ordinal-encoded over this very frame, then the continuous ones."""
    encoded = pd.DataFrame({
        column: OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        .fit_transform(frame[[column]]).ravel()
        for column in categorical
    })
    return pd.concat([encoded, frame[list(continuous)].reset_index(drop=True)], axis=1)


def cross_validated_auroc(frame: pd.DataFrame, is_chunk: np.ndarray, continuous: Sequence[str],
                          categorical: Sequence[str]) -> float:
    """Pooled out-of-fold ROC AUC of a classifier telling chunk rows (1) from reference rows (0)."""
    from lightgbm import LGBMClassifier  # loads only when the domain classifier runs

    design = _encoded(frame, continuous, categorical)
    predictions, truths = [], []
    for train, test in StratifiedKFold(n_splits=FOLDS).split(design, is_chunk):
        model = LGBMClassifier(**LIGHTGBM_SETTINGS)
        model.fit(design.iloc[train], is_chunk[train], categorical_feature=list(categorical))
        predictions.append(np.asarray(model.predict_proba(design.iloc[test]))[:, 1])
        truths.append(is_chunk[test])
    truth = np.concatenate(truths)
    if len(np.unique(truth)) < 2:
        return 0.5
    return float(roc_auc_score(truth, np.concatenate(predictions)))


@dataclass(frozen=True)
class FittedDomainClassifier:
    """The reference rows and the feature split; every chunk trains its own classifier against them."""

    reference: pd.DataFrame
    continuous: tuple[str, ...]
    categorical: tuple[str, ...]
    lower_threshold: float
    upper_threshold: float
    chunk_size: int | None
    chunks: int | None

    def score(self, chunk: pd.DataFrame) -> float:
        features = [*self.categorical, *self.continuous]
        frame = pd.concat([self.reference[features], chunk[features]], ignore_index=True)
        is_chunk = np.r_[np.zeros(len(self.reference)), np.ones(len(chunk))]
        return cross_validated_auroc(frame, is_chunk, self.continuous, self.categorical)

    def estimate(self, frame: pd.DataFrame) -> EstimationReport:
        results = []
        for chunk in split_rows(len(frame), chunk_size=self.chunk_size, chunks=self.chunks):
            value = self.score(frame.iloc[chunk.rows])
            estimate = MetricEstimate(
                value=value, realized=None, sampling_error=float("nan"), lower_band=float("nan"),
                upper_band=float("nan"), lower_threshold=self.lower_threshold, upper_threshold=self.upper_threshold,
                alert=outside(value, self.lower_threshold, self.upper_threshold))
            results.append(ChunkResult(index=chunk.index, start_row=chunk.start_row, end_row=chunk.end_row,
                                       metrics={METRIC: estimate}))
        return EstimationReport(method="domain_classifier", chunks=results)


def fit_domain_classifier(reference: pd.DataFrame, features: Sequence[str], *, chunk_size: int | None = None,
                          chunks: int | None = None,
                          thresholds: tuple[float, float] = DEFAULT_THRESHOLDS) -> FittedDomainClassifier:
    """Keep the reference features; continuous and categorical columns each in name order (as NannyML)."""
    categorical = tuple(sorted(column for column in features if is_categorical(reference[column])))
    continuous = tuple(sorted(column for column in features if column not in categorical))
    return FittedDomainClassifier(reference=reference[list(features)].reset_index(drop=True), continuous=continuous,
                                  categorical=categorical, lower_threshold=thresholds[0],
                                  upper_threshold=thresholds[1], chunk_size=chunk_size, chunks=chunks)
