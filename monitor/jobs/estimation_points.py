"""The estimated metrics and multivariate drift of one window, from the stored fit (pure).

Each window is one chunk: ``estimated_<metric>`` and ``multivariate_drift`` carry the
estimate as value, the learned thresholds, the sampling-error band and, once the
window's labels are in, the realized value. A window that cannot be estimated gets
the metric with a NULL value and ``details.not_estimated`` saying why.

A segment's window is scored with the whole model's estimators but judged by the
segment's own thresholds (:mod:`monitor.jobs.estimation_segments`); where the segment
has none, ``details.threshold_not_learned`` says why and the point cannot breach.

Learned thresholds are drawn for each window's rows: the fit keeps each metric's mean and
std over the reference chunks (:class:`monitor.metrics.estimation.thresholds.Spread`), and a
window of ``r`` chunks' rows is judged against ``mean ± k·std/√r`` — or, for the confusion
cells, which are counts, ``r·mean ± k·std·√r`` (``details.window_thresholds`` says from what).
A window of exactly ``chunk_size`` rows gets the chunks' own thresholds, as ``driftwatch
estimate`` prints them; a short first window, or a segment whose share of the traffic moves,
is not flagged for being smaller or larger than a chunk.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from monitor.config.models import ModelConfig
from monitor.jobs.estimation_fit import (
    LABEL_COLUMN,
    MULTIVARIATE_METRIC,
    PREDICTION_COLUMN,
    FittedEstimators,
    SegmentThresholds,
    binary_arrays,
    multiclass_arrays,
    regression_frame,
    service_metrics,
)
from monitor.metrics.estimation.cbpe import CONFUSION_CELLS
from monitor.metrics.estimation.cbpe_multiclass import FittedMulticlassCBPE
from monitor.metrics.estimation.classifier import FittedDomainClassifier
from monitor.metrics.estimation.dle import FittedDLE
from monitor.metrics.estimation.results import MetricEstimate
from monitor.metrics.estimation.thresholds import Spread, few_chunk_multiplier, outside
from monitor.metrics.features import FeatureSpec, coerce_features
from monitor.metrics.names import CONFUSION_CELL_METRIC, confusion_cell_feature
from monitor.metrics.point import MetricPoint
from monitor.store.stored_rows import StoredRows

__all__ = ["ESTIMATION_PARTS", "MIN_WINDOW_ROWS", "canonical_order", "estimation_points"]

MIN_WINDOW_ROWS = 10  # fewer rows give no usable estimate (nor sampling error)
ESTIMATION_PARTS = frozenset({"performance", "multivariate"})
_SHUFFLE_SEED = 13


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _point(metric: str, estimate: MetricEstimate, method: str, rows: int, *, feature: str | None = None,
           labelled: int | None = None, **extra: Any) -> MetricPoint:
    """One estimated metric; ``labelled`` (confusion cells: counts) is how many of the ``rows`` have a label."""
    lower, upper = estimate.lower_threshold, estimate.upper_threshold
    details: dict[str, Any] = {
        "method": method, "rows": rows,
        "lower_band": _number(estimate.lower_band), "upper_band": _number(estimate.upper_band),
        "lower_threshold": _number(lower), "upper_threshold": _number(upper),
        "sampling_error": _number(estimate.sampling_error), **extra,
    }
    if estimate.realized is not None and math.isfinite(estimate.realized):
        details.update(_realized(float(estimate.realized), rows, labelled))
    name = metric if feature is None else f"{metric} {feature}"
    if not math.isfinite(estimate.value):
        reason = f"{name} is undefined for this window's {rows} rows"
        return MetricPoint(metric, math.nan, feature=feature, threshold=_number(upper if upper is not None else lower),
                           details={**details, "reason": reason, "not_estimated": reason})
    return MetricPoint(metric, float(estimate.value), feature=feature,
                       threshold=_number(upper if upper is not None else lower), is_breach=bool(estimate.alert),
                       details=details)


def _realized(value: float, rows: int, labelled: int | None) -> dict[str, Any]:
    """The realized value's details. A count (``labelled`` given) is comparable with the estimate only once
    every row has its label: before, it is kept apart (``realized_so_far``), so ``outside band`` does not
    mistake labels still on their way for a missed estimate.

    >>> _realized(0.8, 100, None)
    {'realized': 0.8}
    >>> _realized(31.0, 100, 60)
    {'realized_so_far': 31.0, 'labelled_rows': 60}
    >>> _realized(52.0, 100, 100)
    {'realized': 52.0, 'labelled_rows': 100}
    """
    if labelled is None:
        return {"realized": value}
    if labelled < rows:
        return {"realized_so_far": value, "labelled_rows": labelled}
    return {"realized": value, "labelled_rows": labelled}


def _not_estimated(metric: str, reason: str, method: str, feature: str | None = None, **extra: Any) -> MetricPoint:
    return MetricPoint(metric, math.nan, feature=feature,
                       details={"method": method, "reason": reason, "not_estimated": reason, **extra})


def _not_estimated_all(names: tuple[str, ...] | list[str], reason: str, method: str,
                       classes: tuple[str, ...] = ()) -> list[MetricPoint]:
    """Every metric of ``names`` not estimated; ``confusion_cell`` as one row per cell of ``classes``
    (none when the classes are not known: the other metrics say why)."""
    points = []
    for name in names:
        if name != "confusion_cell":
            points.append(_not_estimated(f"estimated_{name}", reason, method))
            continue
        points += [_not_estimated(CONFUSION_CELL_METRIC, reason, method, confusion_cell_feature(a, b),
                                  true_class=a, predicted_class=b) for a in classes for b in classes]
    return points


def _method(task: str) -> str:
    return "dle" if task == "regression" else "cbpe"


def _dle_points(fitted: FittedEstimators, dle: FittedDLE, rows: StoredRows,
                specs: dict[str, FeatureSpec]) -> list[MetricPoint]:
    names = [f"estimated_{name}" for name in dle.metrics]
    dropped = [_not_estimated(f"estimated_{name}", "a reference label is 0, so the percentage error is undefined",
                              "dle") for name in fitted.performance if name not in dle.metrics]
    missing = [name for name in dle.features if name not in specs]
    frame = None if missing else regression_frame(rows, specs, list(dle.features))
    reason: str | None = None
    if missing:
        reason = f"the reference was fitted on feature(s) {', '.join(missing)} that the model no longer has"
    elif len(rows) == 0:
        reason = "empty window: no predictions"
    else:
        assert frame is not None
        frame = frame[frame[PREDICTION_COLUMN].notna()].reset_index(drop=True)
        if len(frame) < MIN_WINDOW_ROWS:
            reason = (f"only {len(frame)} numeric predictions in the window; at least {MIN_WINDOW_ROWS} "
                      "are needed")
    if reason is not None:
        return [*(_not_estimated(name, reason, "dle") for name in names), *dropped]
    assert frame is not None
    report = replace(dle, chunk_size=None, chunks=1).estimate(frame, frame[LABEL_COLUMN].to_numpy(dtype=float))
    estimates = report.chunks[0].metrics
    return [*(_point(f"estimated_{metric}", estimates[metric], "dle", len(frame), chunk_size=fitted.chunk_size)
              for metric in dle.metrics), *dropped]


def _multiclass_reason(cbpe: FittedMulticlassCBPE, rows: StoredRows, scores: np.ndarray, predicted: np.ndarray,
                       usable: np.ndarray) -> str | None:
    """Why the window cannot be estimated against the reference's classes, or None."""
    if len(rows) == 0:
        return "empty window: no predictions"
    named = rows.class_probabilities()
    if named.empty:
        return ("no prediction of the window has per-class probabilities; send probabilities (class → probability) "
                "with each prediction")
    unseen = sorted(({str(name) for name in named.columns} | {str(value) for value in predicted if value is not None})
                    - set(cbpe.classes))
    if unseen:
        return (f"the window has class(es) {', '.join(map(repr, unseen[:5]))} the reference does not "
                f"(reference classes: {', '.join(cbpe.classes)}); take a reference that has every class")
    count = int(usable.sum())
    if count < MIN_WINDOW_ROWS:
        return (f"only {count} predictions in the window have a probability for every class "
                f"({', '.join(cbpe.classes)}); at least {MIN_WINDOW_ROWS} are needed")
    if scores[usable].min() < 0 or scores[usable].max() > 1:
        return (f"window probabilities run from {scores[usable].min():g} to {scores[usable].max():g}; estimation "
                "needs probabilities between 0 and 1")
    return None


def _multiclass_points(fitted: FittedEstimators, cbpe: FittedMulticlassCBPE, rows: StoredRows) -> list[MetricPoint]:
    labels, scores, predicted, _ = multiclass_arrays(rows, cbpe.classes)
    usable = np.array([value is not None for value in predicted], dtype=bool) & ~np.isnan(scores).any(axis=1)
    reason = _multiclass_reason(cbpe, rows, scores, predicted, usable)
    if reason is not None:
        return _not_estimated_all(fitted.performance, reason, "cbpe", cbpe.classes)
    report = replace(cbpe, chunk_size=None, chunks=1).estimate(scores[usable], predicted[usable], labels[usable])
    estimates = report.chunks[0].metrics
    calibrated = [name for name, calibrator in zip(cbpe.classes, cbpe.calibrators, strict=True)
                  if calibrator is not None]
    count = int(usable.sum())
    common: dict[str, Any] = {"classes": list(cbpe.classes), "calibrated": calibrated, "chunk_size": fitted.chunk_size}
    cells = cbpe.cell_classes()
    points = [_point(f"estimated_{metric}", estimates[metric], "cbpe", count, **common)
              for metric in cbpe.metrics if metric not in cells]
    labelled = int((usable & np.array([label is not None for label in labels], dtype=bool)).sum())
    return points + [_point(CONFUSION_CELL_METRIC, estimates[name], "cbpe", count, feature=confusion_cell_feature(a, b),
                            labelled=labelled, true_class=a, predicted_class=b, **common)
                     for name, (a, b) in cells.items()]


def _performance_points(fitted: FittedEstimators, rows: StoredRows,
                        specs: dict[str, FeatureSpec]) -> list[MetricPoint]:
    if fitted.dle is not None:
        return _dle_points(fitted, fitted.dle, rows, specs)
    if fitted.multiclass is not None:
        return _multiclass_points(fitted, fitted.multiclass, rows)
    cbpe = fitted.cbpe
    if cbpe is None:
        why = fitted.performance_reason or "performance estimation is not available"
        return _not_estimated_all(fitted.performance, why, _method(fitted.task))
    assert fitted.positive is not None
    labels, scores, predicted = binary_arrays(rows, fitted.positive)
    usable = ~(np.isnan(scores) | np.isnan(predicted))
    reason: str | None = None
    count = int(usable.sum())
    if len(rows) == 0:
        reason = "empty window: no predictions"
    elif count == 0:
        reason = "no prediction of the window has a score; send the positive-class probability as score"
    elif count < MIN_WINDOW_ROWS:
        reason = f"only {count} scored predictions in the window; at least {MIN_WINDOW_ROWS} are needed"
    elif scores[usable].min() < 0 or scores[usable].max() > 1:
        reason = (f"window scores run from {scores[usable].min():g} to {scores[usable].max():g}; estimation "
                  "needs probabilities between 0 and 1")
    if reason is not None:
        return _not_estimated_all(fitted.performance, reason, "cbpe")
    report = replace(cbpe, chunk_size=None, chunks=1).estimate(scores[usable], predicted[usable], labels[usable])
    estimates = report.chunks[0].metrics
    labelled = int((usable & ~np.isnan(labels)).sum())
    return [_point(f"estimated_{metric}", estimates[metric], "cbpe", count, calibrated=cbpe.calibrated,
                   chunk_size=fitted.chunk_size, labelled=labelled if metric in CONFUSION_CELLS else None)
            for metric in cbpe.metrics]


def canonical_order(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The window's rows sorted by their feature values, then shuffled with a fixed seed.

    The store returns a window's rows in no particular order, and the classifier's folds
    depend on it: this order makes the score a function of the rows alone.
    """
    ordered = frame.sort_values(by=sorted(features), kind="mergesort", na_position="last").reset_index(drop=True)
    permutation = np.random.default_rng(_SHUFFLE_SEED).permutation(len(ordered))
    return ordered.iloc[permutation].reset_index(drop=True)


def _classifier_point(classifier: FittedDomainClassifier, rows: StoredRows,
                      specs: dict[str, FeatureSpec]) -> MetricPoint:
    method = "domain_classifier"
    features = [*classifier.categorical, *classifier.continuous]
    missing = [name for name in features if name not in specs]
    if missing:
        reason = f"the reference was fitted on feature(s) {', '.join(missing)} that the model no longer has"
        return _not_estimated(MULTIVARIATE_METRIC, reason, method)
    frame = coerce_features(rows.features, {name: specs[name] for name in features})
    frame[list(classifier.categorical)] = frame[list(classifier.categorical)].astype(object)
    frame = canonical_order(frame, features)
    report = replace(classifier, chunk_size=None, chunks=1).estimate(frame)
    return _point(MULTIVARIATE_METRIC, report.chunks[0].metrics["auroc"], method, len(rows), features=features)


def _multivariate_point(fitted: FittedEstimators, rows: StoredRows, specs: dict[str, FeatureSpec]) -> MetricPoint:
    method = "domain_classifier" if fitted.classifier is not None else "pca_reconstruction"
    reconstruction = fitted.reconstruction
    if reconstruction is None and fitted.classifier is None:
        return _not_estimated(MULTIVARIATE_METRIC, fitted.multivariate_reason or "not fitted", method)
    if len(rows) < MIN_WINDOW_ROWS:
        reason = ("empty window: no predictions" if len(rows) == 0
                  else f"only {len(rows)} predictions in the window; at least {MIN_WINDOW_ROWS} are needed")
        return _not_estimated(MULTIVARIATE_METRIC, reason, method)
    if fitted.classifier is not None:
        return _classifier_point(fitted.classifier, rows, specs)
    assert reconstruction is not None
    frame = coerce_features(rows.features, {name: specs[name] for name in reconstruction.features if name in specs})
    missing = [name for name in reconstruction.features if name not in frame.columns]
    if missing:
        reason = f"the reference was fitted on feature(s) {', '.join(missing)} that the model no longer has"
        return _not_estimated(MULTIVARIATE_METRIC, reason, method)
    report = replace(reconstruction, chunk_size=None, chunks=1).estimate(frame)
    return _point(MULTIVARIATE_METRIC, report.chunks[0].metrics["reconstruction_error"], method, len(rows),
                  features=list(reconstruction.features), chunk_size=fitted.chunk_size)


def _key(point: MetricPoint) -> str:
    """The key of the point's learned thresholds: its metric, a multiclass cell's with the cell."""
    return point.metric if point.feature is None else f"{point.metric}[{point.feature}]"


def _for_window_rows(point: MetricPoint, spread: Spread | None, chunk_size: int, multiplier: float) -> MetricPoint:
    """``point`` judged by thresholds drawn for its window's rows from the reference chunks' ``spread``
    (module docstring); as it is when there is none (domain classifier, not estimated)."""
    if spread is None or not math.isfinite(point.value) or not chunk_size:
        return point
    rows = int(point.details["rows"])
    lower, upper = spread.thresholds(multiplier, share=rows / chunk_size)
    learned = {"chunk_size": chunk_size, "chunk_mean": _number(spread.mean), "chunk_std": _number(spread.std),
               "std_multiplier": _number(multiplier), "scales_as": "count" if spread.count else "mean"}
    return replace(point, threshold=_number(upper if upper is not None else lower),
                   is_breach=outside(point.value, lower, upper),
                   details={**point.details, "lower_threshold": _number(lower), "upper_threshold": _number(upper),
                            "window_thresholds": learned})


def _segment_judged(point: MetricPoint, segment: str, thresholds: SegmentThresholds | None,
                    missing: str, multiplier: float) -> MetricPoint:
    """``point`` judged by the segment's thresholds instead of the whole model's (module docstring)."""
    if not math.isfinite(point.value):
        return point  # not estimated: nothing to judge
    details = {**point.details, "lower_threshold": None, "upper_threshold": None}
    key = _key(point)
    bounds = None if thresholds is None else thresholds.thresholds.get(key)
    if thresholds is None or bounds is None:
        why = missing if thresholds is None else thresholds.reasons.get(key, thresholds.reasons.get(
            point.metric, f"no threshold was learned for {key} in segment {segment}"))
        return MetricPoint(point.metric, point.value, feature=point.feature, threshold=None, is_breach=None,
                           details={**details, "threshold_not_learned": f"segment {segment}: {why}"})
    spread = None if thresholds.spreads is None else thresholds.spreads.get(key)
    judged = MetricPoint(point.metric, point.value, feature=point.feature,
                         threshold=_number(bounds[1] if bounds[1] is not None else bounds[0]),
                         is_breach=outside(point.value, *bounds),
                         details={**details, "lower_threshold": _number(bounds[0]),
                                  "upper_threshold": _number(bounds[1]),
                                  "segment_thresholds": thresholds.details()})
    if spread is None:
        return judged
    return _for_window_rows(judged, spread, thresholds.chunk_size,
                            few_chunk_multiplier(multiplier, spread.chunks))


def _in_segment(fitted: FittedEstimators, points: list[MetricPoint], segment: str,
                multiplier: float) -> list[MetricPoint]:
    if fitted.segments is None:
        missing = "the stored fit has no segment thresholds (fitted before segments were configured)"
        thresholds = None
    else:
        missing = f"the reference has no rows of segment {segment}"
        thresholds = fitted.segments.get(segment)
    return [_segment_judged(point, segment, thresholds, missing, multiplier) for point in points]


def estimation_points(fitted: FittedEstimators | None, config: ModelConfig, rows: StoredRows,
                      specs: dict[str, FeatureSpec], *, reason: str | None = None,
                      segment: str | None = None, parts: frozenset[str] = ESTIMATION_PARTS) -> list[MetricPoint]:
    """The window's estimated metrics and multivariate drift (pure).

    ``fitted`` None means no reference (``reason`` says why): the metrics asked for
    explicitly, and multivariate drift, are written as not estimated. ``segment``
    (``country=DE``): the rows are that segment's, judged by its own thresholds.
    ``parts``: ``performance`` (the estimates, beside the realized values where labels
    are in), ``multivariate`` (multivariate drift, which reads no label), or both.
    """
    performance, multivariate = "performance" in parts, "multivariate" in parts
    if fitted is None:
        settings = config.estimation
        if settings.enabled is False:
            return []
        why = reason or "no reference"
        points = []
        if settings.enabled is True and performance:
            points += _not_estimated_all(service_metrics(config.task, settings.metrics), why, _method(config.task))
        if settings.multivariate != "off" and specs and multivariate:
            method = "domain_classifier" if settings.multivariate == "classifier" else "pca_reconstruction"
            points.append(_not_estimated(MULTIVARIATE_METRIC, why, method))
        return points
    points = _performance_points(fitted, rows, specs) if fitted.performance and performance else []
    if fitted.multivariate and multivariate:
        if segment is not None and fitted.classifier is not None:
            from monitor.jobs.estimation_segments import CLASSIFIER_REASON  # it imports this module

            points.append(_not_estimated(MULTIVARIATE_METRIC, f"segment {segment}: {CLASSIFIER_REASON}",
                                         "domain_classifier"))
        else:
            points.append(_multivariate_point(fitted, rows, specs))
    multiplier = config.estimation.threshold_std
    if segment is None:
        spreads = fitted.spreads()
        return [_for_window_rows(point, spreads.get(_key(point)), fitted.chunk_size, multiplier)
                for point in points]
    return _in_segment(fitted, points, segment, multiplier)
