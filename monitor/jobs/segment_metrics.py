"""Every metric of one window, for the whole model and for each segment.

A model with ``segments: [country, device]`` gets, besides the whole-model points,
the same metric set once per segment (``country=DE``, ``country=__other__``, ...;
see :mod:`monitor.metrics.segments` for which values get their own segment): the
window's rows of that segment are compared with the reference's rows of the same
segment. Pure, like :mod:`monitor.jobs.window_metrics`.

In a segment's points:

- the segment's own column stays (constant inside its segment: it never drifts there, and
  counts as not drifted in the segment's ``dataset_drift_share``);
- ``dead_letter_count`` is left out (a dead letter has no readable features);
- a segment the reference has no rows of has its drift not judged, with the reason;
- a segment column no event of the window carries is noted for ``job_runs`` (the
  window is *degraded*), its rows are ``__missing__`` and the reference's segments
  are empty: "not judged", never "no drift".
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.jobs.window_input import WindowInput, WindowMetrics
from monitor.jobs.window_metrics import StartedDrift, compute_window_metrics
from monitor.metrics.point import MetricPoint
from monitor.metrics.segments import SegmentSplit, split_by_segment
from monitor.store.stored_rows import StoredRows

__all__ = ["compute_segmented_metrics", "segment_rows"]

_SEGMENT_FREE = frozenset({"dead_letter_count"})
_FAILED = " metrics failed: "


def segment_rows(rows: StoredRows, positions: npt.NDArray[np.intp]) -> StoredRows:
    """The rows at ``positions``, re-indexed from 0 (with their per-class probabilities)."""
    return rows.take(positions)


def _column(rows: StoredRows | None, name: str) -> pd.Series[Any] | None:
    if rows is None or name not in rows.features.columns:
        return None
    return rows.features[name]


def _has_values(column: pd.Series[Any] | None) -> bool:
    return column is not None and bool(column.notna().any())


def _segment_input(inputs: WindowInput, split: SegmentSplit) -> WindowInput:
    reference = inputs.reference
    if reference is not None and len(split.reference) > 0:
        segment_reference: StoredRows | None = segment_rows(reference, split.reference)
        reason, key = inputs.reference_reason, inputs.reference_key
    else:
        segment_reference, key = None, None
        reason = (inputs.reference_reason or "no reference") if reference is None else (
            f"the reference has no rows of segment {split.label}")
    return replace(
        inputs, rows=segment_rows(inputs.rows, split.window), dead_letter_count=0,
        reference=segment_reference, reference_reason=reason,
        # Thresholds learned from this segment's reference rows are cached apart from the whole model's.
        reference_key=None if key is None else (*key, "segment", split.label),
        reference_unusable=inputs.reference_unusable and reference is None, segment=split.label,
    )


def _segment_points(metrics: WindowMetrics, split: SegmentSplit) -> list[MetricPoint]:
    return [replace(point, segment=split.label) for point in metrics.points if point.metric not in _SEGMENT_FREE]


def compute_segmented_metrics(inputs: WindowInput, *, second_core: Executor | None = None,
                              drift: StartedDrift | None = None) -> WindowMetrics:
    """The whole model's points and notes, then each segment's points (module docstring); ``second_core``
    and ``drift`` (the whole model's): see :func:`~monitor.jobs.window_metrics.compute_window_metrics`."""
    whole = compute_window_metrics(inputs, second_core=second_core, drift=drift)
    segments = inputs.config.segments
    if segments is None:
        return whole
    points, notes = list(whole.points), list(whole.notes)
    for column in segments.columns:
        notes.extend(_missing_column_notes(inputs, column))
        window_values, reference_values = _column(inputs.rows, column), _column(inputs.reference, column)
        reference_rows = len(inputs.reference) if inputs.reference is not None else 0
        for split in split_by_segment(column, window_values, len(inputs.rows), reference_values, reference_rows,
                                      max_values=segments.max_values):
            metrics = compute_window_metrics(_segment_input(inputs, split), second_core=second_core)
            points.extend(_segment_points(metrics, split))
            # Per-segment notes repeat the whole model's (undeclared features, ...); a failed group is new.
            notes.extend(f"segment {split.label}: {note}" for note in metrics.notes if _FAILED in note)
    return WindowMetrics(points=tuple(points), notes=tuple(notes))


def _missing_column_notes(inputs: WindowInput, column: str) -> list[str]:
    notes = []
    if len(inputs.rows) > 0 and not _has_values(_column(inputs.rows, column)):
        notes.append(f"segment column {column!r} has no value in any event of the window: its rows are "
                     f"{column}=__missing__ and its other segments are empty (not judged); send {column!r} in "
                     f"every event's features or remove it from models.{inputs.model}.segments")
    if inputs.reference is not None and len(inputs.reference) > 0 and not _has_values(
            _column(inputs.reference, column)):
        notes.append(f"segment column {column!r} has no value in the reference: no segment of it can be compared; "
                     f"add {column!r} to the reference data of model {inputs.model!r}")
    return notes
