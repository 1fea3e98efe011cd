"""A challenger version against the champion on the same window (pure, no store).

Every point is a ``compare_*`` metric of the challenger (see :mod:`monitor.metrics.names`);
its details name both versions and hold ``champion_value`` and ``challenger_value``:

- serving: ``compare_error_rate_diff`` (two-proportion z-test),
  ``compare_latency_p50_diff_ms`` / ``compare_latency_p95_diff_ms`` (Mann-Whitney U test
  of the two latency distributions);
- performance, on the labelled rows: ``compare_accuracy_diff`` (classification;
  two-proportion z-test), ``compare_roc_auc_diff`` (binary with scores; DeLong's test),
  ``compare_mae_diff`` (regression; Welch's t-test on the absolute errors);
- ``compare_estimated_<metric>_diff`` where both versions have that estimate (no test:
  estimates carry no sampling error of their own);
- drift of the challenger's rows against the champion's, with the model's drift
  settings (the champion's rows play the reference): ``compare_feature_drift_score`` /
  ``compare_feature_drift`` per feature, ``compare_dataset_drift_share``,
  ``compare_dataset_drift`` and ``compare_prediction_drift_score`` (outputs).

Differences are challenger − champion. ``details["p_value"]`` is the test's two-sided
p-value and ``details["significant"]`` says whether it is below :data:`ALPHA`. A
difference that cannot be computed or tested is NaN with ``details["reason"]``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from monitor.config.models import ModelConfig
from monitor.jobs.window_drift import drift_points
from monitor.jobs.window_input import WindowInput
from monitor.logs import fields
from monitor.metrics.categories import category_keys
from monitor.metrics.column import to_float
from monitor.metrics.names import ESTIMATED_CELL_METRICS
from monitor.metrics.pairs import class_pairs, value_pairs
from monitor.metrics.point import MetricPoint
from monitor.metrics.significance import (
    TestResult,
    delong_test,
    mann_whitney_test,
    two_proportion_test,
    welch_test,
)
from monitor.store.stored_rows import StoredRows

__all__ = ["ALPHA", "VersionSample", "compare_versions"]

ALPHA = 0.05

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VersionSample:
    """One version's rows in the window and its stored estimates (``estimated_<metric>`` → value)."""

    version: str
    rows: StoredRows
    estimates: Mapping[str, float]


def _point(metric: str, result: TestResult, champion: float, challenger: float, **extra: Any) -> MetricPoint:
    details: dict[str, Any] = {"test": result.test, "p_value": result.p_value, "champion_value": champion,
                               "challenger_value": challenger, "alpha": ALPHA, **result.details, **extra}
    if not math.isnan(result.statistic):
        details["statistic"] = result.statistic
    if math.isnan(result.p_value):
        # Untested is not judged (NULL): a rule never reads "no difference" from it.
        details["reason"] = result.reason or "not enough data to test"
        details["significant"] = None
        return MetricPoint(metric, math.nan, details=details)
    details["significant"] = result.p_value < ALPHA
    return MetricPoint(metric, result.difference, details=details)


def _error_rate(champion: StoredRows, challenger: StoredRows) -> list[MetricPoint]:
    counts = []
    for rows in (champion, challenger):
        keys = category_keys(rows.outputs["status"], name="status")
        counts.append((int((keys == "error").sum()), len(keys)))
    (a_hits, a_n), (b_hits, b_n) = counts
    result = two_proportion_test(a_hits, a_n, b_hits, b_n)
    return [_point("compare_error_rate_diff", result, a_hits / a_n if a_n else math.nan,
                   b_hits / b_n if b_n else math.nan, n_champion=a_n, n_challenger=b_n,
                   errors_champion=a_hits, errors_challenger=b_hits)]


def _latencies(rows: StoredRows) -> np.ndarray[Any, np.dtype[np.float64]]:
    values = to_float(rows.outputs["latency_ms"])
    return values[np.isfinite(values)]


def _latency(champion: StoredRows, challenger: StoredRows) -> list[MetricPoint]:
    a, b = _latencies(champion), _latencies(challenger)
    points = []
    for metric, quantile in (("compare_latency_p50_diff_ms", 50.0), ("compare_latency_p95_diff_ms", 95.0)):
        if a.size == 0 or b.size == 0:
            points.append(MetricPoint(metric, math.nan, details={
                "reason": "a version sent no latency_ms in the window", "n_champion": int(a.size),
                "n_challenger": int(b.size)}))
            continue
        first, second = float(np.percentile(a, quantile)), float(np.percentile(b, quantile))
        result = mann_whitney_test(a, b, difference=second - first)
        points.append(_point(metric, result, first, second, n_champion=int(a.size), n_challenger=int(b.size)))
    return points


def _classification(config: ModelConfig, champion: StoredRows, challenger: StoredRows) -> list[MetricPoint]:
    pairs = [class_pairs(rows.outputs["prediction"], rows.outputs["label"]) for rows in (champion, challenger)]
    hits = [int((pair.predicted == pair.actual).sum()) for pair in pairs]
    sizes = [int(pair.predicted.size) for pair in pairs]
    result = two_proportion_test(hits[0], sizes[0], hits[1], sizes[1])
    if sizes[0] == 0 or sizes[1] == 0:
        result = TestResult(result.test, math.nan, math.nan, reason="a version has no labelled predictions yet")
    points = [_point("compare_accuracy_diff", result, hits[0] / sizes[0] if sizes[0] else math.nan,
                     hits[1] / sizes[1] if sizes[1] else math.nan, n_champion=sizes[0], n_challenger=sizes[1])]
    if config.task != "binary_classification":
        return points
    positive = str(category_keys(pd.Series([config.positive_label], dtype=object), name="positive_label").iloc[0])
    samples = []
    for rows, pair in zip((champion, challenger), pairs, strict=True):
        scores = to_float(rows.outputs["score"])[pair.scored]
        has_score = np.isfinite(scores)
        samples.append((pair.actual[has_score] == positive, scores[has_score]))
    auc = delong_test(samples[0][0], samples[0][1], samples[1][0], samples[1][1])
    points.append(_point("compare_roc_auc_diff", auc, auc.details.get("champion_auc", math.nan),
                         auc.details.get("challenger_auc", math.nan), n_champion=int(samples[0][1].size),
                         n_challenger=int(samples[1][1].size)))
    return points


def _regression(champion: StoredRows, challenger: StoredRows) -> list[MetricPoint]:
    errors = []
    for rows in (champion, challenger):
        pair = value_pairs(rows.outputs["prediction_numeric"], rows.outputs["label_numeric"])
        errors.append(np.abs(pair.predicted - pair.actual))
    a, b = errors
    result = welch_test(a, b)
    if a.size == 0 or b.size == 0:
        result = TestResult(result.test, math.nan, math.nan, reason="a version has no labelled predictions yet")
    return [_point("compare_mae_diff", result, float(a.mean()) if a.size else math.nan,
                   float(b.mean()) if b.size else math.nan, n_champion=int(a.size), n_challenger=int(b.size))]


def _estimates(champion: VersionSample, challenger: VersionSample) -> list[MetricPoint]:
    points = []
    # the confusion cells are counts: they follow each version's share of the traffic, not its quality
    for name in sorted((set(champion.estimates) & set(challenger.estimates)) - ESTIMATED_CELL_METRICS):
        first, second = champion.estimates[name], challenger.estimates[name]
        points.append(MetricPoint(f"compare_{name}_diff", second - first, details={
            "champion_value": first, "challenger_value": second, "test": None,
            "note": "estimates: no significance test"}))
    return points


def _drift(model: str, config: ModelConfig, champion: VersionSample, challenger: VersionSample) -> list[MetricPoint]:
    inputs = WindowInput(model=model, model_version=challenger.version, config=config, rows=challenger.rows,
                         dead_letter_count=0, reference=champion.rows)
    return [MetricPoint(f"compare_{point.metric}", point.value, feature=point.feature, threshold=point.threshold,
                        is_breach=point.is_breach, details=point.details) for point in drift_points(inputs)]


def compare_versions(
    model: str, config: ModelConfig, champion: VersionSample, challenger: VersionSample,
) -> tuple[list[MetricPoint], list[str]]:
    """The comparison points of ``challenger`` against ``champion`` and notes on groups that failed.

    A group that fails (a bug, or data a statistic rejects) becomes a note; the others stand.
    """
    a, b = champion.rows, challenger.rows
    groups: list[tuple[str, Callable[[], list[MetricPoint]]]] = [
        ("error rate", lambda: _error_rate(a, b)),
        ("latency", lambda: _latency(a, b)),
        ("performance", lambda: _regression(a, b) if config.task == "regression" else _classification(config, a, b)),
        ("estimates", lambda: _estimates(champion, challenger)),
        ("drift", lambda: _drift(model, config, champion, challenger)),
    ]
    points: list[MetricPoint] = []
    notes: list[str] = []
    for group, compute in groups:
        try:
            points.extend(compute())
        except Exception as exc:  # one group's failure must not lose the others: logged, and noted
            log.exception("comparison group failed", extra=fields(model=model, group=group,
                                                                  challenger=challenger.version))
            notes.append(f"comparison {group} failed: {type(exc).__name__}: {exc}")
    names = {"champion": champion.version, "challenger": challenger.version}
    return [MetricPoint(p.metric, p.value, feature=p.feature, threshold=p.threshold, is_breach=p.is_breach,
                        details={**p.details, **names}) for p in points], notes
