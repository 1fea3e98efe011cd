"""Every metric of one window, from its columns and its baseline.

Pure assembly of the statistics in :mod:`monitor.metrics` (no store, no clock):
traffic and serving errors, latency, data quality per feature, dead letters, data
drift per feature and for the dataset (a feature that cannot be judged is NULL
with ``details["not_judged"]``, never "no drift"), problems of the reference data
(``reference_problem``), the output distribution and prediction drift,
performance, label drift and concept drift, and the estimates fitted on the
reference (:mod:`monitor.jobs.estimation`). Which columns each group gets
follows the model's task: classification compares classes as text, regression
compares numbers.

A metric that cannot be computed is a NaN point with ``details["reason"]``. A group
that fails outright (a bug, or a config the statistic rejects) does not stop the
others: its error becomes a note that the job records in ``job_runs``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from monitor.config.models import ModelConfig
from monitor.errors import MetricError
from monitor.jobs.estimation import FittedEstimators, estimation_points
from monitor.jobs.learned_metrics import LearnedBounds, apply_learned, cached_bounds, learn_bounds, serving_gaps
from monitor.logs import fields
from monitor.metrics.categories import category_keys
from monitor.metrics.concept import compute_concept_drift
from monitor.metrics.drift import (
    compute_dataset_drift,
    compute_feature_drift,
    infer_feature_type,
    to_metric_points,
)
from monitor.metrics.drift.feature import MIN_FIXED_DISTANCE_VALUES
from monitor.metrics.drift.learned import REFERENCE, LearnedThreshold, ThresholdLearning
from monitor.metrics.features import FeatureSpec, coerce_features
from monitor.metrics.latency import compute_latency
from monitor.metrics.output import compute_output
from monitor.metrics.performance import compute_performance
from monitor.metrics.point import MetricPoint
from monitor.metrics.quality import compute_quality
from monitor.metrics.reference_problems import REFERENCE_PROBLEM, compute_reference_problems
from monitor.metrics.traffic import compute_traffic
from monitor.store.row_format import StoredRows

__all__ = [
    "WindowInput", "WindowMetrics", "compute_window_metrics", "drift_points", "feature_specs", "start_data_drift",
]

log = logging.getLogger(__name__)

_EMPTY = "empty window: no predictions"
_MAX_REFERENCE_CLASSES = 100
_MAX_LEARNED = 4096
# Thresholds learned from a stored reference, per (reference, feature, method, chunk size, k),
# kept for the life of the process (a new reference set has a new key).
_learned: dict[tuple[Any, ...], LearnedThreshold] = {}
# Thresholds of other metrics (models.<name>.metrics), per (reference, chunk size, settings).
_learned_bounds: dict[tuple[Any, ...], dict[tuple[str, str | None], LearnedBounds]] = {}
_QUALITY = frozenset({"missing_share", "type_mismatch_share", "out_of_range_share", "unseen_category_share"})
_OUTPUT = frozenset({"positive_rate", "class_share", "prediction_mean", "score_mean"})
_PERFORMANCE = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse", "mape", "r2"})
_LATENCY = frozenset({"latency_p50_ms", "latency_p95_ms", "latency_p99_ms"})


@dataclass(frozen=True, slots=True)
class WindowInput:
    """What one window's computation needs; ``reference_reason`` explains a missing baseline,
    and ``reference_unusable`` says an operator must fix it (not just "not built yet")."""

    model: str
    model_version: str
    config: ModelConfig
    rows: StoredRows
    dead_letter_count: int
    reference: StoredRows | None
    reference_reason: str | None = None
    reference_unusable: bool = False
    reference_key: tuple[Any, ...] | None = None
    """Names the stored reference (set id, source, rows, creation time): thresholds learned
    from it are cached under this key. None: nothing is cached."""
    estimators: FittedEstimators | None = None  # fitted on the reference (see monitor.jobs.estimation)
    estimation_reason: str | None = None  # why there are none although there is a reference
    segment: str | None = None  # the segment these rows are (``country=DE``); None: the whole model
    drift: Future[tuple[list[MetricPoint], str | None]] | None = None
    """The data-drift group already started on these rows (:func:`start_data_drift`); None: start it here."""


@dataclass(frozen=True, slots=True)
class WindowMetrics:
    """The window's points, and notes for the operator (recorded in ``job_runs``)."""

    points: tuple[MetricPoint, ...]
    notes: tuple[str, ...]


def _nan(metric: str, reason: str, feature: str | None = None, **details: Any) -> MetricPoint:
    return MetricPoint(metric, math.nan, feature=feature, details={"reason": reason, **details})


def _unjudged_drift(specs: dict[str, FeatureSpec], reason: str) -> list[MetricPoint]:
    """Every data-drift point as not judged (NULL, never "no drift"), with the reason."""
    points = []
    for name in specs:
        points += [_nan("feature_drift_score", reason, name, not_judged=reason),
                   _nan("feature_drift", reason, name, not_judged=reason)]
    return [*points, _nan("dataset_drift_share", reason, not_judged=reason),
            _nan("dataset_drift", reason, not_judged=reason)]


def feature_specs(inputs: WindowInput) -> tuple[dict[str, FeatureSpec], list[str]]:
    """The features to check, and notes about features the config and the events disagree on.

    Declared features come from the config. A model that declares none is checked
    on the columns of its reference (else of the window), typed by their values.
    """
    config, rows = inputs.config, inputs.rows
    notes: list[str] = []
    if config.features:
        specs = {
            name: FeatureSpec(type=feature.type, min=feature.min, max=feature.max, values=feature.values)
            for name, feature in config.features.items()
        }
        undeclared = sorted(str(name) for name in rows.features.columns if name not in specs)
        if undeclared:
            notes.append(f"events carry features not in the config, ignored: {', '.join(undeclared[:20])}; "
                         f"declare them under models.{inputs.model}.features or stop sending them")
        absent = sorted(name for name in specs if name not in rows.features.columns)
        if absent and len(rows) > 0:
            notes.append("configured features with no value in any event of the window (absent or null): "
                         f"{', '.join(absent[:20])}")
        return specs, notes
    source = inputs.reference.features if inputs.reference is not None else rows.features
    specs = {}
    for name in source.columns:
        try:
            specs[str(name)] = FeatureSpec(type=infer_feature_type(source[name], feature=str(name)))
        except Exception as exc:  # noqa: BLE001 - an untypable column is skipped, and said so
            notes.append(f"feature {name!r} skipped: {exc}")
    return specs, notes


def _per_feature_options(config: ModelConfig) -> dict[str, dict[str, Any]]:
    options: dict[str, dict[str, Any]] = {}
    for name, override in config.drift.per_feature.items():
        chosen: dict[str, Any] = {}
        # A per-feature entry that only sets a threshold keeps the model's method.
        if "method" in override.model_fields_set:
            chosen["method"] = override.method
        if override.threshold is not None:
            chosen["threshold"] = override.threshold
        options[name] = chosen
    return options


def _min_fixed_distance_values(inputs: WindowInput) -> int:
    """A segment's window is small by construction (its share of the traffic): a fixed-threshold distance on
    fewer than :data:`MIN_FIXED_DISTANCE_VALUES` of its values is not judged. The whole model's window size is
    the operator's choice and keeps Evidently's verdicts."""
    return MIN_FIXED_DISTANCE_VALUES if inputs.segment is not None else 0


def _data_drift(inputs: WindowInput, specs: dict[str, FeatureSpec]) -> list[MetricPoint]:
    reason: str | None = None
    if not specs:
        reason = f"model {inputs.model!r} has no features to compare; list them under models.{inputs.model}.features"
    elif len(inputs.rows) == 0:
        reason = _EMPTY
    elif inputs.reference is None:
        reason = inputs.reference_reason or "no reference"
    if reason is not None:
        return _unjudged_drift(specs, reason)
    assert inputs.reference is not None
    config = inputs.config
    per_feature = {name: options for name, options in _per_feature_options(config).items() if name in specs}
    result = compute_dataset_drift(
        coerce_features(inputs.reference.features, specs),
        coerce_features(inputs.rows.features, specs),
        feature_types={name: spec.type for name, spec in specs.items()},
        method=config.drift.method,
        threshold=config.drift.threshold,
        per_feature=per_feature,
        drift_share=config.drift.drift_share,
        learning=_learning(inputs, per_feature),
        min_fixed_distance_values=_min_fixed_distance_values(inputs),
    )
    return to_metric_points(result)


def learned_chunk_size(rows: int) -> int:
    """The reference chunk size for a window of ``rows`` rows: rounded to two significant
    digits, so windows of similar size share one learned threshold.

    >>> learned_chunk_size(287), learned_chunk_size(1234), learned_chunk_size(7)
    (290, 1200, 7)
    """
    return max(1, int(float(f"{rows:.2g}")))


def _learning(inputs: WindowInput, per_feature: dict[str, dict[str, Any]]) -> ThresholdLearning | None:
    drift = inputs.config.drift
    if drift.threshold != REFERENCE and all(options.get("threshold") != REFERENCE for options in per_feature.values()):
        return None
    if len(_learned) > _MAX_LEARNED:
        _learned.clear()
    return ThresholdLearning(chunk_size=learned_chunk_size(len(inputs.rows)), multiplier=drift.threshold_std,
                             cache=_learned, cache_key=inputs.reference_key)


def _is_classification(config: ModelConfig) -> bool:
    return config.task != "regression"


def _predictions(config: ModelConfig, rows: StoredRows) -> pd.Series[Any]:
    return rows.outputs["prediction"] if _is_classification(config) else rows.outputs["prediction_numeric"]


def _labels(config: ModelConfig, rows: StoredRows) -> pd.Series[Any]:
    return rows.outputs["label"] if _is_classification(config) else rows.outputs["label_numeric"]


def _scores(rows: StoredRows) -> pd.Series[Any] | None:
    scores = rows.outputs["score"]
    return scores if bool(scores.notna().any()) else None


def _reference_classes(inputs: WindowInput) -> list[str]:
    if inputs.reference is None or not _is_classification(inputs.config):
        return []
    keys = category_keys(inputs.reference.outputs["prediction"], name="reference predictions").dropna()
    return sorted(str(name) for name in keys.value_counts().head(_MAX_REFERENCE_CLASSES).index)


def _prediction_drift(inputs: WindowInput) -> MetricPoint:
    if inputs.reference is None:
        return _nan("prediction_drift_score", inputs.reference_reason or "no reference")
    classification = _is_classification(inputs.config)
    reference = _predictions(inputs.config, inputs.reference)
    current = _predictions(inputs.config, inputs.rows)
    if not bool(reference.notna().any()):
        return _nan("prediction_drift_score", "the reference has no predictions; add a prediction column "
                                              "to the reference file")
    if classification:
        reference = category_keys(reference, name="reference predictions")
        current = category_keys(current, name="predictions")
    result = compute_feature_drift(
        reference, current, feature="prediction", feature_type="categorical" if classification else "numeric",
        min_fixed_distance_values=_min_fixed_distance_values(inputs),
    )
    return MetricPoint(
        "prediction_drift_score", result.score, threshold=result.threshold, is_breach=result.drifted,
        details={**result.details, "feature_type": result.feature_type},
    )


def drift_points(inputs: WindowInput) -> list[MetricPoint]:
    """The drift points of ``inputs.rows`` against ``inputs.reference``, with the model's drift settings:
    ``feature_drift_score`` / ``feature_drift`` per feature, ``dataset_drift_share``, ``dataset_drift`` and
    ``prediction_drift_score``.

    The window job computes them beside its other groups; a comparison of two versions calls this
    with the champion's rows as the reference (:mod:`monitor.jobs.compare_versions`).
    """
    specs, _ = feature_specs(inputs)
    return [*_data_drift(inputs, specs), _prediction_drift(inputs)]


def _output(inputs: WindowInput) -> list[MetricPoint]:
    config = inputs.config
    points = compute_output(
        _predictions(config, inputs.rows), task=config.task, positive_label=config.positive_label,
        scores=_scores(inputs.rows), classes=_reference_classes(inputs),
    )
    return [*points, _prediction_drift(inputs)]


def _performance(inputs: WindowInput) -> list[MetricPoint]:
    config = inputs.config
    return compute_performance(
        _predictions(config, inputs.rows), _labels(config, inputs.rows), task=config.task,
        positive_label=config.positive_label, scores=_scores(inputs.rows),
    )


def _concept(inputs: WindowInput) -> list[MetricPoint]:
    config = inputs.config
    if inputs.reference is None:
        reason = inputs.reference_reason or "no reference"
        return [_nan("label_drift_score", reason), _nan("performance_drop", reason), _nan("concept_drift", reason)]
    reference = inputs.reference
    has_labels = bool(reference.outputs["label"].notna().any())
    has_predictions = bool(reference.outputs["prediction"].notna().any())
    return compute_concept_drift(
        task=config.task,
        window_predictions=_predictions(config, inputs.rows),
        window_labels=_labels(config, inputs.rows),
        reference_predictions=_predictions(config, reference) if has_predictions else None,
        reference_labels=_labels(config, reference) if has_labels else None,
    )


def _chunk_points(inputs: WindowInput, specs: dict[str, FeatureSpec], metrics: frozenset[str],
                  rows: StoredRows) -> list[MetricPoint]:
    """The points of ``metrics`` for ``rows`` (a reference chunk), computed as for a window."""
    config = inputs.config
    points: list[MetricPoint] = []
    if metrics & _QUALITY:
        reference = inputs.reference.features if inputs.reference is not None else None
        points += compute_quality(rows.features, specs, reference=reference)
    if metrics & _OUTPUT:
        points += compute_output(_predictions(config, rows), task=config.task, positive_label=config.positive_label,
                                 scores=_scores(rows), classes=_reference_classes(inputs))
    if metrics & _PERFORMANCE:
        points += compute_performance(_predictions(config, rows), _labels(config, rows), task=config.task,
                                      positive_label=config.positive_label, scores=_scores(rows))
    if metrics & _LATENCY:
        points += compute_latency(rows.outputs["latency_ms"])
    if "error_rate" in metrics:
        points += compute_traffic(rows.outputs["status"])
    return points


def _with_learned_thresholds(inputs: WindowInput, specs: dict[str, FeatureSpec],
                             points: list[MetricPoint]) -> list[MetricPoint]:
    """``points`` with the thresholds of ``models.<name>.metrics`` learned from the reference."""
    multipliers = {name: settings.threshold_std for name, settings in inputs.config.metrics.items()}
    if not multipliers:
        return points
    reference = inputs.reference
    if reference is None:
        return apply_learned(points, None, multipliers, reason=inputs.reference_reason or "no reference")
    if len(inputs.rows) == 0:
        return apply_learned(points, None, multipliers, reason=_EMPTY)
    chunk_size = learned_chunk_size(len(inputs.rows))
    key = None if inputs.reference_key is None else (
        inputs.reference_key, chunk_size, tuple(sorted(multipliers.items())), tuple(sorted(specs)))
    wanted = frozenset(multipliers)
    try:
        learned = cached_bounds(_learned_bounds, key, lambda: learn_bounds(
            reference, lambda rows: _chunk_points(inputs, specs, wanted, rows), multipliers, chunk_size=chunk_size))
    except MetricError as exc:
        return apply_learned(points, None, multipliers, reason=str(exc))
    gaps = serving_gaps(reference, wanted, chunk_size=chunk_size, multipliers=multipliers)
    return apply_learned(points, {**learned, **gaps}, multipliers)


def compute_window_metrics(inputs: WindowInput, *, second_core: Executor | None = None) -> WindowMetrics:
    """All metric points of one window (see the module docstring).

    The drift tests run on ``second_core`` (a one-thread executor; the caller's, where it may have
    started them already, :attr:`WindowInput.drift`), the other groups on this thread: they spend
    their time in numpy with the GIL released.
    """
    if second_core is None:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-drift") as pool:
            return compute_window_metrics(inputs, second_core=pool)
    specs, notes = feature_specs(inputs)
    outputs = inputs.rows.outputs
    reference_features = inputs.reference.features if inputs.reference is not None else None
    groups: list[tuple[str, Callable[[], list[MetricPoint]]]] = [
        ("traffic", lambda: compute_traffic(outputs["status"])),
        ("latency", lambda: compute_latency(outputs["latency_ms"])),
        ("data quality", lambda: compute_quality(inputs.rows.features, specs, reference=reference_features)),
        ("dead letters", lambda: [MetricPoint(
            "dead_letter_count", float(inputs.dead_letter_count),
            details={"scope": "model", "note": "dead letters carry no model version; counted by received_at"},
        )]),
        ("output", lambda: _output(inputs)),
        ("performance", lambda: _performance(inputs)),
        ("concept drift", lambda: _concept(inputs)),
        ("estimation", lambda: estimation_points(
            inputs.estimators, inputs.config, inputs.rows, specs,
            reason=inputs.estimation_reason or inputs.reference_reason, segment=inputs.segment)),
    ]
    # On this thread, not queued behind the drift tests: started early (WindowInput.drift), they
    # end about when these groups do (medians of 3 next 1M windows in alternating runs: 3.6-4.1 s
    # here, 4.2-5.0 s behind them).
    drift = inputs.drift if inputs.drift is not None else start_data_drift(inputs, second_core)
    outcomes = [_guarded(inputs, group, compute) for group, compute in groups]
    drift_points, drift_note = drift.result()
    if drift_note is not None:
        # A failed drift group leaves every drift metric not judged, so that no alert reads "no drift".
        drift_points = _unjudged_drift(specs, drift_note)
    outcomes.append((drift_points, drift_note))
    if inputs.reference is not None:
        reference = inputs.reference
        outcomes.append(_guarded(inputs, "reference check",
                                 lambda: compute_reference_problems(reference.features, specs)))
    elif inputs.reference_unusable:
        # The caller notes the reason once; these points make it alertable per feature.
        reason = inputs.reference_reason or "the reference is unusable"
        outcomes.append(([MetricPoint(REFERENCE_PROBLEM, 1.0, feature=name, is_breach=True,
                                      details={"problem": "unavailable", "reason": reason})
                          for name in specs], None))
    points = [point for group_points, _ in outcomes for point in group_points]
    notes.extend(note for _, note in outcomes if note is not None)
    learned_points, learned_note = _guarded(inputs, "learned thresholds",
                                            lambda: _with_learned_thresholds(inputs, specs, points))
    if learned_note is None:
        points = learned_points
    else:
        notes.append(learned_note)
    if inputs.reference is not None:
        notes.extend(f"reference problem: {point.details['reason']}" for point in points
                     if point.metric == REFERENCE_PROBLEM)
    return WindowMetrics(points=tuple(points), notes=tuple(notes))


def start_data_drift(inputs: WindowInput, pool: Executor) -> Future[tuple[list[MetricPoint], str | None]]:
    """The data-drift group of ``inputs`` started in ``pool``: its points, or none and a note if it failed.

    It reads only the features (no label), so the window job starts it as soon as they are read
    and passes it on in :attr:`WindowInput.drift`.
    """
    specs, _ = feature_specs(inputs)
    return pool.submit(_guarded, inputs, "data drift", lambda: _data_drift(inputs, specs))


def _guarded(
    inputs: WindowInput, group: str, compute: Callable[[], list[MetricPoint]]
) -> tuple[list[MetricPoint], str | None]:
    """Run one metric group; a failure is logged and becomes a note, not an exception."""
    try:
        return compute(), None
    except Exception as exc:  # one group's failure must not lose the others: logged, and noted
        log.exception("metric group failed", extra=fields(model=inputs.model, version=inputs.model_version,
                                                          group=group))
        return [], f"{group} metrics failed: {type(exc).__name__}: {exc}"
