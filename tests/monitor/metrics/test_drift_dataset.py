"""Dataset drift against a real Evidently ``DataDriftPreset`` report, and its metric points."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.errors import MetricError
from monitor.metrics.drift import compute_dataset_drift, get_method, to_metric_points

from .evidently_drift import assert_same_score, evidently_dataset_drift
from .point_contract import check_points

FEATURE_TYPES = {
    "amount": "numeric",
    "amount_shifted": "numeric",
    "items": "numeric",
    "rating": "numeric",
    "latency": "numeric",
    "country": "categorical",
    "channel": "categorical",
    "is_new": "categorical",
}


def _frames(n_reference: int, n_current: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(n: int, shift: float, countries: list[str]) -> pd.DataFrame:
        latency = rng.gamma(2.0, 10.0 + shift * 10, n)
        latency[rng.random(n) < 0.05] = np.nan
        return pd.DataFrame(
            {
                "amount": rng.lognormal(3.0, 1.0, n),
                "amount_shifted": rng.normal(100 + 20 * shift, 15, n),
                "items": rng.poisson(3 + shift, n),
                "rating": rng.integers(1, 4, n).astype(float),
                "latency": latency,
                "country": rng.choice(np.array(countries, dtype=object), n),
                "channel": rng.choice(np.array(["web", "app"], dtype=object), n, p=[0.5 + shift / 4, 0.5 - shift / 4]),
                "is_new": rng.random(n) < 0.3,
            }
        )

    return frame(n_reference, 0.0, ["DE", "FR", "US"]), frame(n_current, 1.0, ["DE", "FR", "US", "IT"])


def _assert_matches_evidently(result: Any, theirs: Any, configured: dict[str, str]) -> None:
    assert [feature.feature for feature in result.features] == list(FEATURE_TYPES)
    for feature in result.features:
        name = feature.feature
        expected_method = configured.get(name, get_method(feature.method).display_name)
        assert theirs.methods[name] == expected_method, name
        assert_same_score(feature.score, theirs.scores[name])
        assert feature.threshold == theirs.thresholds[name], name
        assert feature.drifted == theirs.drifted[name], name
    assert result.number_of_drifted == theirs.number_of_drifted
    assert result.drift_share == pytest.approx(theirs.share, rel=1e-12)
    assert result.dataset_drift == theirs.dataset_drift


@pytest.mark.parametrize(("n_reference", "n_current"), [(600, 400), (2500, 1500)], ids=["small-ref", "large-ref"])
def test_automatic_methods_match_data_drift_preset(n_reference: int, n_current: int) -> None:
    reference, current = _frames(n_reference, n_current, seed=n_reference)
    result = compute_dataset_drift(reference, current, feature_types=FEATURE_TYPES)
    theirs = evidently_dataset_drift(reference, current, feature_types=FEATURE_TYPES)
    _assert_matches_evidently(result, theirs, configured={})
    assert 0 < result.number_of_drifted < len(FEATURE_TYPES)  # the frames exercise both verdicts


def test_global_and_per_feature_settings_match_data_drift_preset() -> None:
    reference, current = _frames(1500, 700, seed=3)
    per_feature: dict[str, dict[str, Any]] = {
        "amount": {"method": "ks"},
        "items": {"method": "wasserstein", "threshold": 0.05},
        "country": {"threshold": 0.3},
        "channel": {"method": "hellinger", "threshold": 0.01},
    }
    result = compute_dataset_drift(
        reference,
        current,
        feature_types=FEATURE_TYPES,
        method="psi",
        threshold=0.15,
        per_feature=per_feature,
        drift_share=0.4,
    )
    theirs = evidently_dataset_drift(
        reference,
        current,
        feature_types=FEATURE_TYPES,
        drift_share=0.4,
        method="psi",
        threshold=0.15,
        per_column_method={name: options["method"] for name, options in per_feature.items() if "method" in options},
        per_column_threshold={
            name: options["threshold"] for name, options in per_feature.items() if "threshold" in options
        },
    )
    configured = {name: "psi" for name in FEATURE_TYPES} | {
        "amount": "ks",
        "items": "wasserstein",
        "channel": "hellinger",
    }
    _assert_matches_evidently(result, theirs, configured)
    assert result.features[0].threshold == 0.15  # the global threshold applies to a per-feature method


def test_a_dataset_whose_unjudged_features_could_tip_the_verdict_is_not_judged() -> None:
    reference, current = _frames(600, 400, seed=6)
    features = {"latency": FEATURE_TYPES["latency"], "amount": FEATURE_TYPES["amount"]}
    nothing = current.copy()
    nothing[list(features)] = np.nan
    result = compute_dataset_drift(reference, nothing, feature_types=features)
    assert result.dataset_drift is None and math.isnan(result.drift_share)
    points = check_points(to_metric_points(result))
    for name in ("dataset_drift", "dataset_drift_share"):
        point = points[(name, None)]
        assert math.isnan(point.value) and point.is_breach is None  # never "no drift"
        assert "not judged" in point.details["not_judged"] and point.details["not_judged_features"] == sorted(features)
    assert all(math.isnan(points[("feature_drift", name)].value) for name in features)


def test_dataset_drifts_when_the_share_reaches_drift_share_exactly() -> None:
    reference, current = _frames(600, 400, seed=5)
    share = compute_dataset_drift(reference, current, feature_types=FEATURE_TYPES).drift_share
    at = compute_dataset_drift(reference, current, feature_types=FEATURE_TYPES, drift_share=share)
    above = compute_dataset_drift(reference, current, feature_types=FEATURE_TYPES, drift_share=share + 0.01)
    assert (at.dataset_drift, above.dataset_drift) == (True, False)
    assert evidently_dataset_drift(reference, current, feature_types=FEATURE_TYPES, drift_share=share).dataset_drift


def test_metric_points_follow_the_contract_and_carry_the_verdicts() -> None:
    reference, current = _frames(600, 400, seed=6)
    current["latency"] = np.nan  # nothing to test: NaN score with a reason
    result = compute_dataset_drift(reference, current, feature_types=FEATURE_TYPES)
    points = check_points(to_metric_points(result))
    assert len(points) == 2 * len(FEATURE_TYPES) + 2
    for feature in result.features:
        score = points[("feature_drift_score", feature.feature)]
        verdict = points[("feature_drift", feature.feature)]
        assert score.threshold == feature.threshold
        assert score.is_breach == (feature.drifted if feature.judged else None)  # not judged: no verdict
        assert score.details["method"] == feature.method and score.details["threshold"] == feature.threshold
        assert {"n_reference", "n_current", "feature_type"} <= set(score.details)
        kind = get_method(feature.method).score_kind
        if math.isnan(feature.score):
            assert math.isnan(score.value) and math.isnan(verdict.value)
            assert score.details[kind] is None and "no values left" in score.details["reason"]
            assert score.details["not_judged"] == score.details["reason"] and verdict.is_breach is None
        else:
            assert score.value == feature.score == score.details[kind]
            assert verdict.value == (1.0 if feature.drifted else 0.0)
    share = points[("dataset_drift_share", None)]
    assert result.dataset_drift is not None  # one unjudged feature cannot tip this verdict
    assert (share.value, share.threshold, share.is_breach) == (result.drift_share, 0.5, result.dataset_drift)
    assert points[("dataset_drift", None)].value == (1.0 if result.dataset_drift else 0.0)
    assert share.details["not_judged_features"] == ["latency"]
    latency = next(feature for feature in result.features if feature.feature == "latency")
    assert latency.drifted is False and result.number_of_drifted == sum(f.drifted for f in result.features)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "kolmogorov"}, "unknown drift method 'kolmogorov'"),
        ({"per_feature": {"country": {"method": "ks"}}}, "'ks' applies to numeric features only"),
        ({"method": "chisquare"}, "'chisquare' applies to categorical features only"),
        ({"method": "ks", "threshold": 1.5}, "must be between 0 and 1"),
        ({"threshold": -0.1, "method": "psi"}, "must be at least 0"),
        ({"threshold": float("nan")}, "must be a finite number"),
        ({"per_feature": {"amount": {"threshold": True}}}, "must be a finite number"),
        ({"per_feature": {"nope": {"method": "psi"}}}, "per_feature names ['nope']"),
        ({"per_feature": {"amount": {"bins": 10}}}, "unknown key(s) ['bins']"),
        ({"per_feature": {"amount": "psi"}}, "must be a mapping like {method: psi, threshold: 0.2}"),
        ({"drift_share": 0}, "drift_share must be a share of features in (0, 1]"),
        ({"drift_share": 1.5}, "drift_share must be a share of features in (0, 1]"),
        ({"feature_types": {"amount": "number"}}, "unknown feature type 'number' for feature 'amount'"),
        ({"feature_types": {}}, "feature_types is empty"),
        ({"feature_types": {"missing_col": "numeric"}}, "has no column(s) ['missing_col']"),
        ({"feature_types": {"country": "numeric"}}, "declared numeric but holds object values"),
    ],
)
def test_invalid_parameters_raise_metric_error_that_says_the_fix(options: dict[str, Any], message: str) -> None:
    reference, current = _frames(100, 80, seed=7)
    kwargs: dict[str, Any] = {"feature_types": FEATURE_TYPES, **options}
    with pytest.raises(MetricError) as error:
        compute_dataset_drift(reference, current, **kwargs)
    assert message in str(error.value)
