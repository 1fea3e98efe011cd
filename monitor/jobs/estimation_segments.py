"""Each segment's thresholds for the estimated metrics and ``multivariate_drift``, learned with the fit.

A segment's windows hold its share of the model's rows: a country with 3 % of the traffic
has windows of a few dozen rows, whose estimates swing far more than the whole model's, and
whose level is its own (its accuracy, its reconstruction error: its rows share one country).
Thresholds learned from the whole reference flag such a segment by sampling noise alone.
So each segment learns its own, the way the whole model does, on its rows:

- the chunk size is the model's (``estimation.chunk_size``, default a tenth of the
  reference) times the segment's share of the reference rows: the segment's part of a
  typical chunk (with the default, a tenth of the segment's reference rows);
- the chunks are consecutive rows of the segment's reference rows: at least
  :data:`MIN_CHUNKS` full chunks of at least :data:`MIN_WINDOW_ROWS` rows;
- the thresholds are mean ± k'·std of the realized metric (the labels of the chunk) or of
  the reconstruction error over those chunks, with the whole model's bounds, where k' is
  ``estimation.threshold_std`` (k) widened for the few chunks a segment has: the normal
  prediction interval of a sample of that many values (``thresholds.few_chunk_multiplier``). With
  10 chunks, mean ± 3·std would flag several times the clean windows k = 3 implies (its
  mean and std are themselves estimates); k' = 4.5 flags them at that rate. (The whole
  model keeps NannyML's mean ± k·std, which the offline commands match.)

The fitted estimators themselves (calibrator, loss models, PCA) stay the whole model's:
they describe the model, and a segment's rows are scored with them. Sampling-error bands
need nothing per segment: they scale with the window's rows (``std / sqrt(n)``).

There is no fallback to the whole reference: its chunks at the segment's size would
measure the sampling noise around the *whole model's* level, not the segment's, and flag
a segment for being itself. A segment too small for thresholds of its own keeps its
estimate with ``details.threshold_not_learned`` saying why (its rule cannot breach). The
domain classifier's thresholds are fixed (0.45/0.65), not learned: in a segment its
``multivariate_drift`` is not estimated, with the reason.

Learned once, when the reference set is fitted, and stored with the fit (``reference_models``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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
)
from monitor.jobs.estimation_points import MIN_WINDOW_ROWS
from monitor.metrics.drift.learned import MIN_CHUNKS
from monitor.metrics.estimation.cbpe import CONFUSION_CELLS, metric_bounds, realized_metric
from monitor.metrics.estimation.cbpe_multiclass import realized_cell, realized_multiclass
from monitor.metrics.estimation.dle import realized_regression
from monitor.metrics.estimation.thresholds import Spread, chunk_spread, few_chunk_multiplier
from monitor.metrics.features import FeatureSpec, coerce_features
from monitor.metrics.names import CONFUSION_CELL_METRIC, confusion_cell_feature
from monitor.metrics.segments import split_by_segment
from monitor.store.stored_rows import StoredRows

__all__ = ["CLASSIFIER_REASON", "fit_segment_thresholds", "segment_chunk_size"]

CLASSIFIER_REASON = ("the domain classifier's thresholds are fixed (0.45/0.65), not learned, so they cannot follow a "
                     "segment's size: a segment's windows are not scored by it; use estimation.multivariate: pca "
                     "for multivariate drift per segment")


def segment_chunk_size(chunk_size: int, segment_rows: int, reference_rows: int) -> int:
    """The model's chunk size times the segment's share of the reference rows (at least 1).

    >>> segment_chunk_size(1000, 300, 10000), segment_chunk_size(500, 1, 5000)
    (30, 1)
    """
    if reference_rows <= 0:
        return 1
    return max(1, round(chunk_size * segment_rows / reference_rows))


def _starts(rows: int, size: int) -> list[int]:
    return list(range(0, rows - size + 1, size))  # full chunks only


def _learn(values: list[float], config: ModelConfig, metric: str, chunk_size: int,
           lower_limit: float | None, upper_limit: float | None, spreads: dict[str, Spread], *,
           drop_at_limit: bool = False, count: bool = False) -> tuple[float | None, float | None] | str:
    """The thresholds (for a window of ``chunk_size`` rows) from the chunks' values, or why there are none;
    the chunks' :class:`Spread` goes into ``spreads`` (a window of other rows scales it)."""
    spread = chunk_spread(values, lower_limit=lower_limit, upper_limit=upper_limit, drop_at_limit=drop_at_limit,
                          count=count)
    if spread.chunks < MIN_CHUNKS:
        return (f"only {spread.chunks} of the segment's {len(values)} reference chunks of {chunk_size} rows give "
                f"{metric} (at least {MIN_CHUNKS} are needed: labels of both classes in each)")
    spreads[metric] = spread
    return spread.thresholds(few_chunk_multiplier(config.estimation.threshold_std, spread.chunks))


def _performance(config: ModelConfig, fitted: FittedEstimators, rows: StoredRows, specs: dict[str, FeatureSpec],
                 chunk_size: int, spreads: dict[str, Spread]) -> dict[str, tuple[float | None, float | None] | str]:
    """``estimated_<metric>`` (a multiclass cell: ``estimated_confusion_cell[true=a,pred=b]``) → thresholds (or
    why not) from the realized metric of the segment's chunks; their spreads go into ``spreads``."""
    learned: dict[str, tuple[float | None, float | None] | str] = {}
    realized: Callable[[str, slice], float]
    names: dict[str, str] = {}  # metric → the key its point is judged by, when not estimated_<metric>
    count_metrics: set[str] = set(CONFUSION_CELLS)
    if fitted.cbpe is not None and fitted.positive is not None:
        labels, scores, predicted = binary_arrays(rows, fitted.positive)
        keep = ~(np.isnan(labels) | np.isnan(scores) | np.isnan(predicted))
        labels, scores, predicted = labels[keep], scores[keep], predicted[keep]
        metrics, usable = fitted.cbpe.metrics, len(labels)

        def realized(metric: str, part: slice) -> float:
            return realized_metric(metric, labels[part], scores[part], predicted[part])

        bounds = metric_bounds
    elif fitted.multiclass is not None:
        cbpe = fitted.multiclass
        labels, matrix, chosen, _ = multiclass_arrays(rows, cbpe.classes)
        keep = (np.array([value is not None for value in labels], dtype=bool)
                & np.array([value is not None for value in chosen], dtype=bool) & ~np.isnan(matrix).any(axis=1))
        labels, matrix, chosen = labels[keep], matrix[keep], chosen[keep]
        metrics, usable = cbpe.metrics, len(labels)
        cells = cbpe.cell_classes()
        names = {name: f"{CONFUSION_CELL_METRIC}[{confusion_cell_feature(a, b)}]" for name, (a, b) in cells.items()}
        count_metrics = set(cells)

        positions = {name: (cbpe.classes.index(a), cbpe.classes.index(b)) for name, (a, b) in cells.items()}

        def realized(metric: str, part: slice) -> float:
            if metric in cells:  # as the whole model learns it (NaN for a chunk of a single class)
                return realized_cell(positions[metric], labels[part], chosen[part], cbpe.classes)
            return realized_multiclass(metric, labels[part], matrix[part], chosen[part], cbpe.classes)

        def bounds(metric: str) -> tuple[float | None, float | None]:
            return (0.0, None) if metric in cells else (0.0, 1.0)
    elif fitted.dle is not None:
        dle = fitted.dle
        frame = regression_frame(rows, specs, [name for name in dle.features if name in specs])
        frame = frame[frame[PREDICTION_COLUMN].notna() & frame[LABEL_COLUMN].notna()].reset_index(drop=True)
        truth, guess = frame[LABEL_COLUMN].to_numpy(dtype=float), frame[PREDICTION_COLUMN].to_numpy(dtype=float)
        metrics, usable = dle.metrics, len(frame)

        def realized(metric: str, part: slice) -> float:
            return realized_regression(metric, truth[part], guess[part])

        def bounds(metric: str) -> tuple[float | None, float | None]:
            return (0.0, None)
    else:
        return learned
    starts = _starts(usable, chunk_size)
    for metric in metrics:
        name = names.get(metric, f"estimated_{metric}")
        if len(starts) < MIN_CHUNKS:
            learned[name] = (f"the segment's reference has {usable} labelled rows, fewer than {MIN_CHUNKS} chunks of "
                             f"{chunk_size} (its share of estimation.chunk_size)")
            continue
        values = [realized(metric, slice(start, start + chunk_size)) for start in starts]
        lower, upper = bounds(metric)
        learned[name] = _learn(values, config, name, chunk_size, lower, upper, spreads,
                               count=metric in count_metrics)
    return learned


def _multivariate(config: ModelConfig, fitted: FittedEstimators, rows: StoredRows, specs: dict[str, FeatureSpec],
                  chunk_size: int, spreads: dict[str, Spread]) -> tuple[float | None, float | None] | str | None:
    if fitted.classifier is not None:
        return CLASSIFIER_REASON
    reconstruction = fitted.reconstruction
    if reconstruction is None:
        return None  # not fitted: the window says why already
    if len(_starts(len(rows), chunk_size)) < MIN_CHUNKS:
        return f"the segment's reference has {len(rows)} rows, fewer than {MIN_CHUNKS} chunks of {chunk_size}"
    frame = coerce_features(rows.features, {name: specs[name] for name in reconstruction.features})
    errors = reconstruction.row_errors(frame)
    values = [float(np.mean(errors[start:start + chunk_size])) for start in _starts(len(rows), chunk_size)]
    return _learn(values, config, MULTIVARIATE_METRIC, chunk_size, 0.0, None, spreads, drop_at_limit=True)


def _one_segment(config: ModelConfig, fitted: FittedEstimators, rows: StoredRows, specs: dict[str, FeatureSpec],
                 reference_rows: int) -> SegmentThresholds:
    chunk_size = segment_chunk_size(fitted.chunk_size, len(rows), reference_rows)
    learned: dict[str, tuple[float | None, float | None] | str] = {}
    spreads: dict[str, Spread] = {}
    if chunk_size < MIN_WINDOW_ROWS:
        reason = (f"the segment's share of a chunk of {fitted.chunk_size} rows is {chunk_size} rows, fewer than "
                  f"{MIN_WINDOW_ROWS}: too few to learn from; set estimation.chunk_size to the whole model's "
                  "typical window row count, or give a bigger reference")
        names = [f"estimated_{metric}" for metric in fitted.performance]
        learned = {name: reason for name in [*names, *([MULTIVARIATE_METRIC] if fitted.multivariate else [])]}
        if fitted.classifier is not None:
            learned[MULTIVARIATE_METRIC] = CLASSIFIER_REASON
    else:
        learned.update(_performance(config, fitted, rows, specs, chunk_size, spreads))
        multivariate = (_multivariate(config, fitted, rows, specs, chunk_size, spreads) if fitted.multivariate
                        else None)
        if multivariate is not None:
            learned[MULTIVARIATE_METRIC] = multivariate
    chunks = len(_starts(len(rows), chunk_size))
    return SegmentThresholds(
        chunk_size=chunk_size, reference_rows=len(rows), chunks=chunks,
        std_multiplier=few_chunk_multiplier(config.estimation.threshold_std, chunks),
        thresholds={name: value for name, value in learned.items() if not isinstance(value, str)},
        reasons={name: value for name, value in learned.items() if isinstance(value, str)},
        spreads=spreads,
    )


def fit_segment_thresholds(config: ModelConfig, reference: StoredRows, specs: dict[str, FeatureSpec],
                           fitted: FittedEstimators) -> dict[str, SegmentThresholds]:
    """Each segment's thresholds (by label, ``country=DE``), from the reference's rows of that segment."""
    segments = config.segments
    if segments is None:
        return {}
    learned: dict[str, SegmentThresholds] = {}
    for column in segments.columns:
        values = reference.features[column] if column in reference.features.columns else None
        if values is None or not bool(values.notna().any()):
            continue  # no segment of it can be compared (the window notes it)
        for split in split_by_segment(column, values, len(reference), values, len(reference),
                                      max_values=segments.max_values):
            if len(split.reference) > 0:
                learned[split.label] = _one_segment(config, fitted, reference.take(split.reference), specs,
                                                    len(reference))
    return learned
