"""DLE: direct loss estimation for regression models (NannyML 0.13.1's recipe).

On the reference, a LightGBM regressor (default settings, as NannyML) learns each row's
loss — absolute error, squared error, absolute percentage error — from the features and
the model's prediction. On an analysis chunk the predicted losses (floored at 0) are
averaged: estimated MAE, MSE, MAPE, and RMSE as the root of the estimated MSE.
Categorical features are ordinal-encoded (missing values a category of their own, an
unseen category code 0) and handed to LightGBM as categorical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import OrdinalEncoder

from monitor.errors import MetricError
from monitor.metrics.estimation.chunks import RowChunk, split_rows
from monitor.metrics.estimation.pca import is_categorical
from monitor.metrics.estimation.results import ChunkResult, EstimationReport, MetricEstimate
from monitor.metrics.estimation.thresholds import (
    SAMPLING_ERROR_RANGE,
    Spread,
    chunk_spread,
    outside,
    reference_thresholds,
)

__all__ = ["DLE_METRICS", "FittedDLE", "fit_dle"]

DLE_METRICS = ("mae", "mape", "mse", "rmse")
MISSING_CATEGORY = "NML_missing_value"
_EPSILON = float(np.finfo(np.float64).eps)
_LOSS_OF = {"mae": "absolute", "mape": "percentage", "mse": "squared", "rmse": "squared"}


def _losses(kind: str, truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    error = truth - predicted
    if kind == "absolute":
        return np.asarray(np.abs(error))
    if kind == "squared":
        return np.asarray(np.square(error))
    return np.asarray(np.abs(error) / np.maximum(_EPSILON, np.abs(truth)))


def realized_regression(metric: str, truth: np.ndarray, predicted: np.ndarray) -> float:
    """The metric from labels (rows without a label dropped; NaN when none has one).

    >>> realized_regression("rmse", np.array([1.0, 3.0, np.nan]), np.array([2.0, 1.0, 5.0]))
    1.5811388300841898
    """
    known = ~np.isnan(truth)
    truth, predicted = truth[known], predicted[known]
    if len(truth) == 0:
        return float("nan")
    mean = float(np.mean(_losses(_LOSS_OF[metric], truth, predicted)))
    return float(np.sqrt(mean)) if metric == "rmse" else mean


def _sampling_error(metric: str, components: tuple[float, float], rows: int) -> float:
    std, mean = components
    if metric == "rmse":
        return float(np.sqrt(std**2 / (4 * rows * mean)))
    return float(std / np.sqrt(rows))


def _components(metric: str, truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    error = truth - predicted
    if metric == "mae":
        return float(np.std(np.abs(error))), 0.0
    if metric == "mape":
        return float(np.std(np.abs(error) / truth)), 0.0  # NannyML's formula: no guard against y = 0
    squared = np.square(error)
    return float(np.std(squared)), float(np.mean(squared))


@dataclass(frozen=True)
class FittedDLE:
    """Encoders, one loss model per kind of loss, sampling-error components and thresholds."""

    features: tuple[str, ...]
    prediction: str
    metrics: tuple[str, ...]
    encoders: dict[str, OrdinalEncoder]
    models: dict[str, Any]  # loss kind -> fitted LGBMRegressor
    components: dict[str, tuple[float, float]]
    thresholds: dict[str, tuple[float | None, float | None]]
    chunk_size: int | None
    chunks: int | None
    # Each metric over the reference chunks (see FittedCBPE.spreads).
    spreads: dict[str, Spread] | None = None

    def design(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Features plus the prediction, categories ordinal-encoded (codes from 1; unseen: 0)."""
        return _design(frame, self.features, self.prediction, self.encoders)

    def estimate(self, frame: pd.DataFrame, truth: np.ndarray | None = None) -> EstimationReport:
        design = self.design(frame)
        predicted = frame[self.prediction].to_numpy(dtype=float)
        losses = {kind: np.maximum(0, model.predict(design)) for kind, model in self.models.items()}
        chunks = split_rows(len(frame), chunk_size=self.chunk_size, chunks=self.chunks)
        return EstimationReport(method="dle", chunks=[self._chunk(chunk, losses, predicted, truth)
                                                      for chunk in chunks])

    def _chunk(self, chunk: RowChunk, losses: dict[str, np.ndarray], predicted: np.ndarray,
               truth: np.ndarray | None) -> ChunkResult:
        estimates = {}
        for metric in self.metrics:
            mean_loss = float(np.mean(losses[_LOSS_OF[metric]][chunk.rows]))
            value = float(np.sqrt(mean_loss)) if metric == "rmse" else mean_loss
            error = _sampling_error(metric, self.components[metric], chunk.size)
            lower, upper = self.thresholds[metric]
            realized = (None if truth is None
                        else realized_regression(metric, truth[chunk.rows], predicted[chunk.rows]))
            estimates[metric] = MetricEstimate(
                value=value, realized=realized, sampling_error=error,
                lower_band=max(0.0, value - SAMPLING_ERROR_RANGE * error),
                upper_band=value + SAMPLING_ERROR_RANGE * error,
                lower_threshold=lower, upper_threshold=upper, alert=outside(value, lower, upper))
        return ChunkResult(index=chunk.index, start_row=chunk.start_row, end_row=chunk.end_row, metrics=estimates)


def _design(frame: pd.DataFrame, features: Sequence[str], prediction: str,
            encoders: dict[str, OrdinalEncoder]) -> pd.DataFrame:
    design = frame[[*features, prediction]].copy()
    for column, encoder in encoders.items():
        values = design[column].astype(object)
        values = values.where(values.notna(), MISSING_CATEGORY).to_numpy().reshape(-1, 1)
        design[column] = encoder.transform(values).ravel() + 1
    return design


def fit_dle(
    reference: pd.DataFrame,
    features: Sequence[str],
    prediction: str,
    truth: str,
    *,
    metrics: Sequence[str] = DLE_METRICS,
    chunk_size: int | None = None,
    chunks: int | None = None,
) -> FittedDLE:
    """Fit the loss models on the reference (labels required: validated already, none missing)."""
    from lightgbm import LGBMRegressor  # loads only when a regression is estimated

    unknown = [name for name in metrics if name not in DLE_METRICS]
    if unknown:
        raise MetricError(f"unknown metric {unknown[0]!r} for regression; use any of {', '.join(DLE_METRICS)}")
    names = tuple(dict.fromkeys(metrics))
    categorical = [column for column in features if is_categorical(reference[column])]
    encoders = {}
    for column in categorical:
        values = reference[column].astype(object)
        values = values.where(values.notna(), MISSING_CATEGORY).to_numpy().reshape(-1, 1)
        encoders[column] = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1).fit(values)
    design = _design(reference, features, prediction, encoders)
    true_values = reference[truth].to_numpy(dtype=float)
    predicted = reference[prediction].to_numpy(dtype=float)
    models = {}
    for kind in dict.fromkeys(_LOSS_OF[name] for name in names):
        model = LGBMRegressor(verbose=-1)
        model.fit(design, _losses(kind, true_values, predicted), categorical_feature=categorical)
        models[kind] = model
    reference_chunks = split_rows(len(reference), chunk_size=chunk_size, chunks=chunks)
    values = {name: [realized_regression(name, true_values[c.rows], predicted[c.rows]) for c in reference_chunks]
              for name in names}
    thresholds = {name: reference_thresholds(values[name], lower_limit=0.0, name=name) for name in names}
    return FittedDLE(features=tuple(features), prediction=prediction, metrics=names, encoders=encoders,
                     models=models, components={name: _components(name, true_values, predicted) for name in names},
                     thresholds=thresholds, chunk_size=chunk_size, chunks=chunks,
                     spreads={name: chunk_spread(values[name], lower_limit=0.0) for name in names})
