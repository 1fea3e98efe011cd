"""Drift of one feature: pick the method (or Evidently's automatic choice), run it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.errors import MetricError
from monitor.metrics.drift.auto import AUTO, choose_method_for_samples
from monitor.metrics.drift.feature_type import FeatureType, check_feature_type
from monitor.metrics.drift.learned import REFERENCE, ThresholdLearning, learn_threshold
from monitor.metrics.drift.registry import get_method
from monitor.metrics.drift.sample import FeatureValues, clean_sample

__all__ = ["MIN_FIXED_DISTANCE_VALUES", "FeatureDriftResult", "compute_feature_drift", "too_few_for_fixed_distance"]

# Below this many current values a distance with a fixed threshold flags most *clean* samples by sampling noise
# alone (200 draws from the reference itself: at 100 values Wasserstein > 0.1 in 68 % of them, PSI in 76 %; at 30
# values in 99-100 %, Jensen-Shannon in 68 %), so its verdict says nothing about drift. P-value tests account for
# the sample size (about 2-4 % false alarms at 10-30 values) and stay judged; so does a learned threshold.
MIN_FIXED_DISTANCE_VALUES = 100


def too_few_for_fixed_distance(method: str, threshold: float, values: int) -> str:
    """Why a fixed-threshold distance is not judged on ``values`` current values.

    >>> too_few_for_fixed_distance("wasserstein", 0.1, 30)[:60]
    'only 30 values: too few for wasserstein with a fixed thresho'
    """
    return (f"only {values} values: too few for {method} with a fixed threshold ({threshold:g}); clean samples "
            f"under {MIN_FIXED_DISTANCE_VALUES} values exceed it by sampling noise alone, so the verdict would "
            "be noise; use drift.threshold: reference (learned for this window's size) or longer windows")


@dataclass(frozen=True, slots=True)
class FeatureDriftResult:
    """Drift verdict for one feature in one window.

    ``score`` is a p-value or a distance depending on ``method`` (an Evidently key);
    it may be NaN: then the feature is *not judged* (``judged`` False), ``drifted`` is
    False but means nothing, and ``details["reason"]`` says why.
    ``details`` also holds ``p_value`` or ``distance``, ``n_reference``,
    ``n_current`` and ``auto`` (whether the method was chosen automatically).
    """

    feature: str
    feature_type: FeatureType
    method: str
    score: float
    threshold: float
    drifted: bool
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def judged(self) -> bool:
        """False when the test gave no score: the feature was not judged (never "no drift")."""
        return not math.isnan(self.score)

    @property
    def not_judged_reason(self) -> str | None:
        """Why the feature was not judged (None when it was)."""
        if self.judged:
            return None
        return str(self.details.get("reason") or "the drift test gave no score")


def compute_feature_drift(
    reference: FeatureValues,
    current: FeatureValues,
    *,
    feature: str,
    feature_type: FeatureType,
    method: str = AUTO,
    threshold: float | str | None = None,
    learning: ThresholdLearning | None = None,
    min_fixed_distance_values: int = 0,
) -> FeatureDriftResult:
    """Compare one feature's current values with its reference values.

    ``min_fixed_distance_values`` (the service: :data:`MIN_FIXED_DISTANCE_VALUES`): a
    distance with a fixed threshold on fewer current values is not judged, with the reason.

    Missing and infinite values are dropped first, as Evidently does. ``method``
    is ``"auto"`` (Evidently's rule) or an Evidently key; ``threshold`` None means
    the method's default, ``"reference"`` a threshold learned from chunks of the
    reference as ``learning`` says (:mod:`monitor.metrics.drift.learned`; raises
    :class:`MetricError` when the reference is too small for it).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> result = compute_feature_drift(rng.normal(size=500), rng.normal(1.0, size=500),
    ...                                feature="amount", feature_type="numeric")
    >>> result.method, result.drifted
    ('ks', True)
    """
    if not isinstance(feature, str) or not feature:
        raise MetricError(f"feature must be a non-empty column name, got {feature!r}")
    feature_type = check_feature_type(feature_type, feature=feature)
    learned = threshold == REFERENCE
    if learned and learning is None:
        raise MetricError(f"threshold 'reference' for feature {feature!r} needs the chunk size to learn it from")
    if isinstance(threshold, str) and not learned:
        raise MetricError(f"drift threshold for feature {feature!r} must be a number or 'reference', "
                          f"got {threshold!r}")
    fixed = None if isinstance(threshold, str) else threshold
    if method != AUTO:
        chosen = get_method(method)
        chosen.check_applies_to(feature_type, feature=feature)
        chosen.resolve_threshold(fixed, feature=feature)
    reference_sample = clean_sample(reference, feature_type, feature=feature)
    current_sample = clean_sample(current, feature_type, feature=feature)
    if method == AUTO:
        chosen = choose_method_for_samples(reference_sample, current_sample, feature_type=feature_type)
    extra: dict[str, Any] = {}
    if learned:
        assert learning is not None
        try:
            learnt = learn_threshold(reference_sample, chosen, feature_type=feature_type, learning=learning,
                                     feature=feature)
        except MetricError as exc:
            # No threshold, no verdict: the feature is not judged (never "no drift"), and says why.
            reason = f"no threshold could be learned from the reference: {exc}"
            return FeatureDriftResult(
                feature=feature, feature_type=feature_type, method=chosen.name, score=math.nan, threshold=math.nan,
                drifted=False, details={"method": chosen.name, "threshold": None, "auto": method == AUTO,
                                        "threshold_source": REFERENCE, "reason": reason},
            )
        fixed, extra = learnt.threshold, learnt.details()
    resolved = chosen.resolve_threshold(fixed, feature=feature)
    if (not learned and chosen.score_kind == "distance" and 0 < len(current_sample) < min_fixed_distance_values
            and len(reference_sample) > 0):
        reason = too_few_for_fixed_distance(chosen.name, resolved, len(current_sample))
        return FeatureDriftResult(
            feature=feature, feature_type=feature_type, method=chosen.name, score=math.nan, threshold=resolved,
            drifted=False, details={"method": chosen.name, "threshold": resolved, "auto": method == AUTO,
                                    "n_reference": len(reference_sample), "n_current": len(current_sample),
                                    "reason": reason},
        )
    outcome = chosen.evaluate(
        reference_sample,
        current_sample,
        feature_type=feature_type,
        threshold=resolved,
    )
    drifted = outcome.drifted
    if learned:
        # Drift is a score *beyond* the learned threshold: one equal to it is not (a column constant in the
        # reference and the window, e.g. a segment's own column, learns a distance threshold of 0 and scores 0).
        drifted = drifted and outcome.score != outcome.threshold
    return FeatureDriftResult(
        feature=feature,
        feature_type=feature_type,
        method=chosen.name,
        score=outcome.score,
        threshold=outcome.threshold,
        drifted=drifted,
        details={"method": chosen.name, "threshold": outcome.threshold, "auto": method == AUTO, **extra,
                 **outcome.details},
    )
