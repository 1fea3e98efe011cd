"""The drift groups of a window: data drift per feature and for the dataset, and prediction drift.

A feature that cannot be judged (no rows, no baseline, no values) is NULL with
``details["not_judged"]``, never "no drift". The data-drift tests read the features
only, so the window job starts them on its second core as soon as the features are
read, before the labels (:func:`monitor.jobs.window_metrics.start_data_drift`); a
comparison of two versions calls :func:`drift_points` with the champion's rows as the
baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from monitor.config.models import ModelConfig
from monitor.jobs.window_input import (
    EMPTY_WINDOW,
    WindowInput,
    is_classification,
    nan_point,
    predictions_of,
)
from monitor.metrics.categories import category_keys
from monitor.metrics.drift import (
    compute_dataset_drift,
    compute_feature_drift,
    infer_feature_type,
    to_metric_points,
)
from monitor.metrics.drift.feature import MIN_FIXED_DISTANCE_VALUES, FeatureDriftResult
from monitor.metrics.drift.learned import REFERENCE, LearnedThreshold, ThresholdLearning
from monitor.metrics.features import FeatureSpec, coerce_features
from monitor.metrics.point import MetricPoint

__all__ = [
    "data_drift", "drift_points", "feature_specs", "learned_chunk_size", "prediction_drift", "unjudged_drift",
]

_MAX_LEARNED = 4096
# Thresholds learned from a stored reference, per (reference, feature, method, chunk size, k),
# kept for the life of the process (a new reference set has a new key).
_learned: dict[tuple[Any, ...], LearnedThreshold] = {}


def unjudged_drift(specs: dict[str, FeatureSpec], reason: str) -> list[MetricPoint]:
    """Every data-drift point as not judged (NULL, never "no drift"), with the reason."""
    points = []
    for name in specs:
        points += [nan_point("feature_drift_score", reason, name, not_judged=reason),
                   nan_point("feature_drift", reason, name, not_judged=reason)]
    return [*points, nan_point("dataset_drift_share", reason, not_judged=reason),
            nan_point("dataset_drift", reason, not_judged=reason)]


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


def min_fixed_distance_values(inputs: WindowInput) -> int:
    """A segment's window is small by construction (its share of the traffic): a fixed-threshold distance on
    fewer than :data:`MIN_FIXED_DISTANCE_VALUES` of its values is not judged. The whole model's window size is
    the operator's choice and keeps Evidently's verdicts."""
    return MIN_FIXED_DISTANCE_VALUES if inputs.segment is not None else 0


def data_drift(inputs: WindowInput, specs: dict[str, FeatureSpec], *,
               run: Callable[[Sequence[Callable[[], FeatureDriftResult]]], Sequence[FeatureDriftResult]] | None = None,
               ) -> list[MetricPoint]:
    """The data-drift points (``run``: see :func:`~monitor.metrics.drift.compute_dataset_drift`)."""
    reason: str | None = None
    if not specs:
        reason = f"model {inputs.model!r} has no features to compare; list them under models.{inputs.model}.features"
    elif len(inputs.rows) == 0:
        reason = EMPTY_WINDOW
    elif inputs.reference is None:
        reason = inputs.reference_reason or "no reference"
    if reason is not None:
        return unjudged_drift(specs, reason)
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
        min_fixed_distance_values=min_fixed_distance_values(inputs),
        run=run,
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


def prediction_drift(inputs: WindowInput) -> MetricPoint:
    if inputs.reference is None:
        return nan_point("prediction_drift_score", inputs.reference_reason or "no reference")
    classification = is_classification(inputs.config)
    reference = predictions_of(inputs.config, inputs.reference)
    current = predictions_of(inputs.config, inputs.rows)
    if not bool(reference.notna().any()):
        return nan_point("prediction_drift_score", "the reference has no predictions; add a prediction column "
                                              "to the reference file")
    if classification:
        reference = category_keys(reference, name="reference predictions")
        current = category_keys(current, name="predictions")
    result = compute_feature_drift(
        reference, current, feature="prediction", feature_type="categorical" if classification else "numeric",
        min_fixed_distance_values=min_fixed_distance_values(inputs),
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
    return [*data_drift(inputs, specs), prediction_drift(inputs)]
