"""Fitting the estimators of a reference set once, and storing them (see :mod:`monitor.jobs.estimation`).

What is learned from the reference — CBPE's calibrator and sampling-error components
(binary classification; one per class, from the per-class probabilities, for multiclass),
DLE's LightGBM loss models (regression), the imputation, encoding, scaler and PCA of the
reconstruction error (or the domain classifier), and
the thresholds learned from reference chunks of ``chunk_size`` rows — is fitted here the
first time a window needs it, and stored by :mod:`monitor.jobs.estimation_store`. Every
later window loads it; a new reference, new labels joined to a copied reference, other
settings or other library versions refit.

A segmented model's fit also holds each segment's thresholds (:class:`SegmentThresholds`,
learned in :mod:`monitor.jobs.estimation_segments` from the segment's own reference rows),
so a small segment is judged against what clean windows *of that segment* look like.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from monitor.config.models import ModelConfig
from monitor.errors import DriftwatchError
from monitor.metrics.categories import category_key
from monitor.metrics.estimation.cbpe import CONFUSION_CELLS, FittedCBPE, fit_cbpe
from monitor.metrics.estimation.cbpe_multiclass import MULTICLASS_METRICS, FittedMulticlassCBPE, fit_multiclass_cbpe
from monitor.metrics.estimation.chunks import DEFAULT_CHUNK_COUNT, split_rows
from monitor.metrics.estimation.classifier import FittedDomainClassifier, fit_domain_classifier
from monitor.metrics.estimation.dle import FittedDLE, fit_dle, realized_regression
from monitor.metrics.estimation.pca import FittedReconstruction, fit_reconstruction
from monitor.metrics.estimation.thresholds import Spread, reference_thresholds
from monitor.metrics.features import FeatureSpec, coerce_features
from monitor.metrics.names import CONFUSION_CELL_METRIC, ESTIMATED_METRICS, confusion_cell_feature
from monitor.store.stored_rows import StoredRows

__all__ = [
    "LABEL_COLUMN",
    "MULTIVARIATE_METRIC",
    "PREDICTION_COLUMN",
    "FittedEstimators",
    "SegmentThresholds",
    "binary_arrays",
    "fit_estimators",
    "multiclass_arrays",
    "regression_frame",
    "service_metrics",
]

log = logging.getLogger(__name__)

MULTIVARIATE_METRIC = "multivariate_drift"
PREDICTION_COLUMN = "__driftwatch_prediction"
LABEL_COLUMN = "__driftwatch_label"


@dataclass(frozen=True)
class SegmentThresholds:
    """One segment's learned thresholds of the estimated metrics and ``multivariate_drift``.

    Learned from ``chunks`` chunks of ``chunk_size`` consecutive rows of the segment's
    ``reference_rows`` reference rows (its share of the model's chunk size). ``thresholds``
    maps a metric (``estimated_f1``, ``multivariate_drift``) to (lower, upper); ``reasons``
    says why a metric has none (then its rule cannot breach in this segment).
    """

    chunk_size: int
    reference_rows: int
    chunks: int
    thresholds: dict[str, tuple[float | None, float | None]]
    reasons: dict[str, str]
    std_multiplier: float = math.nan  # k widened for the number of chunks (monitor.jobs.estimation_segments)
    # Each metric over the chunks, by the key of ``thresholds``: its thresholds for a window's rows.
    spreads: dict[str, Spread] | None = None

    def details(self) -> dict[str, Any]:
        return {"scope": "segment", "chunk_size": self.chunk_size, "chunks": self.chunks,
                "reference_rows": self.reference_rows, "std_multiplier": _finite(self.std_multiplier)}


@dataclass(frozen=True)
class FittedEstimators:
    """What one reference set taught, or why a part could not be learned.

    ``performance`` lists the estimated metrics the window writes (empty: none, the
    reference has no labels or scores and estimation was not asked for explicitly).
    """

    task: str
    chunk_size: int
    positive: str | None
    performance: tuple[str, ...]
    cbpe: FittedCBPE | None
    dle: FittedDLE | None
    performance_reason: str | None
    reconstruction: FittedReconstruction | None
    multivariate_reason: str | None
    multivariate: bool
    classifier: FittedDomainClassifier | None = None
    multiclass: FittedMulticlassCBPE | None = None
    # Per segment label (``country=DE``): its thresholds; None for a model without segments.
    segments: dict[str, SegmentThresholds] | None = None

    def spreads(self) -> dict[str, Spread]:
        """Each learned metric over the reference chunks, by the key of :meth:`thresholds` (none for the
        domain classifier, whose thresholds are fixed), or empty for a fit stored before they were kept."""
        spreads: dict[str, Spread] = {}
        for fitted in (self.cbpe, self.dle):
            if fitted is not None and fitted.spreads is not None:
                spreads.update({f"estimated_{name}": spread for name, spread in fitted.spreads.items()})
        multiclass = self.multiclass
        if multiclass is not None and multiclass.spreads is not None:
            cells = multiclass.cell_classes()
            for name, spread in multiclass.spreads.items():
                key = (f"estimated_{name}" if name not in cells
                       else f"{CONFUSION_CELL_METRIC}[{confusion_cell_feature(*cells[name])}]")
                spreads[key] = spread
        if self.reconstruction is not None and self.reconstruction.spread is not None:
            spreads[MULTIVARIATE_METRIC] = self.reconstruction.spread
        return spreads

    def thresholds(self) -> dict[str, Any]:
        learned: dict[str, Any] = {}
        for fitted in (self.cbpe, self.dle):
            if fitted is not None:
                learned.update({f"estimated_{name}": list(fitted.thresholds[name]) for name in fitted.metrics})
        if self.multiclass is not None:
            for name, (true_class, predicted_class) in self.multiclass.cell_classes().items():
                key = f"{CONFUSION_CELL_METRIC}[{confusion_cell_feature(true_class, predicted_class)}]"
                learned[key] = list(self.multiclass.thresholds[name])
            learned.update({f"estimated_{name}": list(self.multiclass.thresholds[name])
                            for name in self.multiclass.metrics if name in MULTICLASS_METRICS})
        if self.reconstruction is not None:
            learned[MULTIVARIATE_METRIC] = [self.reconstruction.lower_threshold, self.reconstruction.upper_threshold]
        if self.classifier is not None:
            learned[MULTIVARIATE_METRIC] = [self.classifier.lower_threshold, self.classifier.upper_threshold]
        if self.segments:
            learned["segments"] = {label: {**segment.details(), "thresholds": {
                name: list(bounds) for name, bounds in segment.thresholds.items()}, "reasons": segment.reasons}
                for label, segment in self.segments.items()}
        return learned


# --- fitting ------------------------------------------------------------------------------------------------------

def _chunk_size(config: ModelConfig, reference_rows: int) -> int:
    return config.estimation.chunk_size or max(reference_rows // DEFAULT_CHUNK_COUNT, 1)


def _equals(column: pd.Series[Any], value: str) -> np.ndarray:
    """Which values of ``column`` equal ``value`` (a categorical compares its codes, not a million objects).

    >>> _equals(pd.Series(["1", None, "0"], dtype="category"), "1").tolist(), _equals(pd.Series([1, "1"]), "1").tolist()
    ([True, False, False], [False, True])
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column == value, dtype=bool)
    return np.asarray(column.astype(object) == value, dtype=bool)


def binary_arrays(rows: StoredRows, positive: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels 1/0, NaN when missing; scores, NaN when missing; predictions 1/0, NaN when missing)."""
    outputs = rows.outputs
    label = outputs["label"]
    prediction = outputs["prediction"]
    labels = np.where(label.isna(), np.nan, _equals(label, positive).astype(float))
    predicted = np.where(prediction.isna(), np.nan, _equals(prediction, positive).astype(float))
    scores = pd.to_numeric(outputs["score"], errors="coerce").to_numpy(dtype=float)
    return np.asarray(labels, dtype=float), scores, np.asarray(predicted, dtype=float)


def service_metrics(task: str, names: list[str] | None) -> tuple[str, ...]:
    """The ``estimated_<name>`` names a window writes for the configured ``estimation.metrics`` (None: all):
    ``confusion_matrix`` stands for the binary cells, or multiclass's ``confusion_cell`` (one row per cell).

    >>> service_metrics("binary_classification", ["f1", "confusion_matrix"])
    ('f1', 'true_positive', 'true_negative', 'false_positive', 'false_negative')
    >>> service_metrics("multiclass_classification", ["confusion_matrix", "accuracy"])
    ('confusion_cell', 'accuracy')
    """
    cells = {"binary_classification": CONFUSION_CELLS, "multiclass_classification": ("confusion_cell",)}.get(task, ())
    expanded = (cell for name in names or ESTIMATED_METRICS[task]
                for cell in (cells if name == "confusion_matrix" else (name,)))
    return tuple(dict.fromkeys(expanded))


def _fit_cbpe(config: ModelConfig, reference: StoredRows, positive: str, metrics: tuple[str, ...],
              chunk_size: int) -> FittedCBPE:
    labels, scores, predicted = binary_arrays(reference, positive)
    usable = ~(np.isnan(labels) | np.isnan(scores) | np.isnan(predicted))
    if not usable.any():
        raise DriftwatchError("the reference has no row with a label, a score and a prediction; add label and "
                              "score columns to the reference (scores: probability of the positive class)")
    labels, scores, predicted = labels[usable], scores[usable], predicted[usable]
    if scores.min() < 0 or scores.max() > 1:
        raise DriftwatchError(f"reference scores run from {scores.min():g} to {scores.max():g}; estimation needs "
                              "the probability of the positive class, between 0 and 1")
    if len(np.unique(labels)) < 2:
        raise DriftwatchError(f"every labelled reference row has the same class; the reference needs both "
                              f"{config.positive_label!r} and another class to learn from")
    if len(labels) < 2 * chunk_size:
        raise DriftwatchError(f"the reference has {len(labels)} labelled, scored rows, fewer than two chunks of "
                              f"{chunk_size}; set estimation.chunk_size lower or give a bigger reference")
    rule = partial(reference_thresholds, multiplier=config.estimation.threshold_std)
    return fit_cbpe(labels, scores, predicted, metrics=metrics, chunk_size=chunk_size, threshold_rule=rule)


def multiclass_arrays(rows: StoredRows, classes: tuple[str, ...] | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """(labels, class names or None; one probability column per class, NaN when missing; predictions, class
    names or None; the classes: ``classes``, or the ones the rows' probabilities name, sorted)."""
    outputs = rows.outputs
    probabilities = rows.class_probabilities()
    names = tuple(sorted(probabilities.columns)) if classes is None else classes
    scores = probabilities.reindex(columns=list(names)).to_numpy(dtype=float)
    labels = np.array([None if pd.isna(value) else str(value) for value in outputs["label"]], dtype=object)
    predicted = np.array([None if pd.isna(value) else str(value) for value in outputs["prediction"]], dtype=object)
    return labels, scores.reshape(len(rows), len(names)), predicted, names


def _no_probabilities(config: ModelConfig, rows: StoredRows) -> str:
    """Why a multiclass reference has no per-class probabilities, and what to do."""
    reference = config.reference
    if reference is not None and reference.file is not None:
        return ("the reference has no per-class probabilities; map each class to its probability column of "
                "the file with reference.probabilities, e.g. {cat: p_cat, dog: p_dog, bird: p_bird}")
    if rows.probabilities is None:
        return ("the baseline was stored without per-class probabilities (taken before they were kept); "
                "take a new one (change reference.window or reference.first) from predictions that carry "
                "probabilities")
    return ("no prediction of the baseline carried per-class probabilities; send probabilities (class → "
            "probability) with each prediction, then take a new baseline (change reference.window or "
            "reference.first)")


def _fit_multiclass(config: ModelConfig, reference: StoredRows, metrics: tuple[str, ...],
                    chunk_size: int) -> FittedMulticlassCBPE:
    labels, scores, predicted, classes = multiclass_arrays(reference)
    if not classes:
        raise DriftwatchError(_no_probabilities(config, reference))
    if len(classes) < 2:
        raise DriftwatchError(f"the reference's probabilities name one class only ({classes[0]!r}); send a "
                              "probability for every class")
    known = np.array([label is not None for label in labels], dtype=bool)
    usable = known & np.array([value is not None for value in predicted], dtype=bool) & ~np.isnan(scores).any(axis=1)
    if not usable.any():
        raise DriftwatchError("the reference has no row with a label, a prediction and a probability for every "
                              f"class ({', '.join(classes)}); labels are needed to learn from")
    labels, scores, predicted = labels[usable], scores[usable], predicted[usable]
    if scores.min() < 0 or scores.max() > 1:
        raise DriftwatchError(f"reference probabilities run from {scores.min():g} to {scores.max():g}; "
                              "estimation needs probabilities between 0 and 1")
    unnamed = sorted({str(name) for name in (*labels, *predicted)} - set(classes))
    if unnamed:
        raise DriftwatchError(f"the reference has label(s) or prediction(s) {', '.join(map(repr, unnamed[:5]))} that "
                              f"its probabilities do not name (classes: {', '.join(classes)}); send a probability "
                              "for every class")
    absent = [name for name in classes if name not in set(labels.tolist())]
    if absent:
        raise DriftwatchError(f"no labelled reference row has class(es) {', '.join(map(repr, absent))}; the "
                              "reference needs every class to learn from")
    if len(labels) < 2 * chunk_size:
        raise DriftwatchError(f"the reference has {len(labels)} labelled rows with probabilities, fewer than two "
                              f"chunks of {chunk_size}; set estimation.chunk_size lower or give a bigger reference")
    metrics = tuple("confusion_matrix" if name == "confusion_cell" else name for name in metrics)  # every cell
    return fit_multiclass_cbpe(labels, scores, predicted, classes, metrics=metrics, chunk_size=chunk_size,
                               threshold_std=config.estimation.threshold_std)


def regression_frame(rows: StoredRows, specs: dict[str, FeatureSpec], features: list[str]) -> pd.DataFrame:
    frame = coerce_features(rows.features, {name: specs[name] for name in features})
    frame[PREDICTION_COLUMN] = pd.to_numeric(rows.outputs["prediction_numeric"], errors="coerce").to_numpy(dtype=float)
    frame[LABEL_COLUMN] = pd.to_numeric(rows.outputs["label_numeric"], errors="coerce").to_numpy(dtype=float)
    return frame


def _fit_dle(config: ModelConfig, reference: StoredRows, specs: dict[str, FeatureSpec], metrics: tuple[str, ...],
             chunk_size: int) -> FittedDLE:
    typed = coerce_features(reference.features, specs)
    features = [name for name in specs if bool(typed[name].notna().any())]
    frame = regression_frame(reference, specs, features)
    frame = frame[frame[PREDICTION_COLUMN].notna() & frame[LABEL_COLUMN].notna()].reset_index(drop=True)
    if frame.empty:
        raise DriftwatchError("the reference has no row with both a numeric label and a numeric prediction; add "
                              "label and prediction columns to the reference")
    if len(frame) < 2 * chunk_size:
        raise DriftwatchError(f"the reference has {len(frame)} labelled rows, fewer than two chunks of {chunk_size}; "
                              "set estimation.chunk_size lower or give a bigger reference")
    if "mape" in metrics and bool((frame[LABEL_COLUMN] == 0).any()):
        if config.estimation.metrics is not None:
            raise DriftwatchError("a reference label is 0, so the percentage error (mape) is undefined; leave mape "
                                  "out of estimation.metrics")
        metrics = tuple(name for name in metrics if name != "mape")  # the default set: estimate the others
    fitted = fit_dle(frame, features, PREDICTION_COLUMN, LABEL_COLUMN, metrics=metrics, chunk_size=chunk_size)
    truth, predicted = frame[LABEL_COLUMN].to_numpy(dtype=float), frame[PREDICTION_COLUMN].to_numpy(dtype=float)
    chunks = split_rows(len(frame), chunk_size=chunk_size)
    thresholds = {name: reference_thresholds([realized_regression(name, truth[c.rows], predicted[c.rows])
                                              for c in chunks], multiplier=config.estimation.threshold_std,
                                             lower_limit=0.0, name=name)
                  for name in fitted.metrics}
    return replace(fitted, thresholds=thresholds)


def _fit_reconstruction(config: ModelConfig, reference: StoredRows, specs: dict[str, FeatureSpec],
                        chunk_size: int) -> FittedReconstruction:
    frame = coerce_features(reference.features, specs)
    # A feature without values, or with one value only, carries no relation to learn.
    features = [name for name in specs if frame[name].nunique(dropna=True) > 1]
    if not features:
        raise DriftwatchError("no feature takes two different values in the reference; multivariate drift needs "
                              "features that vary")
    if len(frame) < 2 * chunk_size:
        raise DriftwatchError(f"the reference has {len(frame)} rows, fewer than two chunks of {chunk_size}; set "
                              "estimation.chunk_size lower or give a bigger reference")
    fitted = fit_reconstruction(frame, features, chunk_size=chunk_size)
    values = [value for value, _ in fitted.chunk_values(frame)]
    lower, upper = reference_thresholds(values, multiplier=config.estimation.threshold_std, lower_limit=0.0,
                                        drop_at_limit=True, name="the reconstruction error")
    return replace(fitted, lower_threshold=lower, upper_threshold=upper)


def _fit_classifier(reference: StoredRows, specs: dict[str, FeatureSpec]) -> FittedDomainClassifier:
    frame = coerce_features(reference.features, specs)
    features = [name for name in specs if frame[name].nunique(dropna=True) > 1]
    if not features:
        raise DriftwatchError("no feature takes two different values in the reference; multivariate drift needs "
                              "features that vary")
    categorical = [name for name in features if specs[name].type == "categorical"]
    frame[categorical] = frame[categorical].astype(object)
    return fit_domain_classifier(frame, features)


def fit_estimators(config: ModelConfig, reference: StoredRows, specs: dict[str, FeatureSpec]) -> FittedEstimators:
    """Learn everything the windows need from ``reference`` (pure; see the module docstring)."""
    settings = config.estimation
    chunk_size = _chunk_size(config, len(reference))
    outputs = reference.outputs
    if config.task == "regression":
        has_targets = bool(outputs["label_numeric"].notna().any())
    else:
        scored = (bool(outputs["score"].notna().any()) if config.task == "binary_classification"
                  else not reference.class_probabilities().empty)
        has_targets = bool(outputs["label"].notna().any()) and scored
    wanted = settings.enabled is True or (settings.enabled is None and has_targets)
    metrics = service_metrics(config.task, settings.metrics) if wanted else ()
    positive = category_key(config.positive_label)
    cbpe: FittedCBPE | None = None
    dle: FittedDLE | None = None
    multiclass: FittedMulticlassCBPE | None = None
    performance_reason: str | None = None
    if metrics:
        try:
            if config.task == "binary_classification":
                assert positive is not None
                cbpe = _fit_cbpe(config, reference, positive, metrics, chunk_size)
            elif config.task == "regression":
                dle = _fit_dle(config, reference, specs, metrics, chunk_size)
            else:
                multiclass = _fit_multiclass(config, reference, metrics, chunk_size)
        except DriftwatchError as exc:
            performance_reason = str(exc)
    multivariate = settings.multivariate != "off" and settings.enabled is not False and bool(specs)
    reconstruction: FittedReconstruction | None = None
    classifier: FittedDomainClassifier | None = None
    multivariate_reason: str | None = None
    if multivariate:
        try:
            if settings.multivariate == "classifier":
                classifier = _fit_classifier(reference, specs)
            else:
                reconstruction = _fit_reconstruction(config, reference, specs, chunk_size)
        except DriftwatchError as exc:
            multivariate_reason = str(exc)
    fitted = FittedEstimators(
        task=config.task, chunk_size=chunk_size, positive=positive, performance=metrics, cbpe=cbpe, dle=dle,
        performance_reason=performance_reason, reconstruction=reconstruction,
        multivariate_reason=multivariate_reason, multivariate=multivariate, classifier=classifier,
        multiclass=multiclass,
    )
    if config.segments is None:
        return fitted
    # Imported here: it builds on this module's helpers.
    from monitor.jobs.estimation_segments import fit_segment_thresholds

    return replace(fitted, segments=fit_segment_thresholds(config, reference, specs, fitted))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
