"""CBPE: confidence-based performance estimation for binary classifiers.

With calibrated scores ``p`` (the probability that a row is positive), each row's
expected contribution to the confusion matrix is known without its label: a positive
prediction is a true positive with probability ``p`` and a false positive with ``1 - p``.
Summing over a chunk gives the expected confusion matrix, and from it every metric.
ROC AUC is estimated from the expected ROC curve (rows ranked by the model's own score).

Sampling errors, thresholds and the calibration rule follow NannyML 0.13.1 with its
defaults, so the numbers agree with it (tests check this on NannyML's own datasets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from monitor.errors import MetricError
from monitor.metrics.estimation.calibration import fit_calibrator
from monitor.metrics.estimation.chunks import RowChunk, split_rows
from monitor.metrics.estimation.results import ChunkResult, EstimationReport, MetricEstimate
from monitor.metrics.estimation.thresholds import (
    SAMPLING_ERROR_RANGE,
    Spread,
    chunk_spread,
    outside,
    reference_thresholds,
)

__all__ = ["CBPE_METRICS", "CONFUSION_CELLS", "FittedCBPE", "fit_cbpe", "metric_bounds", "resolve_cbpe_metrics"]

CONFUSION_CELLS = ("true_positive", "true_negative", "false_positive", "false_negative")
SCALAR_METRICS = ("roc_auc", "f1", "precision", "recall", "specificity", "accuracy")
CBPE_METRICS = (*SCALAR_METRICS, *CONFUSION_CELLS)
_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    **{name: (0.0, 1.0) for name in SCALAR_METRICS},
    **{name: (0.0, None) for name in CONFUSION_CELLS},  # counts: no upper bound
}


def metric_bounds(metric: str) -> tuple[float | None, float | None]:
    """The values ``metric`` cannot leave (None: unbounded); its learned thresholds are clipped to them.

    >>> metric_bounds("f1"), metric_bounds("true_positive")
    ((0.0, 1.0), (0.0, None))
    """
    return _BOUNDS[metric]


def resolve_cbpe_metrics(names: Sequence[str]) -> tuple[str, ...]:
    """Metric names as given, ``confusion_matrix`` standing for its four cells.

    >>> resolve_cbpe_metrics(["f1", "confusion_matrix"])
    ('f1', 'true_positive', 'true_negative', 'false_positive', 'false_negative')
    """
    resolved: list[str] = []
    for name in names:
        expanded = CONFUSION_CELLS if name == "confusion_matrix" else (name,)
        for metric in expanded:
            if metric not in CBPE_METRICS:
                raise MetricError(f"unknown metric {name!r}; use any of {', '.join(CBPE_METRICS)} or confusion_matrix")
            if metric not in resolved:
                resolved.append(metric)
    if not resolved:
        raise MetricError("no metric asked for; give at least one, e.g. roc_auc")
    return tuple(resolved)


# --- expected confusion matrix and the metrics estimated from it ----------------------------------------------------

def _expected_cells(proba: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    positive = predicted == 1
    on_positive, on_negative = proba[positive], proba[~positive]
    return {
        "tp": float(np.sum(on_positive)),
        "fp": float(np.sum(1 - on_positive)),
        "fn": float(np.sum(on_negative)),
        "tn": float(np.sum(1 - on_negative)),
    }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else 0.0


def estimated_roc_auc(calibrated: np.ndarray, scores: np.ndarray) -> float:
    """Area under the expected ROC curve: rows by descending score, each adding ``p`` true
    and ``1 - p`` false positives (cumulative counts rounded to 5 decimals, as NannyML).

    >>> round(estimated_roc_auc(np.array([0.9, 0.1]), np.array([0.8, 0.2])), 6)
    0.9
    """
    order = np.argsort(scores)[::-1]
    expected_true = calibrated[order]
    cumulative = np.cumsum(expected_true)
    true_positives = np.asarray(np.round(np.r_[0, cumulative], 5), dtype=float)
    false_positives = np.asarray(np.round(np.r_[0, 1 + np.arange(len(expected_true)) - cumulative], 5), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = false_positives / false_positives[-1], true_positives / true_positives[-1]
        # sklearn's ``auc`` (the trapezoidal rule) without its input checks: x never decreases
        return float((np.diff(x) * (y[1:] + y[:-1]) / 2.0).sum())


def _estimate(metric: str, proba: np.ndarray, scores: np.ndarray, predicted: np.ndarray,
              cells: dict[str, float] | None = None) -> float:
    """``metric`` estimated on one chunk (``cells``: its expected confusion matrix, if known already)."""
    if metric == "roc_auc":
        return estimated_roc_auc(proba, scores)
    cells = _expected_cells(proba, predicted) if cells is None else cells
    tp, fp, fn, tn = cells["tp"], cells["fp"], cells["fn"], cells["tn"]
    if metric == "f1":
        return _ratio(tp, tp + 0.5 * (fp + fn))
    if metric == "precision":
        return _ratio(tp, tp + fp)
    if metric == "recall":
        return _ratio(tp, tp + fn)
    if metric == "specificity":
        return _ratio(tn, tn + fp)
    if metric == "accuracy":
        return (tp + tn) / len(predicted)
    positive = predicted == 1
    per_row = {
        "true_positive": np.where(positive, proba, 0),
        "false_positive": np.where(positive, 1 - proba, 0),
        "false_negative": np.where(~positive, proba, 0),
        "true_negative": np.where(~positive, 1 - proba, 0),
    }[metric]
    return float(np.mean(per_row)) * len(predicted)


# --- realized metrics (labels present) --------------------------------------------------------------------------------

def _counts(labels: np.ndarray, predicted: np.ndarray) -> tuple[int, int, int, int]:
    tp = int(np.sum((labels == 1) & (predicted == 1)))
    fp = int(np.sum((labels == 0) & (predicted == 1)))
    fn = int(np.sum((labels == 1) & (predicted == 0)))
    tn = int(np.sum((labels == 0) & (predicted == 0)))
    return tp, fp, fn, tn


def realized_metric(metric: str, labels: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> float:
    """The metric computed from labels; NaN where it is undefined (no labels, a single class).

    >>> realized_metric("precision", np.array([1, 0, 1]), np.array([0.9, 0.6, 0.2]), np.array([1, 1, 0]))
    0.5
    """
    return realized_metrics((metric,), labels, scores, predicted)[metric]


def realized_metrics(metrics: Sequence[str], labels: np.ndarray, scores: np.ndarray,
                     predicted: np.ndarray) -> dict[str, float]:
    """:func:`realized_metric` of each of ``metrics``, the labelled rows picked and counted once for all.

    >>> realized_metrics(["accuracy", "true_positive"], np.array([1, 0, np.nan]), np.array([0.9, 0.6, 0.2]),
    ...                  np.array([1, 1, 0]))
    {'accuracy': 0.5, 'true_positive': 1.0}
    """
    known = ~np.isnan(labels)
    labels, scores, predicted = labels[known], scores[known], predicted[known]
    if len(labels) == 0:
        return dict.fromkeys(metrics, float("nan"))
    tp, fp, fn, tn = _counts(labels, predicted)
    two_label_classes = bool(labels.min() != labels.max())
    two_predicted_classes = bool(predicted.min() != predicted.max())
    found = {}
    for metric in metrics:
        if metric == "roc_auc":
            found[metric] = float(roc_auc_score(labels, scores)) if two_label_classes else float("nan")
        elif metric in ("f1", "precision", "recall"):
            found[metric] = float("nan") if not (two_label_classes and two_predicted_classes) else {
                "f1": _ratio(2 * tp, 2 * tp + fp + fn), "precision": _ratio(tp, tp + fp),
                "recall": _ratio(tp, tp + fn)}[metric]
        elif metric == "specificity":
            found[metric] = tn / (tn + fp) if tn + fp else float("nan")
        elif metric == "accuracy":
            found[metric] = (tp + tn) / len(labels)
        else:
            found[metric] = float({"true_positive": tp, "true_negative": tn, "false_positive": fp,
                                   "false_negative": fn}[metric])
    return found


# --- sampling errors (NannyML's formulas) -----------------------------------------------------------------------------

def _roc_auc_components(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Spread of the per-positive share of negatives ranked below it, and the positive share."""
    if np.mean(labels) > 0.5:  # work on the minority class
        labels, scores = 1 - labels, 1 - scores
    order = np.argsort(scores)
    ranked = labels[order]
    positive_ranks = np.unique(ranked * np.arange(len(ranked)))[1:]
    negatives_below = positive_ranks - np.arange(len(positive_ranks))
    positives = float(np.sum(ranked))
    return float(np.std(negatives_below / (len(ranked) - positives))), positives / len(ranked)


def _sampling_components(metric: str, labels: np.ndarray, scores: np.ndarray,
                         predicted: np.ndarray) -> tuple[float, float]:
    """(reference standard deviation, share of rows it is measured on) for ``std / sqrt(n · share)``."""
    n = len(labels)
    tp, fp, fn, tn = _counts(labels, predicted)
    if metric == "roc_auc":
        return _roc_auc_components(labels, scores)
    if metric == "f1":
        relevant = tp + fp + fn
        correction = relevant / (0.5 * (fn + fp) + tp)
        return float(np.std(np.r_[np.ones(tp), np.zeros(fn + fp)] * correction)), relevant / n
    if metric == "precision":
        return float(np.std(np.r_[np.ones(tp), np.zeros(fp)])), float(np.sum(predicted)) / n
    if metric == "recall":
        return float(np.std(np.r_[np.ones(tp), np.zeros(fn)])), float(np.sum(labels)) / n
    if metric == "specificity":
        return float(np.std(np.r_[np.ones(tn), np.zeros(fp)])), (tn + fp) / n
    if metric == "accuracy":
        return float(np.std((labels == predicted).astype(int))), 1.0
    cell = {"true_positive": (labels == 1) & (predicted == 1), "true_negative": (labels == 0) & (predicted == 0),
            "false_positive": (labels == 0) & (predicted == 1), "false_negative": (labels == 1) & (predicted == 0)}
    return float(np.std(cell[metric].astype(int))), 1.0


def _sampling_error(metric: str, components: tuple[float, float], rows: int) -> float:
    std, share = components
    if metric in CONFUSION_CELLS:  # counts, not rates: the error of a count scales with n
        return float(std / np.sqrt(rows) * rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(std / np.sqrt(rows * share))  # a share of 0 gives inf: no band


# --- fit once on the reference, then estimate chunk by chunk ----------------------------------------------------------

@dataclass(frozen=True)
class FittedCBPE:
    """What CBPE learned from a reference: calibrator, sampling-error components, thresholds."""

    metrics: tuple[str, ...]
    calibrator: IsotonicRegression | None
    components: dict[str, tuple[float, float]]
    thresholds: dict[str, tuple[float | None, float | None]]
    chunk_size: int | None
    chunks: int | None
    # Each metric over the reference chunks: its thresholds for a window of another size (Spread.thresholds).
    spreads: dict[str, Spread] | None = None

    @property
    def calibrated(self) -> bool:
        return self.calibrator is not None

    def calibrate(self, scores: np.ndarray) -> np.ndarray:
        return scores if self.calibrator is None else np.asarray(self.calibrator.predict(scores))

    def estimate(self, scores: np.ndarray, predicted: np.ndarray, labels: np.ndarray | None = None) -> EstimationReport:
        """Estimate every metric on consecutive chunks of the analysis rows.

        ``labels`` (NaN where a label is still missing) adds the realized values.
        """
        scores = np.asarray(scores, dtype=float)
        predicted = np.asarray(predicted)
        proba = self.calibrate(scores)
        chunks = split_rows(len(scores), chunk_size=self.chunk_size, chunks=self.chunks)
        results = [self._chunk(chunk, proba, scores, predicted, labels) for chunk in chunks]
        return EstimationReport(method="cbpe", chunks=results)

    def _chunk(self, chunk: RowChunk, proba: np.ndarray, scores: np.ndarray, predicted: np.ndarray,
               labels: np.ndarray | None) -> ChunkResult:
        rows = chunk.rows
        estimates = {}
        cells = _expected_cells(proba[rows], predicted[rows])  # shared by every metric but ROC AUC
        realized_values = (None if labels is None else
                           realized_metrics(self.metrics, np.asarray(labels[rows], dtype=float), scores[rows],
                                            predicted[rows]))
        for metric in self.metrics:
            value = _estimate(metric, proba[rows], scores[rows], predicted[rows], cells)
            error = _sampling_error(metric, self.components[metric], chunk.size)
            lower_bound, upper_bound = _BOUNDS[metric]
            lower, upper = self.thresholds[metric]
            realized = None if realized_values is None else realized_values[metric]
            estimates[metric] = MetricEstimate(
                value=value, realized=realized, sampling_error=error,
                lower_band=max(-np.inf if lower_bound is None else lower_bound, value - SAMPLING_ERROR_RANGE * error),
                upper_band=min(np.inf if upper_bound is None else upper_bound, value + SAMPLING_ERROR_RANGE * error),
                lower_threshold=lower, upper_threshold=upper, alert=outside(value, lower, upper))
        return ChunkResult(index=chunk.index, start_row=chunk.start_row, end_row=chunk.end_row, metrics=estimates)


def fit_cbpe(
    labels: np.ndarray,
    scores: np.ndarray,
    predicted: np.ndarray,
    *,
    metrics: Sequence[str] = CBPE_METRICS,
    chunk_size: int | None = None,
    chunks: int | None = None,
    threshold_rule: Callable[..., tuple[float | None, float | None]] = reference_thresholds,
) -> FittedCBPE:
    """Learn CBPE from reference labels (0/1), scores (probabilities of 1) and predictions (0/1).

    Thresholds come from the realized metric on the reference split into the same
    chunks as the analysis will be. Inputs must be validated already (no missing
    values, both classes present, scores within [0, 1]).
    """
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=float)
    predicted = np.asarray(predicted).astype(int)
    names = resolve_cbpe_metrics(metrics)
    reference_chunks = split_rows(len(labels), chunk_size=chunk_size, chunks=chunks)
    thresholds = {}
    components = {}
    spreads = {}
    for metric in names:
        lower_bound, upper_bound = _BOUNDS[metric]
        realized = [realized_metric(metric, labels[c.rows].astype(float), scores[c.rows], predicted[c.rows])
                    for c in reference_chunks]
        thresholds[metric] = threshold_rule(realized, lower_limit=lower_bound, upper_limit=upper_bound, name=metric)
        components[metric] = _sampling_components(metric, labels, scores, predicted)
        spreads[metric] = chunk_spread(realized, lower_limit=lower_bound, upper_limit=upper_bound,
                                       count=metric in CONFUSION_CELLS)
    return FittedCBPE(metrics=names, calibrator=fit_calibrator(labels, scores), components=components,
                      thresholds=thresholds, chunk_size=chunk_size, chunks=chunks, spreads=spreads)
