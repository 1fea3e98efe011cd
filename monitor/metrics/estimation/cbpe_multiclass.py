"""CBPE for multiclass classifiers: one-vs-rest per class, macro-averaged (as NannyML 0.13.1).

Each class's score column is calibrated on its own (isotonic, when that helps), the
calibrated scores of a row are renormalised to sum to 1, and every metric is the mean
over classes of the binary estimate for "this class vs the rest". Accuracy is the mean
calibrated probability of the predicted class. The confusion matrix's cells
(``true_<a>_pred_<b>``, counts, ``confusion_matrix`` standing for all of them) are the
sums of the calibrated probability of class a over the rows predicted b.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from monitor.errors import MetricError
from monitor.metrics.estimation.calibration import fit_calibrator
from monitor.metrics.estimation.cbpe import SCALAR_METRICS, estimated_roc_auc
from monitor.metrics.estimation.chunks import RowChunk, split_rows
from monitor.metrics.estimation.results import ChunkResult, EstimationReport, MetricEstimate
from monitor.metrics.estimation.thresholds import (
    DEFAULT_STD_MULTIPLIER,
    SAMPLING_ERROR_RANGE,
    Spread,
    chunk_spread,
    outside,
    reference_thresholds,
)

__all__ = ["MULTICLASS_METRICS", "FittedMulticlassCBPE", "cell_name", "fit_multiclass_cbpe", "realized_cell",
           "resolve_multiclass_metrics"]

MULTICLASS_METRICS = SCALAR_METRICS
AUROC_ERROR_FACTOR = 1.2  # NannyML widens the multiclass ROC AUC standard error by this factor


def cell_name(true_class: str, predicted_class: str) -> str:
    """NannyML's name of a confusion-matrix cell.

    >>> cell_name("cat", "dog")
    'true_cat_pred_dog'
    """
    return f"true_{true_class}_pred_{predicted_class}"


def _cells(classes: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Every cell's name → (true class index, predicted class index), rows by true class."""
    return {cell_name(a, b): (i, j) for i, a in enumerate(classes) for j, b in enumerate(classes)}


def resolve_multiclass_metrics(names: Sequence[str], classes: Sequence[str]) -> tuple[str, ...]:
    """Metric names as given, ``confusion_matrix`` standing for every cell of ``classes`` (sorted).

    >>> resolve_multiclass_metrics(["f1", "confusion_matrix"], ["b", "a"])
    ('f1', 'true_a_pred_a', 'true_a_pred_b', 'true_b_pred_a', 'true_b_pred_b')
    """
    cells = _cells(sorted(classes))
    resolved: list[str] = []
    for name in names:
        expanded = tuple(cells) if name == "confusion_matrix" else (name,)
        for item in expanded:
            if item not in MULTICLASS_METRICS and item not in cells:
                raise MetricError(f"unknown metric {item!r} for multiclass; use any of "
                                  f"{', '.join(MULTICLASS_METRICS)}, confusion_matrix or a cell such as "
                                  f"{next(iter(cells))}")
            if item not in resolved:
                resolved.append(item)
    return tuple(resolved)


def _one_hot(values: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    return np.column_stack([values == name for name in classes]).astype(int)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else 0.0


def _class_estimate(metric: str, predicted: np.ndarray, proba: np.ndarray) -> float:
    positive = predicted == 1
    tp = float(np.sum(np.where(positive, proba, 0)))
    fp = float(np.sum(np.where(positive, 1 - proba, 0)))
    fn = float(np.sum(np.where(~positive, proba, 0)))
    tn = float(np.sum(np.where(~positive, 1 - proba, 0)))
    return {"f1": lambda: _ratio(tp, tp + 0.5 * (fp + fn)), "precision": lambda: _ratio(tp, tp + fp),
            "recall": lambda: _ratio(tp, tp + fn), "specificity": lambda: _ratio(tn, tn + fp)}[metric]()


def _estimate(metric: str, proba: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> float:
    if metric == "accuracy":
        return float(np.mean(np.max(predicted * proba, axis=1)))
    if metric == "roc_auc":
        return float(np.mean([estimated_roc_auc(proba[:, k], scores[:, k]) for k in range(proba.shape[1])]))
    return float(np.mean([_class_estimate(metric, predicted[:, k], proba[:, k]) for k in range(proba.shape[1])]))


def _class_counts(labels: np.ndarray, predicted: np.ndarray) -> tuple[int, int, int, int]:
    return (int(np.sum((labels == 1) & (predicted == 1))), int(np.sum((labels == 0) & (predicted == 1))),
            int(np.sum((labels == 1) & (predicted == 0))), int(np.sum((labels == 0) & (predicted == 0))))


def realized_multiclass(metric: str, labels: np.ndarray, scores: np.ndarray, predicted: np.ndarray,
                        classes: Sequence[str]) -> float:
    """Macro-averaged metric from labels (NaN for missing labels dropped; NaN where undefined)."""
    known = np.asarray(pd.notna(labels), dtype=bool)
    labels, scores, predicted = labels[known], scores[known], predicted[known]
    if len(labels) == 0:
        return float("nan")
    if metric == "roc_auc":
        if set(labels.tolist()) != set(classes):
            return float("nan")
        return float(np.mean([roc_auc_score(labels == name, scores[:, k]) for k, name in enumerate(classes)]))
    if len(set(labels.tolist())) <= 1 or len(set(predicted.tolist())) <= 1:
        return float("nan")
    if metric == "accuracy":
        return float(np.mean(labels == predicted))
    per_class = []
    for name in classes:
        tp, fp, fn, tn = _class_counts((labels == name).astype(int), (predicted == name).astype(int))
        per_class.append({"f1": _ratio(2 * tp, 2 * tp + fp + fn), "precision": _ratio(tp, tp + fp),
                          "recall": _ratio(tp, tp + fn),
                          "specificity": tn / (tn + fp) if tn + fp else float("nan")}[metric])
    return float(np.mean(per_class))


def realized_cell(cell: tuple[int, int], labels: np.ndarray, predicted: np.ndarray,
                   classes: Sequence[str]) -> float:
    """The count in one cell from labels (NaN when the labels or predictions hold a single class, as NannyML)."""
    known = np.asarray(pd.notna(labels), dtype=bool)
    labels, predicted = labels[known], predicted[known]
    if len(labels) == 0 or len(set(labels.tolist())) <= 1 or len(set(predicted.tolist())) <= 1:
        return float("nan")
    return float(np.sum((labels == classes[cell[0]]) & (predicted == classes[cell[1]])))


def _class_variance(metric: str, labels: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """One class's (variance, share of rows) for the multiclass standard error."""
    n = len(labels)
    tp, fp, fn, tn = _class_counts(labels, predicted)
    if metric == "roc_auc":
        if np.mean(labels) > 0.5:
            labels, scores = 1 - labels, 1 - scores
        ranked = labels[np.argsort(scores)]
        positive_ranks = np.unique(ranked * np.arange(n))[1:]
        negatives_below = positive_ranks - np.arange(len(positive_ranks))
        positives = float(np.sum(ranked))
        return float(np.var(negatives_below / (n - positives))), positives / n
    if metric == "f1":
        return float(np.var(np.r_[np.ones(tp), np.zeros(fn + fp)])), (tp + fn + fp) / n
    if metric == "precision":
        return float(np.var(np.r_[np.ones(tp), np.zeros(fp)])), float(np.sum(predicted)) / n
    if metric == "recall":
        return float(np.var(np.r_[np.ones(tp), np.zeros(fn)])), float(np.sum(labels)) / n
    return float(np.var(np.r_[np.ones(tn), np.zeros(fp)])), (tn + fp) / n  # specificity


@dataclass(frozen=True)
class FittedMulticlassCBPE:
    """Per-class calibrators, per-class variance components and thresholds learned from a reference."""

    classes: tuple[str, ...]
    metrics: tuple[str, ...]
    calibrators: tuple[IsotonicRegression | None, ...]
    components: dict[str, list[tuple[float, float]]]
    thresholds: dict[str, tuple[float | None, float | None]]
    chunk_size: int | None
    chunks: int | None
    # Each metric over the reference chunks (see FittedCBPE.spreads).
    spreads: dict[str, Spread] | None = None

    @property
    def _cell_index(self) -> dict[str, tuple[int, int]]:
        return _cells(self.classes)

    def cell_classes(self) -> dict[str, tuple[str, str]]:
        """The estimated cells (``true_<a>_pred_<b>``) → (true class, predicted class), rows by true class."""
        return {name: (self.classes[i], self.classes[j]) for name, (i, j) in self._cell_index.items()
                if name in self.metrics}

    def calibrate(self, scores: np.ndarray) -> np.ndarray:
        calibrated = np.column_stack([
            scores[:, k] if calibrator is None else calibrator.predict(scores[:, k])
            for k, calibrator in enumerate(self.calibrators)])
        totals = calibrated.sum(axis=1)[:, np.newaxis]
        uniform = np.full_like(calibrated, 1 / len(self.classes))
        return np.asarray(np.divide(calibrated, totals, out=uniform, where=totals != 0))

    def _sampling_error(self, metric: str, rows: int) -> float:
        if metric in self._cell_index:  # a count: its error scales with n (NannyML's, not normalised)
            (std, _), = self.components[metric]
            return float(std / np.sqrt(rows) * rows)
        if metric == "accuracy":
            (std, _), = self.components[metric]
            return float(std / np.sqrt(rows))
        with np.errstate(divide="ignore", invalid="ignore"):
            variances = [variance / (rows * share) for variance, share in self.components[metric]]
        error = float(np.sqrt(np.sum(variances)) / len(variances))
        return error * AUROC_ERROR_FACTOR if metric == "roc_auc" else error

    def estimate(self, scores: np.ndarray, predicted: np.ndarray, labels: np.ndarray | None = None) -> EstimationReport:
        """``scores``: one column per class (in ``classes`` order); ``predicted`` and ``labels``: class names
        (``None`` for a label not known yet)."""
        scores = np.asarray(scores, dtype=float)
        proba = self.calibrate(scores)
        one_hot = _one_hot(predicted, self.classes)
        chunks = split_rows(len(scores), chunk_size=self.chunk_size, chunks=self.chunks)
        return EstimationReport(method="cbpe", chunks=[self._chunk(chunk, proba, scores, one_hot, predicted, labels)
                                                       for chunk in chunks])

    def _chunk(self, chunk: RowChunk, proba: np.ndarray, scores: np.ndarray, one_hot: np.ndarray,
               predicted: np.ndarray, labels: np.ndarray | None) -> ChunkResult:
        rows = chunk.rows
        estimates = {}
        for metric in self.metrics:
            cell = self._cell_index.get(metric)
            if cell is None:
                value = _estimate(metric, proba[rows], scores[rows], one_hot[rows])
                realized = (None if labels is None else
                            realized_multiclass(metric, labels[rows], scores[rows], predicted[rows], self.classes))
            else:
                value = float(np.sum(np.where(one_hot[rows][:, cell[1]] == 1, proba[rows][:, cell[0]], 0.0)))
                realized = (None if labels is None
                            else realized_cell(cell, labels[rows], predicted[rows], self.classes))
            error = self._sampling_error(metric, chunk.size)
            lower, upper = self.thresholds[metric]
            estimates[metric] = MetricEstimate(
                value=value, realized=realized, sampling_error=error,
                lower_band=max(0.0, value - SAMPLING_ERROR_RANGE * error),
                upper_band=value + SAMPLING_ERROR_RANGE * error if cell is not None
                else min(1.0, value + SAMPLING_ERROR_RANGE * error),
                lower_threshold=lower, upper_threshold=upper, alert=outside(value, lower, upper))
        return ChunkResult(index=chunk.index, start_row=chunk.start_row, end_row=chunk.end_row, metrics=estimates)


def fit_multiclass_cbpe(
    labels: np.ndarray,
    scores: np.ndarray,
    predicted: np.ndarray,
    classes: Sequence[str],
    *,
    metrics: Sequence[str] = MULTICLASS_METRICS,
    chunk_size: int | None = None,
    chunks: int | None = None,
    threshold_std: float = DEFAULT_STD_MULTIPLIER,
) -> FittedMulticlassCBPE:
    """Learn multiclass CBPE; ``labels``/``predicted`` hold class names, ``scores`` one column per class.

    ``classes`` are sorted (NannyML's order); inputs must be validated already. Thresholds
    are mean ± ``threshold_std`` std of the reference chunks' realized values.
    """
    classes = tuple(sorted(classes))
    metrics = resolve_multiclass_metrics(metrics, classes)
    cells = _cells(classes)
    scores = np.asarray(scores, dtype=float)
    true_hot, predicted_hot = _one_hot(labels, classes), _one_hot(predicted, classes)
    reference_chunks = split_rows(len(labels), chunk_size=chunk_size, chunks=chunks)
    thresholds, components, spreads = {}, {}, {}
    for metric in metrics:
        cell = cells.get(metric)
        if cell is not None:
            realized = [realized_cell(cell, labels[c.rows], predicted[c.rows], classes) for c in reference_chunks]
            thresholds[metric] = reference_thresholds(realized, multiplier=threshold_std, lower_limit=0.0,
                                                       name=metric)
            spreads[metric] = chunk_spread(realized, lower_limit=0.0, count=True)
            # NannyML: the std of a 0/1 indicator with as many ones as the reference's cell count.
            share = float(np.sum((labels == classes[cell[0]]) & (predicted == classes[cell[1]]))) / len(labels)
            components[metric] = [(float(np.sqrt(share * (1 - share))), 1.0)]
            continue
        realized = [realized_multiclass(metric, labels[c.rows], scores[c.rows], predicted[c.rows], classes)
                    for c in reference_chunks]
        thresholds[metric] = reference_thresholds(realized, multiplier=threshold_std, lower_limit=0.0,
                                                   upper_limit=1.0, name=metric)
        spreads[metric] = chunk_spread(realized, lower_limit=0.0, upper_limit=1.0)
        if metric == "accuracy":
            components[metric] = [(float(np.std((labels == predicted).astype(int))), 1.0)]
        else:
            components[metric] = [_class_variance(metric, true_hot[:, k], scores[:, k], predicted_hot[:, k])
                                  for k in range(len(classes))]
    calibrators = tuple(fit_calibrator(true_hot[:, k], scores[:, k]) for k in range(len(classes)))
    return FittedMulticlassCBPE(classes=classes, metrics=metrics, calibrators=calibrators,
                                components=components, thresholds=thresholds, chunk_size=chunk_size, chunks=chunks,
                                spreads=spreads)
