"""Drift strength: every drift score on one scale, so colours mean the same across tests.

A K-S p-value of 0.01 and a PSI of 0.3 are not comparable numbers; their distance
to each method's threshold is. The *relative score* ``r`` measures that distance
in the drift direction of the method:

- distances (PSI, Wasserstein, Jensen-Shannon, ...: drift when the score is high):
  ``r = score / threshold``;
- p-values (K-S, chi-square, Z, ...: drift when the score is low):
  ``r = log(p) / log(threshold)``, the order of magnitude of the evidence
  (p = 1 gives 0, p = threshold gives 1, p = threshold² gives 2).

The *drift strength* is ``min(r / 2, 1)``: 0 is no sign of drift, **0.5 is exactly
at the threshold**, 1.0 is twice past it (a distance of twice the threshold, or a
p-value of threshold², e.g. 0.0025 for 0.05) or more. NaN scores (not computable)
stay NaN and are drawn grey.
"""

from __future__ import annotations

import math
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

__all__ = ["AT_THRESHOLD", "DRIFT_SCORES", "KIND_NOTES", "P_VALUE_METHODS", "STRENGTH_RULE", "ScoreKind",
           "drift_strength", "score_kind", "score_kind_of", "strength_series"]

ScoreKind: TypeAlias = Literal["p_value", "distance"]

AT_THRESHOLD = 0.5
# Evidently's method keys whose score is a p-value (see monitor/metrics/drift/registry.py;
# a test keeps this set in step with it). Every other method scores a distance.
P_VALUE_METHODS: frozenset[str] = frozenset(
    {"ks", "chisquare", "z", "fisher_exact", "g_test", "anderson", "cramer_von_mises", "mannw", "t_test", "es",
     "epps_singleton", "TVD", "empirical_mmd"}
)
_SMALLEST_P = 1e-300
# Metrics whose value is a drift test's score: a p-value or a distance, depending on the test.
DRIFT_SCORES = frozenset({"feature_drift_score", "prediction_drift_score", "label_drift_score"})
# label_drift_score is always a p-value (chi-square or K-S on the labels).
_P_VALUE_METRICS = frozenset({"label_drift_score"})
KIND_NOTES: dict[str, str] = {"p_value": "p-value, lower = drift", "distance": "distance, higher = drift"}

STRENGTH_RULE = (
    "Colour = drift strength, the score measured against its method's threshold: 0 = no sign of drift, "
    "**0.5 = exactly at the threshold**, 1 = twice past it. Distances (PSI, Wasserstein, …) use "
    "score ÷ threshold; p-values (K-S, chi-square, …) use log(p) ÷ log(threshold), so a p-value of "
    "threshold² (0.0025 for 0.05) counts as twice past. Grey = not computable."
)


def score_kind(method: str | None) -> ScoreKind:
    """Whether ``method`` scores a p-value (low = drift) or a distance (high = drift).

    >>> score_kind("ks"), score_kind("psi")
    ('p_value', 'distance')
    """
    return "p_value" if method in P_VALUE_METHODS else "distance"


def score_kind_of(metric: str, method: object = None, p_value: object = None, value: object = None,
                  threshold: object = None, breach: object = None) -> ScoreKind | None:
    """What a stored drift score is: from its test (``details.method``), from a
    ``details.p_value`` equal to it, from the metric, or else from how it compares
    with its threshold when it breached. None for other metrics, or when nothing tells.

    >>> score_kind_of("prediction_drift_score", "psi"), score_kind_of("label_drift_score")
    ('distance', 'p_value')
    >>> score_kind_of("feature_drift_score", None, 0.01, 0.01)
    'p_value'
    >>> score_kind_of("feature_drift_score", None, None, 0.3, 0.1, True)
    'distance'
    >>> score_kind_of("feature_drift_score") is None, score_kind_of("error_rate", "ks") is None
    (True, True)
    """
    if metric not in DRIFT_SCORES:
        return None
    if isinstance(method, str) and method:
        return score_kind(method)
    number = _finite(value)
    if number is not None and _finite(p_value) == number:
        return "p_value"
    if metric in _P_VALUE_METRICS:
        return "p_value"
    limit = _finite(threshold)
    if number is None or limit is None or number == limit or breach is None or pd.isna(breach):
        return None
    breached = bool(breach)
    return "p_value" if (number < limit) == breached else "distance"


def _finite(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def drift_strength(score: float | None, threshold: float | None, kind: ScoreKind) -> float:
    """The drift strength in [0, 1] of one score (NaN when it cannot be told).

    >>> drift_strength(0.05, 0.05, "p_value"), drift_strength(0.1, 0.1, "distance")
    (0.5, 0.5)
    >>> round(drift_strength(0.0025, 0.05, "p_value"), 6), drift_strength(1.0, 0.05, "p_value")
    (1.0, 0.0)
    >>> drift_strength(0.05, 0.1, "distance"), drift_strength(0.9, 0.1, "distance")
    (0.25, 1.0)
    """
    if score is None or threshold is None or not math.isfinite(score) or not math.isfinite(threshold):
        return math.nan
    if kind == "p_value":
        p = min(max(score, _SMALLEST_P), 1.0)
        if threshold <= 0:
            return 0.0  # nothing is ever below a zero threshold
        if threshold >= 1:
            return 1.0 if p < 1 else 0.0
        relative = math.log(p) / math.log(threshold)
    else:
        if threshold <= 0:
            return 1.0 if score > 0 else 0.0
        relative = score / threshold
    if relative <= 0:
        return 0.0
    return min(relative / 2.0, 1.0)


def strength_series(scores: pd.Series, thresholds: pd.Series, methods: pd.Series) -> pd.Series:
    """:func:`drift_strength` for aligned columns of scores, thresholds and method keys."""
    values = [
        drift_strength(
            None if pd.isna(score) else float(score),
            None if pd.isna(threshold) else float(threshold),
            score_kind(None if pd.isna(method) else str(method)),
        )
        for score, threshold, method in zip(scores, thresholds, methods, strict=True)
    ]
    return pd.Series(np.asarray(values, dtype=float), index=scores.index, name="strength")
