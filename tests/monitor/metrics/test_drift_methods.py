"""Every drift method against Evidently 0.7.23 itself, column by column.

For each method and each sample pair: the same score (1e-9 relative; NaN where
Evidently's is NaN), the same verdict, threshold and display name; where Evidently
raises instead of answering, our score is NaN with a reason and no drift.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from monitor.metrics.drift import DRIFT_METHODS, FeatureType, compute_feature_drift, get_method
from monitor.metrics.drift.permutation_tests import EMPIRICAL_MMD_MAX_OBSERVATIONS
from monitor.metrics.features import FeatureSpec, coerce_feature

from .drift_samples import CATEGORICAL_SAMPLES, NUMERIC_SAMPLES, SamplePair
from .evidently_drift import assert_same_score, evidently_column_drift

# Evidently's permutation tests cost seconds per column (pure-Python TVD loops; 100
# copies of an n x n kernel for MMD); these pairs cover their branches.
_PERMUTATION_TEST_SAMPLES = {
    "TVD": {"unseen_small", "constant_same", "empty_current"},  # and binary_tiny in the threshold test
    "empirical_mmd": {
        "normal_small",
        "few_values_int",
        "tiny",
        "constant_same",
        "constant_different",
        "single_values",
        "empty_current",
    },
}


def _cases() -> list[object]:
    cases: list[object] = []
    for method in DRIFT_METHODS.values():
        for feature_type, samples in (("numeric", NUMERIC_SAMPLES), ("categorical", CATEGORICAL_SAMPLES)):
            if feature_type not in method.feature_types:
                continue
            for name, build in samples.items():
                if name not in _PERMUTATION_TEST_SAMPLES.get(method.name, {name}):
                    continue
                cases.append(pytest.param(method.name, feature_type, build, id=f"{method.name}-{name}"))
    return cases


@pytest.mark.parametrize(("method", "feature_type", "build"), _cases())
def test_method_matches_evidently(method: str, feature_type: FeatureType, build: Callable[[], SamplePair]) -> None:
    pair = build()
    ours = compute_feature_drift(pair.reference, pair.current, feature="f", feature_type=feature_type, method=method)
    assert ours.method == method
    try:
        theirs = evidently_column_drift(pair.reference, pair.current, feature_type=feature_type, method=method)
    except (ValueError, ZeroDivisionError, IndexError) as refusal:
        assert math.isnan(ours.score), f"Evidently refused ({refusal}) but we scored {ours.score}"
        assert ours.details["reason"]
        assert ours.drifted is False
        return
    assert_same_score(ours.score, theirs.score)
    assert ours.drifted == theirs.drifted
    assert ours.threshold == theirs.threshold
    assert get_method(method).display_name == theirs.display_name
    if math.isnan(ours.score):
        assert ours.details["reason"]


@pytest.mark.parametrize("method", ["ks", "psi", "wasserstein", "jensenshannon", "t_test", "ed", "anderson"])
@pytest.mark.parametrize("threshold", [0.0, 0.012, 0.5])
def test_custom_threshold_matches_evidently(method: str, threshold: float) -> None:
    pair = NUMERIC_SAMPLES["normal_small"]()
    ours = compute_feature_drift(
        pair.reference, pair.current, feature="f", feature_type="numeric", method=method, threshold=threshold
    )
    theirs = evidently_column_drift(
        pair.reference, pair.current, feature_type="numeric", method=method, threshold=threshold
    )
    assert_same_score(ours.score, theirs.score)
    assert (ours.threshold, ours.drifted) == (threshold, theirs.drifted)


@pytest.mark.parametrize("method", sorted(DRIFT_METHODS))
def test_threshold_equal_to_score_follows_evidentlys_comparison(method: str) -> None:
    # At threshold == score only the inclusive rules (<=, >=) report drift.
    drift_method = get_method(method)
    feature_type = drift_method.feature_types[0]
    pair = NUMERIC_SAMPLES["tiny"]() if feature_type == "numeric" else CATEGORICAL_SAMPLES["binary_tiny"]()
    first = compute_feature_drift(pair.reference, pair.current, feature="f", feature_type=feature_type, method=method)
    at = compute_feature_drift(
        pair.reference, pair.current, feature="f", feature_type=feature_type, method=method, threshold=first.score
    )
    theirs = evidently_column_drift(
        pair.reference, pair.current, feature_type=feature_type, method=method, threshold=first.score
    )
    assert at.drifted == theirs.drifted == (drift_method.drift_rule in ("<=", ">="))


def test_empirical_mmd_refuses_a_kernel_matrix_too_big_for_memory() -> None:
    pair = NUMERIC_SAMPLES["ties_large"]()
    big = compute_feature_drift(
        np.concatenate((pair.reference, pair.reference)),
        pair.current,
        feature="f",
        feature_type="numeric",
        method="empirical_mmd",
    )
    assert len(pair.reference) * 2 + len(pair.current) > EMPIRICAL_MMD_MAX_OBSERVATIONS
    assert math.isnan(big.score) and big.drifted is False
    assert "kernel matrix" in big.details["reason"] and "subsample" in big.details["reason"]


def _categorical_cases() -> list[object]:
    methods = [name for name, method in DRIFT_METHODS.items() if "categorical" in method.feature_types]
    return [pytest.param(method, build, id=f"{method}-{name}")
            for method in [*methods, "auto"] for name, build in CATEGORICAL_SAMPLES.items()
            if name in _PERMUTATION_TEST_SAMPLES.get(method, {name})]


@pytest.mark.parametrize(("method", "build"), _categorical_cases())
def test_a_categorical_column_scores_exactly_as_its_values(method: str, build: Callable[[], SamplePair]) -> None:
    """Windows are read with categorical columns, counted from their codes: the same
    score and details, to the bit, as the same values in an object column. The
    categorical ones carry a category no row uses, and rows in another order of categories."""
    pair = build()

    def typed(values: object, *, categorical: bool) -> pd.Series:
        raw = pd.Series(list(values), dtype=object)
        if categorical:
            raw = raw.astype("category")
            raw = raw.cat.add_categories(["never-seen"]).cat.reorder_categories(
                ["never-seen", *reversed(raw.cat.categories.tolist())])
        return coerce_feature(raw, FeatureSpec(type="categorical"))

    results = [
        compute_feature_drift(typed(pair.reference, categorical=categorical),
                              typed(pair.current, categorical=categorical),
                              feature="f", feature_type="categorical", method=method)
        for categorical in (False, True)
    ]
    assert isinstance(typed(pair.reference, categorical=True).dtype, pd.CategoricalDtype)
    plain, coded = results
    assert coded.method == plain.method
    assert (coded.score == plain.score) or (math.isnan(coded.score) and math.isnan(plain.score))
    assert repr(coded.details) == repr(plain.details)
