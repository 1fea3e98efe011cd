"""How a window's metric groups share the two cores: the same points whichever thread computed a group."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

from monitor.jobs.window_input import WindowInput
from monitor.jobs.window_metrics import compute_window_metrics, start_data_drift
from monitor.store.row_format import rows_table
from monitor.store.stored_rows import stored_rows
from tests.monitor.jobs.store_data import DAY, FRAUD_MODEL, HOUR, config, fraud_traffic, record


def _rows(start, *, seed, shift=0.0):
    traffic = fraud_traffic(start, 1, 80, seed=seed, shift=shift)
    return stored_rows(rows_table([record(row) for row in traffic], ingested_at=start))


def _inputs():
    model = {**FRAUD_MODEL, "segments": {"columns": ["country"]}}
    return WindowInput(model="fraud", model_version="v1", config=config({"fraud": model}).models["fraud"],
                       rows=_rows(DAY, seed=1, shift=3.0), dead_letter_count=2, reference=_rows(DAY - HOUR, seed=2))


def _comparable(metrics):
    return [(point.metric, point.feature, point.segment, "nan" if math.isnan(point.value) else point.value,
             point.is_breach, point.threshold) for point in metrics.points], list(metrics.notes)


def test_groups_the_second_core_has_not_begun_are_computed_here_with_the_same_points():
    inputs = _inputs()
    expected = compute_window_metrics(inputs)
    assert any(point.metric == "feature_drift_score" for point in expected.points)
    release = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as second_core:
        second_core.submit(release.wait, 60)  # the second core is busy: nothing queued behind can begin
        drift = start_data_drift(inputs, second_core)
        try:
            taken_back = compute_window_metrics(inputs, second_core=second_core, drift=drift)
        finally:
            release.set()
    assert drift.pending.cancelled()
    assert _comparable(taken_back) == _comparable(expected)
