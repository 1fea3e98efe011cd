"""Thresholds learned from the reference for any per-window metric (``threshold: reference``).

``models.<name>.metrics: {error_rate: {threshold: reference}}`` learns what a *clean*
window of this size looks like for that metric: the reference is split into chunks of
the window's row count (rounded to two significant digits, as the learned drift
thresholds), the metric is computed on every chunk exactly as on a window, and the
thresholds are ``mean ± k·std`` of those values (``threshold_std``, default 3); a
threshold at or past the metric's bound (0 for shares and errors, 1 for
shares and rates) is dropped, so it never limits. Each window's point then carries
``details.lower_threshold`` / ``upper_threshold`` (the ones ``when: outside reference``
reads), ``threshold_source: "reference"`` and ``learned`` (chunk size, chunks, mean,
std, k); ``threshold`` is the upper one (else the lower) and ``is_breach`` says whether
the value is outside them.

A share of rows (missing, type-mismatch, positive rate, class share, error rate) of a
small window is a count of rare events: a segment's 30-row window has a positive rate
of 0, 1/30 or 2/30, and mean ± k·std over a few chunks that mostly count 0 puts the
threshold below a single event. So a share's thresholds are never tighter than the
binomial counts of the chunk size at the mean share leave by chance beyond k std
(``learned.binomial``: the bounds that widened them); a share never seen in the
reference (mean 0) keeps its threshold of 0.

Learnable are the metrics a chunk of reference rows can give (:data:`LEARNABLE_METRICS`):
data quality (missing and type-mismatch shares, per feature), the output (positive
rate, class shares, prediction and score means), performance (when the reference rows
have labels), latency percentiles and the error rate (when they keep ``latency_ms`` /
``status``: a baseline copied from stored predictions does, a file may). A
metric the reference cannot give (no labels, too few rows for :data:`MIN_CHUNKS`
chunks, every chunk undefined) keeps its value and gets ``details.threshold_not_learned``
saying why; its rule then cannot breach on ``outside reference``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import binom, norm

from monitor.errors import MetricError
from monitor.metrics.drift.learned import MAX_CHUNKS, MIN_CHUNKS
from monitor.metrics.estimation.thresholds import reference_thresholds
from monitor.metrics.names import LEARNABLE_METRICS
from monitor.metrics.point import MetricPoint
from monitor.store.stored_rows import StoredRows

__all__ = ["LEARNABLE_METRICS", "LearnedBounds", "apply_learned", "cached_bounds", "learn_bounds", "metric_limits",
           "serving_gaps"]

_SHARES = frozenset({"missing_share", "type_mismatch_share", "positive_rate", "class_share", "accuracy",
                     "precision", "recall", "f1", "roc_auc", "error_rate"})
_NON_NEGATIVE = frozenset({"mae", "rmse", "mape", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"})
# Shares of the window's rows (a count over the rows): their chance spread is at least the binomial one.
_ROW_SHARES = frozenset({"missing_share", "type_mismatch_share", "positive_rate", "class_share", "error_rate"})

Key = tuple[str, str | None]  # (metric, feature or class)


def binomial_bounds(share: float, rows: int, multiplier: float) -> tuple[float, float]:
    """The shares that ``rows`` rows, each an event with probability ``share``, leave only with
    the chance of a normal value beyond ``multiplier`` std (on either side).

    >>> binomial_bounds(0.0014, 180, 3.0)  # 0.25 events expected: up to 3 of 180 rows is chance
    (0.0, 0.016666666666666666)
    >>> binomial_bounds(0.5, 100, 3.0)
    (0.35, 0.65)
    """
    quantile = float(norm.cdf(multiplier))
    low, high = binom.ppf([1.0 - quantile, quantile], rows, share)
    return float(low) / rows, float(high) / rows


def _widened(metric: str, lower: float | None, upper: float | None, mean: float, chunk_size: int,
             multiplier: float) -> tuple[float | None, float | None, dict[str, float] | None]:
    """A row share's thresholds, no tighter than :func:`binomial_bounds` (dropped again at the limits)."""
    if metric not in _ROW_SHARES or not 0.0 < mean < 1.0:
        return lower, upper, None
    low, high = binomial_bounds(mean, chunk_size, multiplier)
    wider_low = lower is not None and low < lower
    wider_high = upper is not None and high > upper
    if not (wider_low or wider_high):
        return lower, upper, None
    if wider_low:
        lower = None if low <= 0.0 else low
    if wider_high:
        upper = None if high >= 1.0 else high
    return lower, upper, {"lower": low, "upper": high}


def metric_limits(metric: str) -> tuple[float | None, float | None]:
    """The bounds a metric cannot leave: a learned threshold there is dropped.

    >>> metric_limits("missing_share"), metric_limits("mae"), metric_limits("r2")
    ((0.0, 1.0), (0.0, None), (None, None))
    """
    if metric in _SHARES:
        return 0.0, 1.0
    if metric in _NON_NEGATIVE:
        return 0.0, None
    return None, None


@dataclass(frozen=True, slots=True)
class LearnedBounds:
    """One metric's learned thresholds (None: no limit on that side), or why there are none."""

    lower: float | None
    upper: float | None
    chunk_size: int
    chunks: int
    mean: float
    std: float
    multiplier: float
    reason: str | None = None
    binomial: dict[str, float] | None = None  # the binomial bounds that widened a share's thresholds

    def details(self) -> dict[str, Any]:
        if self.reason is not None:
            return {"threshold_not_learned": self.reason}
        learned: dict[str, Any] = {"chunk_size": self.chunk_size, "chunks": self.chunks, "mean": self.mean,
                                   "std": self.std, "std_multiplier": self.multiplier}
        if self.binomial is not None:
            learned["binomial"] = self.binomial
        return {"threshold_source": "reference", "lower_threshold": self.lower, "upper_threshold": self.upper,
                "learned": learned}


def _chunk(rows: StoredRows, start: int, size: int) -> StoredRows:
    return StoredRows(outputs=rows.outputs.iloc[start:start + size].reset_index(drop=True),
                      features=rows.features.iloc[start:start + size].reset_index(drop=True))


def serving_gaps(reference: StoredRows, metrics: Iterable[str], *, chunk_size: int,
                 multipliers: Mapping[str, float]) -> dict[Key, LearnedBounds]:
    """The latency and error-rate metrics among ``metrics`` that ``reference`` cannot teach, with why.

    A reference without any ``latency_ms`` (or ``status``) would otherwise learn nothing, or,
    for the error rate, a rate of 0 from rows that never said whether they failed.
    """
    outputs = reference.outputs
    gaps: dict[Key, LearnedBounds] = {}
    for metric in metrics:
        column = "status" if metric == "error_rate" else "latency_ms" if metric.startswith("latency_") else None
        if column is None or bool(outputs[column].notna().any()):
            continue
        reason = (f"the reference has no {column}, so {metric} cannot be learned; a baseline copied from stored "
                  f"predictions keeps it (one stored before it was kept needs a new one: change "
                  f"reference.window or reference.first), a reference file needs a {column} column")
        gaps[(metric, None)] = LearnedBounds(None, None, chunk_size, 0, math.nan, math.nan, multipliers[metric],
                                             reason=reason)
    return gaps


def _starts(full_chunks: int) -> list[int]:
    if full_chunks <= MAX_CHUNKS:
        return list(range(full_chunks))
    return sorted({int(index) for index in np.linspace(0, full_chunks - 1, MAX_CHUNKS).round()})


def learn_bounds(reference: StoredRows, compute: Callable[[StoredRows], Iterable[MetricPoint]],
                 multipliers: Mapping[str, float], *, chunk_size: int) -> dict[Key, LearnedBounds]:
    """The learned thresholds of every (metric, feature) that ``compute`` gives on reference chunks.

    ``compute`` computes a window's points from its rows; only the metrics named in
    ``multipliers`` (metric → k) are learned. Raises :class:`MetricError` when the
    reference is shorter than :data:`MIN_CHUNKS` chunks.
    """
    full_chunks = len(reference) // chunk_size
    if full_chunks < MIN_CHUNKS:
        raise MetricError(f"a threshold learned from the reference needs at least {MIN_CHUNKS} chunks of "
                          f"{chunk_size} rows (the window's size), so {MIN_CHUNKS * chunk_size} reference rows, "
                          f"but the reference has {len(reference)}; use a bigger reference or longer windows")
    starts = _starts(full_chunks)
    values: dict[Key, list[float]] = {}
    for position, index in enumerate(starts):
        for point in compute(_chunk(reference, index * chunk_size, chunk_size)):
            if point.metric in multipliers:
                series = values.setdefault((point.metric, point.feature), [math.nan] * len(starts))
                series[position] = float(point.value)
    learned: dict[Key, LearnedBounds] = {}
    for (metric, feature), series in values.items():
        multiplier = multipliers[metric]
        data = np.asarray(series, dtype=float)
        defined = int(np.isfinite(data).sum())
        if defined < MIN_CHUNKS:
            reason = (f"only {defined} of {len(starts)} reference chunks of {chunk_size} rows give {metric} "
                      f"(at least {MIN_CHUNKS} are needed); the reference lacks what it takes (labels, "
                      "scores, latencies) or use longer windows")
            learned[(metric, feature)] = LearnedBounds(None, None, chunk_size, len(starts), math.nan, math.nan,
                                                       multiplier, reason=reason)
            continue
        low_limit, high_limit = metric_limits(metric)
        lower, upper = reference_thresholds(data, multiplier=multiplier, lower_limit=low_limit,
                                            upper_limit=high_limit, drop_at_limit=True, name=metric)
        with np.errstate(all="ignore"):
            mean, std = float(np.nanmean(data)), float(np.nanstd(data))
        lower, upper, binomial = _widened(metric, lower, upper, mean, chunk_size, multiplier)
        learned[(metric, feature)] = LearnedBounds(lower, upper, chunk_size, len(starts), mean, std, multiplier,
                                                   binomial=binomial)
    return learned


def apply_learned(points: Iterable[MetricPoint], learned: Mapping[Key, LearnedBounds] | None,
                  multipliers: Mapping[str, float], *, reason: str | None = None) -> list[MetricPoint]:
    """``points`` with the learned thresholds of their metric (see the module docstring).

    ``learned`` None (``reason`` says why) marks every configured metric's point as
    not learned. A configured point the reference gave no chunk value for (a class the
    reference never predicts) is marked too.
    """
    result: list[MetricPoint] = []
    for point in points:
        if point.metric not in multipliers:
            result.append(point)
            continue
        bounds = None if learned is None else learned.get((point.metric, point.feature))
        if bounds is None or bounds.reason is not None:
            why = (bounds.reason if bounds is not None and bounds.reason is not None
                   else reason or f"the reference chunks give no {point.metric} for this "
                                  f"{'class' if point.metric == 'class_share' else 'feature'}")
            result.append(MetricPoint(point.metric, point.value, feature=point.feature, threshold=point.threshold,
                                      is_breach=point.is_breach,
                                      details={**point.details, "threshold_not_learned": why}))
            continue
        value = float(point.value)
        breach = None if math.isnan(value) else (
            (bounds.lower is not None and value < bounds.lower) or (bounds.upper is not None and value > bounds.upper))
        result.append(MetricPoint(point.metric, point.value, feature=point.feature,
                                  threshold=bounds.upper if bounds.upper is not None else bounds.lower,
                                  is_breach=breach, details={**point.details, **bounds.details()}))
    return result


def cached_bounds(cache: MutableMapping[tuple[Any, ...], dict[Key, LearnedBounds]], key: tuple[Any, ...] | None,
                  learn: Callable[[], dict[Key, LearnedBounds]], *, max_size: int = 256) -> dict[Key, LearnedBounds]:
    """``learn()``, remembered under ``key`` (None: not cached)."""
    if key is None:
        return learn()
    found = cache.get(key)
    if found is None:
        if len(cache) >= max_size:
            cache.clear()
        found = cache[key] = learn()
    return found
