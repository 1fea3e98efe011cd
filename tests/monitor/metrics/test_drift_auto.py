"""Evidently's automatic method choice, reproduced: same method and same score.

The rule's edges are tested on both sides: 1000 vs 1001 reference rows (counted
after missing values are dropped), 2 vs 3 and 5 vs 6 distinct values (counted over
reference and current together), numeric and categorical.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from monitor.metrics.drift import FeatureType, choose_method, compute_feature_drift

from .drift_samples import CATEGORICAL_SAMPLES, NUMERIC_SAMPLES, SamplePair
from .evidently_drift import assert_same_score, evidently_column_drift


def _cycle(values: list[Any], size: int, seed: int) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).permutation(np.resize(np.array(values, dtype=object), size))


def _numeric_values(n_values: int, size: int, seed: int) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).integers(0, n_values, size).astype(float)


# (feature type, reference, current, method Evidently picks)
EDGES: dict[str, tuple[FeatureType, Callable[[], np.ndarray[Any, Any]], Callable[[], np.ndarray[Any, Any]], str]] = {
    "num-1000-rows-6-values": (
        "numeric",
        lambda: _numeric_values(6, 1000, 1),
        lambda: _numeric_values(6, 400, 2),
        "ks",
    ),
    "num-1001-rows-6-values": (
        "numeric",
        lambda: _numeric_values(6, 1001, 3),
        lambda: _numeric_values(6, 400, 4),
        "wasserstein",
    ),
    "num-1000-rows-5-values": (
        "numeric",
        lambda: _numeric_values(5, 1000, 5),
        lambda: _numeric_values(5, 400, 6),
        "chisquare",
    ),
    "num-1001-rows-5-values": (
        "numeric",
        lambda: _numeric_values(5, 1001, 7),
        lambda: _numeric_values(5, 400, 8),
        "jensenshannon",
    ),
    "num-3-values": ("numeric", lambda: _numeric_values(3, 300, 9), lambda: _numeric_values(3, 200, 10), "chisquare"),
    "num-2-values": ("numeric", lambda: _numeric_values(2, 300, 11), lambda: _numeric_values(2, 200, 12), "z"),
    "num-2-values-plus-1-in-current": (
        "numeric",
        lambda: _numeric_values(2, 300, 13),
        lambda: _numeric_values(3, 200, 14),
        "chisquare",
    ),
    "num-5-values-plus-1-in-current": (
        "numeric",
        lambda: _numeric_values(5, 300, 15),
        lambda: _numeric_values(6, 200, 16),
        "ks",
    ),
    "num-1003-rows-3-missing": (
        "numeric",
        lambda: np.concatenate((np.random.default_rng(17).normal(size=1000), [np.nan, np.inf, -np.inf])),
        lambda: np.random.default_rng(18).normal(size=500),
        "ks",
    ),
    "num-constant": ("numeric", lambda: np.full(50, 2.0), lambda: np.full(40, 2.0), "z"),
    "cat-2-values": ("categorical", lambda: _cycle(["a", "b"], 1000, 19), lambda: _cycle(["a", "b"], 300, 20), "z"),
    "cat-2-values-plus-1-in-current": (
        "categorical",
        lambda: _cycle(["a", "b"], 1000, 21),
        lambda: _cycle(["a", "c"], 300, 22),
        "chisquare",
    ),
    "cat-3-values": (
        "categorical",
        lambda: _cycle(["a", "b", "c"], 500, 23),
        lambda: _cycle(["a"], 300, 24),
        "chisquare",
    ),
    "cat-1001-rows-2-values": (
        "categorical",
        lambda: _cycle(["a", "b"], 1001, 25),
        lambda: _cycle(["a", "b"], 300, 26),
        "jensenshannon",
    ),
    "cat-1002-rows-2-missing": (
        "categorical",
        lambda: np.concatenate((_cycle(["a", "b"], 1000, 27), np.array([None, np.nan], dtype=object))),
        lambda: _cycle(["a", "b"], 300, 28),
        "z",
    ),
    "cat-int-codes": ("categorical", lambda: np.arange(2000) % 7, lambda: np.arange(600) % 9, "jensenshannon"),
    "cat-bool": ("categorical", lambda: np.arange(300) % 2 == 0, lambda: np.arange(200) % 3 == 0, "z"),
}


@pytest.mark.parametrize("edge", sorted(EDGES))
def test_auto_choice_matches_evidently_at_the_rules_edges(edge: str) -> None:
    feature_type, build_reference, build_current, expected = EDGES[edge]
    reference, current = build_reference(), build_current()
    theirs = evidently_column_drift(reference, current, feature_type=feature_type)
    assert theirs.method == expected
    assert choose_method(reference, current, feature_type=feature_type) == expected
    ours = compute_feature_drift(reference, current, feature="f", feature_type=feature_type)
    assert (ours.method, ours.details["auto"]) == (expected, True)
    assert_same_score(ours.score, theirs.score)
    assert (ours.drifted, ours.threshold) == (theirs.drifted, theirs.threshold)


def _sample_cases() -> list[object]:
    skip = {"empty_current"}  # Evidently refuses empty columns (tested in the method tests)
    return [
        pytest.param(feature_type, build, id=f"{feature_type}-{name}")
        for feature_type, samples in (("numeric", NUMERIC_SAMPLES), ("categorical", CATEGORICAL_SAMPLES))
        for name, build in samples.items()
        if name not in skip
    ]


@pytest.mark.parametrize(("feature_type", "build"), _sample_cases())
def test_auto_choice_matches_evidently_on_every_sample(
    feature_type: FeatureType, build: Callable[[], SamplePair]
) -> None:
    pair = build()
    theirs = evidently_column_drift(pair.reference, pair.current, feature_type=feature_type)
    ours = compute_feature_drift(pair.reference, pair.current, feature="f", feature_type=feature_type)
    assert ours.method == theirs.method
    assert_same_score(ours.score, theirs.score)
    assert (ours.drifted, ours.threshold) == (theirs.drifted, theirs.threshold)


def test_auto_choice_on_an_empty_reference_does_not_crash() -> None:
    result = compute_feature_drift(np.full(10, np.nan), np.arange(10.0), feature="x", feature_type="numeric")
    assert np.isnan(result.score) and result.drifted is False
    assert "reference sample has no values" in result.details["reason"]
