"""The comparison of two regression versions, as pure computation: MAE difference with Welch's
t-test on the absolute errors (scipy as the oracle), and no classification metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from monitor.config.models import ModelConfig
from monitor.jobs.compare_versions import VersionSample, compare_versions
from monitor.store.stored_rows import StoredRows


def _rows(rng: np.random.Generator, n: int, noise: float, *, labelled: int) -> StoredRows:
    x = rng.normal(10, 2, n)
    truth = 3 * x + rng.normal(0, 1, n)
    predicted = 3 * x + rng.normal(0, noise, n)
    labels = [float(v) if i < labelled else None for i, v in enumerate(truth)]
    outputs = pd.DataFrame({
        "prediction": [repr(float(v)) for v in predicted], "prediction_numeric": predicted,
        "score": np.full(n, np.nan), "latency_ms": rng.gamma(2, 10, n), "status": ["ok"] * n,
        "label": [None if v is None else repr(v) for v in labels],
        "label_numeric": np.array([np.nan if v is None else v for v in labels], dtype=np.float64),
    })
    return StoredRows(outputs=outputs, features=pd.DataFrame({"x": x}))


def test_mae_difference_and_welch_test_on_absolute_errors():
    rng = np.random.default_rng(3)
    config = ModelConfig.model_validate({"task": "regression", "features": {"x": {"type": "numeric"}}})
    champion, challenger = _rows(rng, 500, 1.0, labelled=400), _rows(rng, 120, 3.0, labelled=100)
    # a confusion cell is a count: it follows each version's share of the traffic, so it is not compared
    first = {"estimated_mae": 1.2, "estimated_true_positive": 9}
    second = {"estimated_mae": 2.0, "estimated_rmse": 3.0, "estimated_true_positive": 3}
    points, notes = compare_versions("demand", config, VersionSample("v1", champion, first),
                                     VersionSample("v2", challenger, second))
    assert notes == []
    by_name = {(p.metric, p.feature): p for p in points}
    assert ("compare_accuracy_diff", None) not in by_name and ("compare_roc_auc_diff", None) not in by_name

    def errors(rows: StoredRows, n: int) -> np.ndarray:
        frame = rows.outputs.iloc[:n]
        return np.abs(frame["prediction_numeric"].to_numpy() - frame["label_numeric"].to_numpy())

    a, b = errors(champion, 400), errors(challenger, 100)
    mae = by_name[("compare_mae_diff", None)]
    assert mae.value == pytest.approx(b.mean() - a.mean(), rel=1e-12)
    assert mae.details["p_value"] == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue, rel=1e-9)
    assert (mae.details["n_champion"], mae.details["n_challenger"]) == (400, 100)
    assert mae.details["significant"] is True and mae.details["champion"] == "v1"
    # Only the estimates both versions have are compared, without a test.
    estimated = by_name[("compare_estimated_mae_diff", None)]
    assert estimated.value == pytest.approx(0.8) and estimated.details["test"] is None
    assert ("compare_estimated_rmse_diff", None) not in by_name
    assert ("compare_estimated_true_positive_diff", None) not in by_name
    assert by_name[("compare_feature_drift_score", "x")].details["method"] == "ks"


def test_without_labels_the_difference_is_not_judged_and_says_why():
    rng = np.random.default_rng(4)
    config = ModelConfig.model_validate({"task": "regression"})
    points, _ = compare_versions("demand", config, VersionSample("v1", _rows(rng, 50, 1.0, labelled=0), {}),
                                 VersionSample("v2", _rows(rng, 50, 1.0, labelled=0), {}))
    mae = next(p for p in points if p.metric == "compare_mae_diff")
    assert np.isnan(mae.value) and mae.details["reason"] == "a version has no labelled predictions yet"
    assert mae.details["significant"] is None


def test_a_single_labelled_row_is_not_tested_and_not_judged():
    rng = np.random.default_rng(5)
    config = ModelConfig.model_validate({"task": "regression"})
    points, _ = compare_versions("demand", config, VersionSample("v1", _rows(rng, 50, 1.0, labelled=40), {}),
                                 VersionSample("v2", _rows(rng, 50, 9.0, labelled=1), {}))
    mae = next(p for p in points if p.metric == "compare_mae_diff")
    assert np.isnan(mae.value) and mae.details["reason"] == "each version needs at least 2 values"
    assert mae.details["challenger_value"] > 0  # the one error is still shown
