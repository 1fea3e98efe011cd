"""Golden answers worked out by hand, and random data checked against Evidently."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from monitor.metrics.drift import DRIFT_METHODS, compute_feature_drift

from .evidently_drift import assert_same_score, evidently_column_drift


def _drift(reference: Any, current: Any, method: str, feature_type: str = "numeric") -> Any:
    return compute_feature_drift(
        np.asarray(reference, dtype=object if feature_type == "categorical" else float),
        np.asarray(current, dtype=object if feature_type == "categorical" else float),
        feature="f",
        feature_type=feature_type,  # type: ignore[arg-type]
        method=method,
    )


def test_ks_disjoint_samples_exact_p_value() -> None:
    # Every one of the C(8, 4) = 70 splits is equally likely; 2 are as extreme.
    result = _drift([0, 1, 2, 3], [10, 11, 12, 13], "ks")
    assert result.score == pytest.approx(2 / 70, rel=1e-12)
    assert result.drifted and result.details["statistic"] == 1.0


def test_psi_by_hand() -> None:
    # shares (1/2, 1/2) -> (1/4, 3/4): 1/4 ln 2 + 1/4 ln(3/2) = ln(3) / 4
    result = _drift(["a", "a", "b", "b"], ["a", "b", "b", "b"], "psi", "categorical")
    assert result.score == pytest.approx(math.log(3) / 4, rel=1e-12)
    assert result.drifted


def test_normed_wasserstein_by_hand() -> None:
    # The distributions are 1 apart; the reference's population std is 0.5.
    assert _drift([0, 1], [1, 2], "wasserstein").score == pytest.approx(2.0, rel=1e-12)


def test_chi_square_by_hand() -> None:
    # Expected 50/50, observed 30/70: chi2 = 2 * 20**2 / 50 = 16 with 1 degree of freedom.
    result = _drift(["a"] * 50 + ["b"] * 50, ["a"] * 30 + ["b"] * 70, "chisquare", "categorical")
    assert result.score == pytest.approx(stats.chi2.sf(16, 1), rel=1e-12)
    assert result.details["statistic"] == pytest.approx(16.0)


def test_disjoint_categories_are_as_far_apart_as_possible() -> None:
    assert _drift(["a"] * 10, ["b"] * 10, "jensenshannon", "categorical").score == pytest.approx(
        math.sqrt(math.log(2)), rel=1e-12
    )
    assert _drift(["a"] * 10, ["b"] * 10, "hellinger", "categorical").score == 1.0


def test_unseen_category_makes_chi_square_certain() -> None:
    result = _drift(["a", "b"] * 50, ["a", "b", "new"] * 30, "chisquare", "categorical")
    assert (result.score, result.drifted) == (0.0, True)
    assert result.details["statistic"] == math.inf


@pytest.mark.parametrize("method", sorted(DRIFT_METHODS))
def test_identical_samples_never_drift(method: str) -> None:
    drift_method = DRIFT_METHODS[method]
    rng = np.random.default_rng(42)
    size = 150 if method == "empirical_mmd" else 400  # MMD holds a size**2 kernel matrix
    if "numeric" in drift_method.feature_types:
        values: Any = np.round(rng.normal(size=size), 2)
        feature_type = "numeric"
    else:
        values = rng.choice(np.array(["a", "b"], dtype=object), size)
        feature_type = "categorical"
    result = compute_feature_drift(values, values.copy(), feature="f", feature_type=feature_type, method=method)  # type: ignore[arg-type]
    assert result.drifted is False, result
    if drift_method.score_kind == "distance":
        assert result.score == 0.0
    elif method not in ("mannw", "anderson", "empirical_mmd"):  # one-sided / capped / permutation
        assert result.score == pytest.approx(1.0)


@pytest.mark.parametrize(
    "method", sorted(name for name, method in DRIFT_METHODS.items() if "numeric" in method.feature_types)
)
def test_a_shifted_normal_drifts(method: str) -> None:
    rng = np.random.default_rng(1)
    size = 200 if method == "empirical_mmd" else 2000
    result = compute_feature_drift(
        rng.normal(size=size), rng.normal(1.0, size=size), feature="f", feature_type="numeric", method=method
    )
    assert result.drifted, result


_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
_numbers = st.one_of(_floats, st.integers(-5, 5).map(float), st.just(math.nan))
_PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY_SETTINGS
@given(
    reference=st.lists(_numbers, min_size=1, max_size=60),
    current=st.lists(_numbers, min_size=1, max_size=60),
    method=st.sampled_from([None, "ks", "psi", "wasserstein", "jensenshannon", "kl_div", "t_test"]),
)
def test_random_numeric_columns_match_evidently(
    reference: list[float], current: list[float], method: str | None
) -> None:
    ours = compute_feature_drift(
        np.array(reference), np.array(current), feature="f", feature_type="numeric", method=method or "auto"
    )
    try:
        theirs = evidently_column_drift(np.array(reference), np.array(current), feature_type="numeric", method=method)
    except ValueError:  # Evidently refuses a column that is empty without its NaNs
        assert math.isnan(ours.score) and ours.details["reason"]
        return
    assert ours.method == theirs.method
    assert_same_score(ours.score, theirs.score)
    assert ours.drifted == theirs.drifted


@_PROPERTY_SETTINGS
@given(
    reference=st.lists(st.sampled_from(["a", "b", "c", "d", None]), min_size=1, max_size=80),
    current=st.lists(st.sampled_from(["a", "b", "c", "e", None]), min_size=1, max_size=80),
    method=st.sampled_from([None, "chisquare", "z", "psi", "jensenshannon", "hellinger", "g_test"]),
)
def test_random_categorical_columns_match_evidently(
    reference: list[str | None], current: list[str | None], method: str | None
) -> None:
    reference_array = np.array(reference, dtype=object)
    current_array = np.array(current, dtype=object)
    ours = compute_feature_drift(
        reference_array, current_array, feature="f", feature_type="categorical", method=method or "auto"
    )
    try:
        theirs = evidently_column_drift(reference_array, current_array, feature_type="categorical", method=method)
    except ValueError:  # an all-missing column; or the G-test on unequal sizes
        assert math.isnan(ours.score) and ours.details["reason"]
        return
    assert ours.method == theirs.method
    assert_same_score(ours.score, theirs.score)
    assert ours.drifted == theirs.drifted
