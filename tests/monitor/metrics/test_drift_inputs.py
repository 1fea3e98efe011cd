"""What the drift API accepts and refuses: types, missing values, odd columns, bad parameters."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.errors import MetricError
from monitor.metrics.drift import (
    DRIFT_METHODS,
    MethodOutcome,
    auto,
    binning,
    category_counts,
    cdf_distances,
    choose_method,
    compute_feature_drift,
    cramer_von_mises,
    dataset,
    default_threshold,
    feature,
    feature_type,
    get_method,
    infer_feature_type,
    method_names,
    registry,
    sample,
)

from .point_contract import run_doctests


@pytest.mark.parametrize(
    "module",
    [auto, binning, category_counts, cdf_distances, cramer_von_mises, dataset, feature, feature_type, registry, sample],
    ids=lambda module: module.__name__.rsplit(".", 1)[-1],
)
def test_docstring_examples(module: Any) -> None:
    run_doctests(module)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.Series([1.5, np.nan]), "numeric"),
        (pd.Series([1, 2, 3]), "numeric"),
        (pd.Series([1, None], dtype="Int64"), "numeric"),
        (pd.Series([1, 2.5, None], dtype=object), "numeric"),
        (np.array([0.5, 1.5], dtype=np.float32), "numeric"),
        (pd.Series([True, False]), "categorical"),
        (pd.Series(["DE", None]), "categorical"),
        (pd.Series(["DE", "FR"], dtype="string"), "categorical"),
        (pd.Series(["DE", "FR"], dtype="category"), "categorical"),
        (pd.Series([1, "a"], dtype=object), "categorical"),
        (np.array(["x", "y"]), "categorical"),
    ],
)
def test_infer_feature_type_follows_the_cli_rule(values: Any, expected: str) -> None:
    assert infer_feature_type(values) == expected


def test_infer_feature_type_refuses_dates_and_says_what_to_do() -> None:
    with pytest.raises(MetricError, match=r"'created'.*--categorical / --numerical"):
        infer_feature_type(pd.Series(pd.to_datetime(["2026-01-01"])), feature="created")


def test_method_registry_uses_evidently_keys_and_defaults() -> None:
    assert set(method_names()) == {
        "ks", "chisquare", "z", "psi", "wasserstein", "jensenshannon", "kl_div", "hellinger", "anderson",
        "cramer_von_mises", "mannw", "t_test", "ed", "empirical_mmd", "TVD", "fisher_exact", "g_test", "es",
    }  # fmt: skip
    assert get_method("energy_distance") is DRIFT_METHODS["ed"]
    assert get_method("epps_singleton") is DRIFT_METHODS["es"]
    assert [default_threshold(name) for name in ("ks", "chisquare", "z", "psi", "wasserstein", "anderson")] == [
        0.05, 0.05, 0.05, 0.1, 0.1, 0.1,
    ]  # fmt: skip
    with pytest.raises(MetricError, match="unknown drift method 'KS'; use 'auto' or one of: anderson, chisquare"):
        get_method("KS")


def test_a_drift_method_is_callable_on_raw_columns() -> None:
    ks = get_method("ks")
    outcome = ks(pd.Series([1.0, 2.0, np.nan, 3.0]), [7.0, 8.0, 9.0], feature_type="numeric")
    assert isinstance(outcome, MethodOutcome)
    assert outcome.details["n_reference"] == 3 and outcome.details["p_value"] == outcome.score
    assert outcome.threshold == 0.05
    with pytest.raises(MetricError, match="'ks' applies to numeric features only, but feature 'city'"):
        ks(["a"], ["b"], feature_type="categorical", feature="city")


def test_missing_values_of_every_kind_are_dropped_before_testing() -> None:
    reference = pd.Series(["a", None, "b", np.nan, "a", pd.NA, pd.NaT, float("inf")], dtype=object)
    current = pd.Series(["a", "b", None], dtype=object)
    result = compute_feature_drift(reference, current, feature="c", feature_type="categorical", method="chisquare")
    assert (result.details["n_reference"], result.details["n_current"]) == (3, 2)
    clean = compute_feature_drift(
        ["a", "b", "a"], ["a", "b"], feature="c", feature_type="categorical", method="chisquare"
    )
    assert result.score == clean.score


def test_nullable_and_object_numbers_give_the_same_score_as_floats() -> None:
    floats = np.array([1.0, 2.0, 2.0, np.nan, 5.0, 7.0])
    current = np.array([2.0, 3.0, 9.0])
    expected = compute_feature_drift(floats, current, feature="x", feature_type="numeric", method="ks").score
    for variant in (pd.Series([1, 2, 2, None, 5, 7], dtype="Int64"), pd.Series([1, 2, 2.0, None, 5, 7], dtype=object)):
        assert (
            compute_feature_drift(variant, current, feature="x", feature_type="numeric", method="ks").score == expected
        )


def test_bool_numeric_feature_counts_true_as_one() -> None:
    result = compute_feature_drift(
        np.array([True, False] * 50), np.array([1, 0] * 50), feature="flag", feature_type="numeric"
    )
    assert (result.method, result.score) == ("z", 1.0)


@pytest.mark.parametrize("method", sorted(DRIFT_METHODS))
@pytest.mark.parametrize(
    ("reference", "current"),
    [
        ([], [1.0, 2.0]),
        ([1.0, 2.0], [np.nan, np.nan]),
        ([3.0] * 20, [3.0] * 20),
        ([1.0], [2.0]),
        ([1.0] * 20, [2.0] * 20),
    ],
    ids=["empty-reference", "empty-current", "constant-same", "one-value-each", "constant-different"],
)
def test_degenerate_columns_never_crash(method: str, reference: list[float], current: list[float]) -> None:
    feature_type = DRIFT_METHODS[method].feature_types[0]
    values: Any = (lambda v: np.array(v)) if feature_type == "numeric" else (lambda v: np.array(v, dtype=object))
    result = compute_feature_drift(
        values(reference), values(current), feature="f", feature_type=feature_type, method=method
    )
    if math.isnan(result.score):
        assert isinstance(result.details["reason"], str) and result.details["reason"]
        assert result.drifted is False
    else:
        assert "reason" not in result.details


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: compute_feature_drift([1.0], [1.0], feature="", feature_type="numeric"), "non-empty column name"),
        (
            lambda: compute_feature_drift([1.0], [1.0], feature="x", feature_type="number"),  # type: ignore[arg-type]
            "unknown feature type 'number' for feature 'x'; use 'numeric' or 'categorical'",
        ),
        (
            lambda: compute_feature_drift(np.ones((2, 2)), [1.0], feature="x", feature_type="numeric"),
            "must be one-dimensional",
        ),
        (
            lambda: compute_feature_drift(["a", "b"], [1.0], feature="x", feature_type="numeric"),
            "declare it categorical, or convert it with pandas.to_numeric",
        ),
        (
            lambda: compute_feature_drift([1.0], [1.0], feature="x", feature_type="numeric", method="z"),
            "'z' applies to categorical features only, but feature 'x' is numeric",
        ),
        (
            lambda: compute_feature_drift(np.arange(9.0), [1.0], feature="x", feature_type="numeric", threshold=2.0),
            "out of range: 'ks' compares a p-value",
        ),
        (lambda: choose_method([1.0], [1.0], feature_type="text"), "unknown feature type 'text'"),  # type: ignore[arg-type]
    ],
)
def test_bad_parameters_raise_metric_error_with_the_fix(call: Any, message: str) -> None:
    with pytest.raises(MetricError) as error:
        call()
    assert message in str(error.value)
