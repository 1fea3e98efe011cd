"""Every metric of one window, from its columns and its baseline.

Pure assembly of the statistics in :mod:`monitor.metrics` (no store, no clock):
traffic and serving errors, latency, data quality per feature, dead letters, data
drift per feature and for the dataset (:mod:`monitor.jobs.window_drift`; a feature that
cannot be judged is NULL with ``details["not_judged"]``, never "no drift"), problems of
the reference data (``reference_problem``), the output distribution and prediction drift,
performance, label drift and concept drift, and the estimates fitted on the
reference (:mod:`monitor.jobs.estimation`). Which columns each group gets
follows the model's task: classification compares classes as text, regression
compares numbers (:mod:`monitor.jobs.window_input`).

A metric that cannot be computed is a NaN point with ``details["reason"]``. A group
that fails outright (a bug, or a config the statistic rejects) does not stop the
others: its error becomes a note that the job records in ``job_runs``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from monitor.errors import MetricError
from monitor.jobs.estimation import estimation_points
from monitor.jobs.learned_metrics import LearnedBounds, apply_learned, cached_bounds, learn_bounds, serving_gaps
from monitor.jobs.shared_tasks import SharedTasks
from monitor.jobs.window_drift import (
    data_drift,
    feature_specs,
    learned_chunk_size,
    prediction_drift,
    unjudged_drift,
)
from monitor.jobs.window_input import (
    EMPTY_WINDOW,
    WindowInput,
    WindowMetrics,
    guarded,
    is_classification,
    labels_of,
    nan_point,
    predictions_of,
    scores_of,
)
from monitor.metrics.categories import category_keys
from monitor.metrics.concept import compute_concept_drift
from monitor.metrics.drift.feature import FeatureDriftResult
from monitor.metrics.features import FeatureSpec
from monitor.metrics.latency import compute_latency
from monitor.metrics.output import compute_output
from monitor.metrics.performance import compute_performance
from monitor.metrics.point import MetricPoint
from monitor.metrics.quality import compute_quality
from monitor.metrics.reference_problems import REFERENCE_PROBLEM, compute_reference_problems
from monitor.metrics.traffic import compute_traffic
from monitor.store.stored_rows import StoredRows

__all__ = ["StartedDrift", "compute_window_metrics", "start_data_drift"]

_MAX_REFERENCE_CLASSES = 100
# Thresholds of other metrics (models.<name>.metrics), per (reference, chunk size, settings).
_learned_bounds: dict[tuple[Any, ...], dict[tuple[str, str | None], LearnedBounds]] = {}
_QUALITY = frozenset({"missing_share", "type_mismatch_share", "out_of_range_share", "unseen_category_share"})
_OUTPUT = frozenset({"positive_rate", "class_share", "prediction_mean", "score_mean"})
_PERFORMANCE = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse", "mape", "r2"})
_LATENCY = frozenset({"latency_p50_ms", "latency_p95_ms", "latency_p99_ms"})
_DRIFT = "data drift"
_MULTIVARIATE = frozenset({"multivariate"})
_PERFORMANCE_ESTIMATES = frozenset({"performance"})
# The groups' points in this order, whichever thread computed them.
_ORDER = ("traffic", "latency", "data quality", "dead letters", "output", "performance", "concept drift",
          "estimation", "multivariate drift")


def _reference_classes(inputs: WindowInput) -> list[str]:
    if inputs.reference is None or not is_classification(inputs.config):
        return []
    keys = category_keys(inputs.reference.outputs["prediction"], name="reference predictions").dropna()
    return sorted(str(name) for name in keys.value_counts().head(_MAX_REFERENCE_CLASSES).index)


def _output(inputs: WindowInput) -> list[MetricPoint]:
    config = inputs.config
    points = compute_output(
        predictions_of(config, inputs.rows), task=config.task, positive_label=config.positive_label,
        scores=scores_of(inputs.rows), classes=_reference_classes(inputs),
    )
    return [*points, prediction_drift(inputs)]


def _performance(inputs: WindowInput) -> list[MetricPoint]:
    config = inputs.config
    return compute_performance(
        predictions_of(config, inputs.rows), labels_of(config, inputs.rows), task=config.task,
        positive_label=config.positive_label, scores=scores_of(inputs.rows),
    )


def _concept(inputs: WindowInput) -> list[MetricPoint]:
    config = inputs.config
    if inputs.reference is None:
        reason = inputs.reference_reason or "no reference"
        return [nan_point(metric, reason) for metric in ("label_drift_score", "performance_drop", "concept_drift")]
    reference = inputs.reference
    has_labels = bool(reference.outputs["label"].notna().any())
    has_predictions = bool(reference.outputs["prediction"].notna().any())
    return compute_concept_drift(
        task=config.task,
        window_predictions=predictions_of(config, inputs.rows),
        window_labels=labels_of(config, inputs.rows),
        reference_predictions=predictions_of(config, reference) if has_predictions else None,
        reference_labels=labels_of(config, reference) if has_labels else None,
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
        points += compute_output(predictions_of(config, rows), task=config.task, positive_label=config.positive_label,
                                 scores=scores_of(rows), classes=_reference_classes(inputs))
    if metrics & _PERFORMANCE:
        points += compute_performance(predictions_of(config, rows), labels_of(config, rows), task=config.task,
                                      positive_label=config.positive_label, scores=scores_of(rows))
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
        return apply_learned(points, None, multipliers, reason=EMPTY_WINDOW)
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


Outcome = tuple[list[MetricPoint], str | None]
"""A group's points, or none and a note saying why it failed (:func:`~monitor.jobs.window_input.guarded`)."""


@dataclass(frozen=True, slots=True)
class StartedDrift:
    """The data-drift group queued on the second core (:func:`start_data_drift`)."""

    compute: Callable[[], list[MetricPoint]]
    pending: Future[Outcome]
    tests: SharedTasks[FeatureDriftResult]
    """Its tests, one per feature: another thread can help with them."""


Group = tuple[str, Callable[[], list[MetricPoint]]]
"""A metric group: its name (in notes) and its computation."""


def start_data_drift(inputs: WindowInput, pool: Executor) -> StartedDrift:
    """The data-drift group of ``inputs`` queued in ``pool`` (the second core).

    It reads the features only, so the window job queues it as soon as they are read, while
    the labels are read (a thread reading them on SQLite takes the GIL row by row, so the other
    groups that read no label are queued only after that: :func:`compute_window_metrics`).
    """
    specs, _ = feature_specs(inputs)
    tests: SharedTasks[FeatureDriftResult] = SharedTasks()

    def drift() -> list[MetricPoint]:
        try:
            return data_drift(inputs, specs, run=tests.run)
        finally:
            tests.close()  # a helper waiting for the tests stops waiting if there were none

    return StartedDrift(compute=drift, pending=pool.submit(guarded, inputs, _DRIFT, drift), tests=tests)


def _label_free(inputs: WindowInput, specs: dict[str, FeatureSpec]) -> list[Group]:
    """The groups besides the drift tests that read no label, in queue order."""
    outputs = inputs.rows.outputs
    reference_features = inputs.reference.features if inputs.reference is not None else None
    return [
        ("data quality", lambda: compute_quality(inputs.rows.features, specs, reference=reference_features)),
        ("output", lambda: _output(inputs)),
        ("multivariate drift", lambda: estimation_points(
            inputs.estimators, inputs.config, inputs.rows, specs, segment=inputs.segment, parts=_MULTIVARIATE,
            reason=inputs.estimation_reason or inputs.reference_reason)),
        ("traffic", lambda: compute_traffic(outputs["status"])),
        ("latency", lambda: compute_latency(outputs["latency_ms"])),
    ]


def compute_window_metrics(inputs: WindowInput, *, second_core: Executor | None = None,
                           drift: StartedDrift | None = None) -> WindowMetrics:
    """All metric points of one window (see the module docstring).

    The groups that read no label are queued on ``second_core`` (a one-thread executor): the
    drift tests first (``drift``: already queued by :func:`start_data_drift` on these rows'
    features; None: queued here), then data quality, output, multivariate drift, traffic and
    latency. This thread computes the groups that read labels, then whichever queued group the
    second core has not begun (from the end of the queue), and helps with the drift tests of
    the features not begun yet (one task per feature,
    :class:`~monitor.jobs.shared_tasks.SharedTasks`), so both cores finish together whatever
    the store and the window (most groups spend their time in numpy with the GIL released).
    The points are the same, in the same order, whichever thread computed them.
    """
    if second_core is None:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-drift") as pool:
            return compute_window_metrics(inputs, second_core=pool, drift=drift)
    if drift is None:
        drift = start_data_drift(inputs, second_core)
    specs, notes = feature_specs(inputs)
    queued = [(group, compute, second_core.submit(guarded, inputs, group, compute))
              for group, compute in _label_free(inputs, specs)]
    labelled: list[Group] = [
        ("dead letters", lambda: [MetricPoint(
            "dead_letter_count", float(inputs.dead_letter_count),
            details={"scope": "model", "note": "dead letters carry no model version; counted by received_at"},
        )]),
        ("performance", lambda: _performance(inputs)),
        ("concept drift", lambda: _concept(inputs)),
        ("estimation", lambda: estimation_points(
            inputs.estimators, inputs.config, inputs.rows, specs, segment=inputs.segment, parts=_PERFORMANCE_ESTIMATES,
            reason=inputs.estimation_reason or inputs.reference_reason)),
    ]
    done = {group: guarded(inputs, group, compute) for group, compute in labelled}
    for group, compute, pending in reversed(queued):
        done[group] = guarded(inputs, group, compute) if pending.cancel() else pending.result()
    if drift.pending.cancel():
        drift_points, drift_note = guarded(inputs, _DRIFT, drift.compute)
    else:
        drift.tests.help()  # the features the second core has not begun
        drift_points, drift_note = drift.pending.result()
    if drift_note is not None:
        # A failed drift group leaves every drift metric not judged, so that no alert reads "no drift".
        drift_points = unjudged_drift(specs, drift_note)
    outcomes = [done[group] for group in _ORDER]
    outcomes.append((drift_points, drift_note))
    if inputs.reference is not None:
        reference = inputs.reference
        outcomes.append(guarded(inputs, "reference check",
                                lambda: compute_reference_problems(reference.features, specs)))
    elif inputs.reference_unusable:
        # The caller notes the reason once; these points make it alertable per feature.
        reason = inputs.reference_reason or "the reference is unusable"
        outcomes.append(([MetricPoint(REFERENCE_PROBLEM, 1.0, feature=name, is_breach=True,
                                      details={"problem": "unavailable", "reason": reason})
                          for name in specs], None))
    points = [point for group_points, _ in outcomes for point in group_points]
    notes.extend(note for _, note in outcomes if note is not None)
    learned_points, learned_note = guarded(inputs, "learned thresholds",
                                           lambda: _with_learned_thresholds(inputs, specs, points))
    if learned_note is None:
        points = learned_points
    else:
        notes.append(learned_note)
    if inputs.reference is not None:
        notes.extend(f"reference problem: {point.details['reason']}" for point in points
                     if point.metric == REFERENCE_PROBLEM)
    return WindowMetrics(points=tuple(points), notes=tuple(notes))
