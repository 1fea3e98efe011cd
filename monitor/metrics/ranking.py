"""Which feature to look at first: features ranked by how their drift tracks the performance drop.

Over the recent windows of a model version (this one and up to :data:`HISTORY_WINDOWS`
- 1 before it), each feature's drift is put on one scale whatever the test (the
*relative score*: a distance over its threshold, or ``log p / log threshold`` for a
p-value test, so 1 is at the threshold and more is further into drift) and correlated
(Pearson) with the drop of the model's performance (the estimated metric when there is
one, else the realized metric from the labels; a drop is a fall of ROC AUC or accuracy,
a rise of MAE). Features are ranked by that correlation, highest first: the feature whose
drift rises and falls with the performance drop is the first suspect. NannyML's
correlation ranker does the same over chunks (with the absolute change from the
reference mean).

Limits: correlation is not causation (two features drifting together rank together, and
a feature that drifts because of the same upstream change as the one that hurts the
model ranks as high); at least :data:`MIN_WINDOWS` windows with both a drift score and
a performance value are needed; a feature whose drift never changes (or performance
that never changes) has no correlation and is not ranked. ``look_first`` names the top
feature only when its correlation is at least :data:`MIN_CORRELATION`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "HISTORY_WINDOWS",
    "MIN_CORRELATION",
    "MIN_WINDOWS",
    "PERFORMANCE_METRICS",
    "FeatureRanking",
    "rank_features",
    "relative_score",
]

HISTORY_WINDOWS = 24
MIN_WINDOWS = 5
MIN_CORRELATION = 0.5
_SMALLEST_P = 1e-300
# Per task, the performance metrics a ranking can follow, first found first: (metric, higher is better).
PERFORMANCE_METRICS: dict[str, tuple[tuple[str, bool], ...]] = {
    "binary_classification": (("estimated_roc_auc", True), ("roc_auc", True), ("estimated_accuracy", True),
                              ("accuracy", True)),
    "multiclass_classification": (("accuracy", True), ("f1", True)),
    "regression": (("estimated_mae", False), ("mae", False), ("estimated_rmse", False), ("rmse", False)),
}


def relative_score(score: float, threshold: float | None, *, p_value: bool) -> float:
    """A drift score on one scale: 1 at the threshold, more = further into drift.

    >>> relative_score(0.2, 0.1, p_value=False), relative_score(0.0025, 0.05, p_value=True)
    (2.0, 2.0)
    >>> math.isnan(relative_score(0.2, None, p_value=False))
    True
    """
    if threshold is None or not math.isfinite(score) or not math.isfinite(threshold) or threshold <= 0:
        return math.nan
    if p_value:
        if threshold >= 1:
            return math.nan
        return math.log(max(score, _SMALLEST_P)) / math.log(threshold)
    return score / threshold


@dataclass(frozen=True, slots=True)
class FeatureRanking:
    """The ranking of one window (``features`` best first), or why there is none (``reason``)."""

    performance_metric: str | None
    windows: int
    features: tuple[tuple[str, float], ...]  # (feature, correlation), highest correlation first
    reason: str | None = None

    @property
    def look_first(self) -> str | None:
        if self.features and self.features[0][1] >= MIN_CORRELATION:
            return self.features[0][0]
        return None

    def details(self) -> dict[str, Any]:
        """JSON for ``details.ranking``."""
        return {
            "method": "correlation", "performance_metric": self.performance_metric, "windows": self.windows,
            "look_first": self.look_first,
            "features": [{"feature": name, "rank": index + 1, "correlation": round(correlation, 6)}
                         for index, (name, correlation) in enumerate(self.features)],
            **({"reason": self.reason} if self.reason else {}),
        }


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or float(np.std(x)) == 0.0 or float(np.std(y)) == 0.0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def rank_features(drift: Mapping[str, Sequence[float]], performance: Sequence[float], *, metric: str,
                  higher_is_better: bool) -> FeatureRanking:
    """Rank features by the correlation of their relative drift score with the performance drop.

    ``drift`` maps each feature to its relative scores, window by window, aligned with
    ``performance`` (NaN where a window has none).

    >>> ranking = rank_features({"amount": [0.5, 1, 2, 3, 4], "age": [1, 0.5, 1, 0.5, 1]},
    ...                         [0.9, 0.88, 0.8, 0.75, 0.7], metric="roc_auc", higher_is_better=True)
    >>> ranking.look_first, [name for name, _ in ranking.features]
    ('amount', ['amount', 'age'])
    """
    values = np.asarray(performance, dtype=float)
    drop = -values if higher_is_better else values
    usable = int(np.isfinite(values).sum())
    if usable < MIN_WINDOWS:
        return FeatureRanking(metric, usable, (), reason=f"{usable} window(s) with {metric}; at least {MIN_WINDOWS} "
                                                         "are needed to rank features")
    ranked: list[tuple[str, float]] = []
    windows = 0
    for feature, scores in drift.items():
        series = np.asarray(scores, dtype=float)
        both = np.isfinite(series) & np.isfinite(drop)
        if int(both.sum()) < MIN_WINDOWS:
            continue
        correlation = _correlation(series[both], drop[both])
        if math.isfinite(correlation):
            ranked.append((feature, correlation))
            windows = max(windows, int(both.sum()))
    ranked.sort(key=lambda item: (-item[1], item[0]))
    if not ranked:
        reason = (f"no feature's drift score and {metric} vary together over {usable} windows (both must change "
                  "to be correlated)")
        return FeatureRanking(metric, usable, (), reason=reason)
    return FeatureRanking(metric, windows, tuple(ranked))
