"""Dataset drift: every configured feature tested, and the share that drifted.

Mirrors Evidently's ``DataDriftPreset`` / ``DatasetDriftMetric``: a per-feature
method and threshold override the global ones, which override the automatic
choice and the method default; the dataset drifts when the share of drifted
features is at least ``drift_share`` (``>=``, as in Evidently).

A feature whose score is NaN is *not judged* (no values left, a statistic undefined
on these samples). Evidently counts it as not drifted; we never let it make an "all
clear": the dataset verdict is ``True`` when the drifted features alone reach
``drift_share``, ``False`` only when they would stay below it even if every
unjudged feature had drifted, and ``None`` (not judged) otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import pandas as pd

from monitor.errors import MetricError
from monitor.metrics.drift.auto import AUTO
from monitor.metrics.drift.feature import FeatureDriftResult, compute_feature_drift
from monitor.metrics.drift.feature_type import FeatureType, check_feature_type
from monitor.metrics.drift.learned import REFERENCE, ThresholdLearning
from monitor.metrics.drift.registry import get_method

__all__ = ["DEFAULT_DRIFT_SHARE", "DatasetDriftResult", "compute_dataset_drift", "dataset_verdict"]

DEFAULT_DRIFT_SHARE: Final = 0.5
_PER_FEATURE_KEYS: Final = frozenset({"method", "threshold"})


@dataclass(frozen=True, slots=True)
class DatasetDriftResult:
    """Per-feature results plus the dataset verdict.

    ``drift_share`` is the measured share of drifted features among all features
    (NaN when the verdict is not judged); ``drift_share_threshold`` the configured
    share at which the dataset drifts. ``dataset_drift`` is None when unjudged
    features leave the verdict open (see the module docstring).
    """

    features: tuple[FeatureDriftResult, ...]
    drift_share: float
    drift_share_threshold: float
    dataset_drift: bool | None
    number_of_drifted: int

    @property
    def number_of_features(self) -> int:
        return len(self.features)

    @property
    def not_judged(self) -> tuple[FeatureDriftResult, ...]:
        """The features whose test gave no score (each says why in ``not_judged_reason``)."""
        return tuple(feature for feature in self.features if not feature.judged)


@dataclass(frozen=True, slots=True)
class _FeaturePlan:
    feature: str
    feature_type: FeatureType
    method: str
    threshold: float | str | None


def compute_dataset_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    feature_types: Mapping[str, str],
    method: str = AUTO,
    threshold: float | str | None = None,
    per_feature: Mapping[str, Mapping[str, Any]] | None = None,
    drift_share: float = DEFAULT_DRIFT_SHARE,
    learning: ThresholdLearning | None = None,
    min_fixed_distance_values: int = 0,
    run: Callable[[Sequence[Callable[[], FeatureDriftResult]]], Sequence[FeatureDriftResult]] | None = None,
) -> DatasetDriftResult:
    """Test every feature of ``feature_types`` (name -> "numeric"/"categorical").

    ``per_feature`` maps a feature to ``{"method": ..., "threshold": ...}`` (either
    key optional) as in the config's ``drift.per_feature``. A threshold
    ``"reference"`` is learned from reference chunks as ``learning`` says (see
    :mod:`monitor.metrics.drift.learned`); ``min_fixed_distance_values``: see
    :func:`~monitor.metrics.drift.feature.compute_feature_drift`. Every parameter is checked before any
    statistic runs. ``run`` runs the per-feature tests (one task each) and returns their results in
    order; by default one after the other (the window job shares them between two threads).

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> ref = pd.DataFrame({"x": rng.normal(size=300), "c": ["a", "b"] * 150})
    >>> cur = pd.DataFrame({"x": rng.normal(2.0, size=300), "c": ["b", "a"] * 150})
    >>> result = compute_dataset_drift(ref, cur, feature_types={"x": "numeric", "c": "categorical"})
    >>> [(f.feature, f.method, f.drifted) for f in result.features]
    [('x', 'ks', True), ('c', 'z', False)]
    >>> result.drift_share, result.dataset_drift  # 1 of 2 features; drifts at >= 0.5
    (0.5, True)
    """
    plans = _plan(
        reference, current, feature_types=feature_types, method=method, threshold=threshold, per_feature=per_feature
    )
    if learning is None and any(plan.threshold == REFERENCE for plan in plans):
        raise MetricError("threshold 'reference' needs the chunk size to learn it from (learning=...)")
    _check_drift_share(drift_share)
    tasks = [
        partial(
            compute_feature_drift,
            reference[plan.feature],
            current[plan.feature],
            feature=plan.feature,
            feature_type=plan.feature_type,
            method=plan.method,
            threshold=plan.threshold,
            learning=learning,
            min_fixed_distance_values=min_fixed_distance_values,
        )
        for plan in plans
    ]
    features = tuple(run(tasks) if run is not None else [task() for task in tasks])
    number_of_drifted = sum(1 for feature in features if feature.drifted)
    verdict = dataset_verdict(
        number_of_drifted, sum(1 for feature in features if not feature.judged), len(features), drift_share
    )
    return DatasetDriftResult(
        features=features,
        drift_share=math.nan if verdict is None else number_of_drifted / len(features),
        drift_share_threshold=float(drift_share),
        dataset_drift=verdict,
        number_of_drifted=number_of_drifted,
    )


def dataset_verdict(drifted: int, not_judged: int, features: int, drift_share: float) -> bool | None:
    """Drift when the drifted features reach ``drift_share`` of all features; no drift
    only when they would not even if every unjudged feature drifted; else None.

    >>> dataset_verdict(2, 1, 4, 0.5), dataset_verdict(0, 1, 4, 0.5), dataset_verdict(1, 1, 4, 0.5)
    (True, False, None)
    >>> dataset_verdict(0, 3, 3, 0.5)  # nothing could be judged
    """
    if drifted / features >= drift_share:
        return True
    if (drifted + not_judged) / features >= drift_share:
        return None
    return False


def _plan(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    feature_types: Mapping[str, str],
    method: str,
    threshold: float | str | None,
    per_feature: Mapping[str, Mapping[str, Any]] | None,
) -> list[_FeaturePlan]:
    if not feature_types:
        raise MetricError("feature_types is empty; name at least one feature and its type ('numeric' or 'categorical')")
    if method != AUTO:
        get_method(method)
    per_feature = per_feature or {}
    unknown = sorted(set(per_feature) - set(feature_types))
    if unknown:
        raise MetricError(
            f"per_feature names {unknown} which are not features; use names from: {sorted(feature_types)}"
        )
    for name, frame in (("reference", reference), ("current", current)):
        missing = [feature for feature in feature_types if feature not in frame.columns]
        if missing:
            raise MetricError(f"the {name} data has no column(s) {missing}; add them or remove them from the features")
    plans = []
    for feature, raw_type in feature_types.items():
        options = per_feature.get(feature, {})
        if not isinstance(options, Mapping):
            raise MetricError(
                f"per_feature[{feature!r}] must be a mapping like {{method: psi, threshold: 0.2}}, got {options!r}"
            )
        bad_keys = sorted(set(options) - _PER_FEATURE_KEYS)
        if bad_keys:
            raise MetricError(f"per_feature[{feature!r}] has unknown key(s) {bad_keys}; allowed: 'method', 'threshold'")
        plan = _FeaturePlan(
            feature=feature,
            feature_type=check_feature_type(raw_type, feature=feature),
            method=options.get("method") or method,
            threshold=options["threshold"] if options.get("threshold") is not None else threshold,
        )
        if isinstance(plan.threshold, str) and plan.threshold != REFERENCE:
            raise MetricError(f"drift threshold for feature {feature!r} must be a number or 'reference', "
                              f"got {plan.threshold!r}")
        if plan.method != AUTO:
            chosen = get_method(plan.method)
            chosen.check_applies_to(plan.feature_type, feature=feature)
            if not isinstance(plan.threshold, str):
                chosen.resolve_threshold(plan.threshold, feature=feature)
        plans.append(plan)
    return plans


def _check_drift_share(drift_share: float) -> None:
    if (
        isinstance(drift_share, bool)
        or not isinstance(drift_share, (int, float))
        or not math.isfinite(drift_share)
        or not 0 < drift_share <= 1
    ):
        raise MetricError(
            f"drift_share must be a share of features in (0, 1], got {drift_share!r}; "
            f"e.g. {DEFAULT_DRIFT_SHARE} means the dataset drifts when half the features drift"
        )
