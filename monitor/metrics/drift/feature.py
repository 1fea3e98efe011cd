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

__all__ = ["FeatureDriftResult", "compute_feature_drift"]


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
) -> FeatureDriftResult:
    """Compare one feature's current values with its reference values.

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
    outcome = chosen.evaluate(
        reference_sample,
        current_sample,
        feature_type=feature_type,
        threshold=chosen.resolve_threshold(fixed, feature=feature),
    )
    return FeatureDriftResult(
        feature=feature,
        feature_type=feature_type,
        method=chosen.name,
        score=outcome.score,
        threshold=outcome.threshold,
        drifted=outcome.drifted,
        details={"method": chosen.name, "threshold": outcome.threshold, "auto": method == AUTO, **extra,
                 **outcome.details},
    )
