"""What a drift method is: a named statistic, its default threshold and its drift rule.

Every method is a :class:`DriftMethod` value wrapping a pure ``compute`` function
that maps two clean, non-empty samples to a :class:`Statistic`. The method owns
what all tests share: dropping missing values, refusing a feature type the test
does not apply to, the empty-sample case, and turning the score into a verdict with
Evidently's comparison for that test (``p < threshold`` for most p-value tests but
``p <= threshold`` for K-S and Cramer-von Mises; ``distance >= threshold`` for most
distances but ``distance > threshold`` for the energy distance).
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

from monitor.errors import MetricError
from monitor.metrics.drift.feature_type import FeatureType, check_feature_type
from monitor.metrics.drift.sample import FeatureValues, Sample, as_values, clean_sample

__all__ = [
    "DriftMethod",
    "DriftRule",
    "MethodOutcome",
    "ScoreKind",
    "Statistic",
    "captured_warnings",
    "undefined",
]

ScoreKind: TypeAlias = Literal["p_value", "distance"]
DriftRule: TypeAlias = Literal["<", "<=", ">=", ">"]

_COMPARE: Final[Mapping[DriftRule, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">=": operator.ge,
    ">": operator.gt,
}


@dataclass(frozen=True, slots=True)
class Statistic:
    """A method's raw answer: the score, plus JSON-ready notes (``reason`` when NaN)."""

    score: float
    details: Mapping[str, Any] = field(default_factory=dict)


def undefined(reason: str) -> Statistic:
    """A NaN score with the reason the statistic cannot be computed."""
    return Statistic(math.nan, {"reason": reason})


@dataclass(frozen=True, slots=True)
class MethodOutcome:
    """Score, verdict and details of one method on one pair of samples.

    ``details`` holds ``p_value`` or ``distance`` (the score again, named),
    ``n_reference`` and ``n_current`` (after dropping missing values) and, when the
    score is NaN, ``reason``. A NaN score never counts as drift (as in Evidently).
    """

    score: float
    drifted: bool
    threshold: float
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DriftMethod:
    """One drift test, named by Evidently's method key (``ks``, ``psi``, ...)."""

    name: str
    display_name: str
    score_kind: ScoreKind
    feature_types: tuple[FeatureType, ...]
    default_threshold: float
    drift_rule: DriftRule
    compute: Callable[[Sample, Sample, FeatureType], Statistic] = field(repr=False)
    counts_categories: bool = False
    """Whether ``compute`` only counts categories (:func:`count_categories`), so it may
    take a categorical sample as a ``pandas.Categorical``; others get an object array."""

    def __call__(
        self,
        reference: FeatureValues,
        current: FeatureValues,
        *,
        feature_type: FeatureType,
        threshold: float | None = None,
        feature: str = "feature",
    ) -> MethodOutcome:
        """Drop missing values from both samples, run the test, decide drift.

        Raises :class:`MetricError` when the method does not apply to
        ``feature_type`` or ``threshold`` is invalid; an uncomputable score (empty
        sample, constant data, ...) is NaN with a ``reason`` instead.
        """
        feature_type = check_feature_type(feature_type, feature=feature)
        self.check_applies_to(feature_type, feature=feature)
        return self.evaluate(
            clean_sample(reference, feature_type, feature=feature),
            clean_sample(current, feature_type, feature=feature),
            feature_type=feature_type,
            threshold=self.resolve_threshold(threshold, feature=feature),
        )

    def evaluate(
        self, reference: Sample, current: Sample, *, feature_type: FeatureType, threshold: float
    ) -> MethodOutcome:
        """Run the test on samples already cleaned by :func:`clean_sample`.

        Does not check that the method applies to ``feature_type``: Evidently's
        automatic choice runs ``z`` and ``chisquare`` on numeric features with few
        values, and so do we.
        """
        if len(reference) == 0 or len(current) == 0:
            empty = "reference" if len(reference) == 0 else "current"
            statistic = undefined(f"the {empty} sample has no values left after dropping missing values")
        else:
            if not self.counts_categories:
                reference, current = as_values(reference), as_values(current)
            statistic = self.compute(reference, current, feature_type)
        score = float(statistic.score)
        if math.isnan(score) and "reason" not in statistic.details:
            statistic = Statistic(
                score, {**statistic.details, "reason": f"{self.display_name} is undefined for these samples"}
            )
        details: dict[str, Any] = {
            self.score_kind: score,
            "n_reference": len(reference),
            "n_current": len(current),
            **statistic.details,
        }
        return MethodOutcome(
            score=score,
            drifted=_COMPARE[self.drift_rule](score, threshold),
            threshold=threshold,
            details=details,
        )

    def check_applies_to(self, feature_type: FeatureType, *, feature: str = "feature") -> None:
        """Raise :class:`MetricError` unless this method tests ``feature_type`` features."""
        if feature_type not in self.feature_types:
            kinds = " and ".join(self.feature_types)
            raise MetricError(
                f"drift method {self.name!r} applies to {kinds} features only, but feature {feature!r} "
                f"is {feature_type}; choose another method for it (drift.per_feature in the config, --feature-method "
                f"on the command line) or 'auto'"
            )

    def resolve_threshold(self, threshold: float | None, *, feature: str = "feature") -> float:
        """The method's default when ``threshold`` is None; else ``threshold``, validated."""
        if threshold is None:
            return self.default_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise MetricError(
                f"drift threshold for feature {feature!r} must be a finite number, got {threshold!r}; "
                f"use e.g. {self.default_threshold} (the {self.name!r} default) or null"
            )
        if threshold < 0 or (self.score_kind == "p_value" and threshold > 1):
            allowed = "between 0 and 1" if self.score_kind == "p_value" else "at least 0"
            raise MetricError(
                f"drift threshold {threshold} for feature {feature!r} is out of range: {self.name!r} compares "
                f"a {self.score_kind.replace('_', '-')} with it, so it must be {allowed}"
            )
        return float(threshold)


@contextmanager
def captured_warnings(details: dict[str, Any]) -> Iterator[None]:
    """Record warnings raised inside (scipy's capped p-values, precision loss) in ``details``.

    They belong to this one statistic, so they travel with its result instead of
    going to the log once per window. (Before Python 3.14 the warning filters are
    process-wide, so a warning another thread raises meanwhile may land here too.)
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    messages = sorted({str(warning.message) for warning in caught})
    if messages:
        details["warnings"] = messages
