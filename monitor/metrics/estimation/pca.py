"""Multivariate drift as PCA reconstruction error (NannyML's data-reconstruction recipe).

Fitted on the reference: missing values imputed (mean for numbers, most frequent value
for categories), categories replaced by their reference frequency, every column
standardised, then a PCA keeping 65 % of the variance. A chunk's score is the mean,
over its rows, of the distance between a row and its reconstruction from the kept
components: when the relations between features change, rows stop fitting the
reference's principal directions and the error rises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from monitor.blas import one_blas_thread
from monitor.metrics.estimation.chunks import split_rows
from monitor.metrics.estimation.results import ChunkResult, EstimationReport, MetricEstimate
from monitor.metrics.estimation.thresholds import SAMPLING_ERROR_RANGE, Spread, chunk_spread, reference_thresholds

__all__ = ["EXPLAINED_VARIANCE", "FittedReconstruction", "fit_reconstruction", "is_categorical"]

EXPLAINED_VARIANCE = 0.65
PCA_SEED = 16
METRIC = "reconstruction_error"
BLOCK_ROWS = 65_536  # rows encoded and reconstructed at a time


def is_categorical(column: pd.Series) -> bool:
    """Strings, categories and booleans are categorical; numbers are continuous."""
    return bool(pd.api.types.is_object_dtype(column) or isinstance(column.dtype, pd.CategoricalDtype)
                or pd.api.types.is_string_dtype(column) or pd.api.types.is_bool_dtype(column))


def _most_frequent(column: pd.Series) -> object:
    """The most frequent value; among equally frequent ones the smallest."""
    counts = column.dropna().value_counts()
    top = counts[counts == counts.max()].index
    return sorted(top)[0]



@dataclass(frozen=True)
class FittedReconstruction:
    """Imputation values, category frequencies, scaler, PCA and thresholds learned from a reference."""

    features: tuple[str, ...]
    fill_values: dict[str, object]
    frequencies: dict[str, dict[object, float]]
    scaler: StandardScaler
    pca: PCA
    lower_threshold: float | None
    upper_threshold: float | None
    chunk_size: int | None
    chunks: int | None
    # The reconstruction error over the reference chunks (see FittedCBPE.spreads).
    spread: Spread | None = None

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Impute, frequency-encode and standardise ``frame``'s features (a category unseen in
        the reference has frequency 0)."""
        data = np.empty((len(frame), len(self.features)), order="F")  # filled column by column
        for index, feature in enumerate(self.features):
            data[:, index] = self._encoded(frame[feature], feature)
        if self.scaler.mean_ is not None:  # StandardScaler.transform, without its input checks
            data -= self.scaler.mean_
        if self.scaler.scale_ is not None:
            data /= self.scaler.scale_
        return data

    def _encoded(self, column: pd.Series, feature: str) -> np.ndarray:
        """One feature as floats: a category's reference frequency, missing values imputed."""
        fill = self.fill_values[feature]
        if feature in self.frequencies:
            frequencies = self.frequencies[feature]
            codes, uniques = pd.factorize(column)  # a missing value gets code -1: the last entry below
            lookup = [frequencies.get(value, 0.0) for value in uniques.tolist()] + [frequencies.get(fill, 0.0)]
            return np.asarray(np.asarray(lookup, dtype=float)[codes])
        values = column.to_numpy(dtype=float, na_value=np.nan)
        return np.where(np.isnan(values), float(fill), values)  # type: ignore[arg-type]  # a number

    def row_errors(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's Euclidean distance to its reconstruction from the kept components.

        A block of rows at a time, so memory stays small on big frames; one BLAS thread,
        faster than several on these narrow matrices (and not fighting other work for cores).
        """
        components, mean = self.pca.components_, self.pca.mean_
        errors = np.empty(len(frame))
        with one_blas_thread():
            for start in range(0, len(frame), BLOCK_ROWS):
                data = self.encode(frame.iloc[start:start + BLOCK_ROWS])
                data -= mean
                projected = data @ components.T
                # |row - its reconstruction|² = |row|² - |its projection|² (orthonormal components):
                # the same distance as PCA.inverse_transform(PCA.transform(row)) gives, without
                # building the reconstruction
                squared = np.einsum("ij,ij->i", data, data) - np.einsum("ij,ij->i", projected, projected)
                errors[start:start + len(data)] = np.sqrt(np.maximum(squared, 0.0))
        return errors

    def chunk_values(self, frame: pd.DataFrame) -> list[tuple[float, float]]:
        """(mean error, standard error of that mean) per chunk."""
        errors = self.row_errors(frame)
        values = []
        for chunk in split_rows(len(frame), chunk_size=self.chunk_size, chunks=self.chunks):
            part = errors[chunk.rows]
            spread = float(np.std(part, ddof=1)) if len(part) > 1 else float("nan")
            values.append((float(np.mean(part)), spread / np.sqrt(len(part))))
        return values

    def estimate(self, frame: pd.DataFrame) -> EstimationReport:
        chunks = split_rows(len(frame), chunk_size=self.chunk_size, chunks=self.chunks)
        lower = -np.inf if self.lower_threshold is None else self.lower_threshold
        upper = np.inf if self.upper_threshold is None else self.upper_threshold
        results = []
        for chunk, (value, error) in zip(chunks, self.chunk_values(frame), strict=True):
            estimate = MetricEstimate(
                value=value, realized=None, sampling_error=error,
                lower_band=max(value - SAMPLING_ERROR_RANGE * error, 0.0),
                upper_band=value + SAMPLING_ERROR_RANGE * error,
                lower_threshold=self.lower_threshold, upper_threshold=self.upper_threshold,
                alert=not lower < value < upper)  # a value that cannot be judged (NaN) alerts
            results.append(ChunkResult(index=chunk.index, start_row=chunk.start_row, end_row=chunk.end_row,
                                       metrics={METRIC: estimate}))
        return EstimationReport(method="pca_reconstruction", chunks=results)


def fit_reconstruction(
    reference: pd.DataFrame,
    features: Sequence[str],
    *,
    chunk_size: int | None = None,
    chunks: int | None = None,
) -> FittedReconstruction:
    """Fit the reconstruction on ``reference[features]``; thresholds are mean ± 3 std of the
    reference chunks' errors (a lower threshold at or below 0 is dropped)."""
    fill_values: dict[str, object] = {}
    frequencies: dict[str, dict[object, float]] = {}
    for feature in features:
        column = reference[feature]
        if is_categorical(column):
            fill_values[feature] = _most_frequent(column)
            filled = column.astype(object).where(column.notna(), fill_values[feature])
            frequencies[feature] = {key: float(share) for key, share in
                                    filled.value_counts(normalize=True).items()}
        else:
            fill_values[feature] = float(column.astype(float).mean())
    unfitted = FittedReconstruction(
        features=tuple(features), fill_values=fill_values, frequencies=frequencies, scaler=StandardScaler(),
        pca=PCA(n_components=EXPLAINED_VARIANCE, random_state=PCA_SEED), lower_threshold=None,
        upper_threshold=None, chunk_size=chunk_size, chunks=chunks)
    identity = StandardScaler(with_mean=False, with_std=False).fit(np.zeros((1, len(features))))
    raw = replace(unfitted, scaler=identity).encode(reference)
    scaler = StandardScaler().fit(raw)
    pca = PCA(n_components=EXPLAINED_VARIANCE, random_state=PCA_SEED).fit(scaler.transform(raw))
    fitted = replace(unfitted, scaler=scaler, pca=pca)
    reference_values = [value for value, _ in fitted.chunk_values(reference)]
    lower, upper = reference_thresholds(reference_values, lower_limit=0.0, drop_at_limit=True,
                                        name="the reconstruction error")
    return replace(fitted, lower_threshold=lower, upper_threshold=upper,
                   spread=chunk_spread(reference_values, lower_limit=0.0, drop_at_limit=True))
