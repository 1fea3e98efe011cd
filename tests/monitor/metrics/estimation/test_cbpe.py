"""CBPE and the reference thresholds on data with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.errors import MetricError
from monitor.metrics.estimation import fit_cbpe, split_rows
from monitor.metrics.estimation.calibration import isotonic_predictions, needs_calibration, stratified_splits
from monitor.metrics.estimation.cbpe import estimated_roc_auc, realized_metric


def _sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    proba = rng.beta(2, 2, n)
    return proba, (rng.random(n) < proba).astype(int)


def test_distorted_scores_need_calibration_and_perfect_rankers_do_not():
    rng = np.random.default_rng(3)
    proba, labels = _sample(rng, 20_000)
    assert needs_calibration(labels, proba**3)  # same ranking, far too low
    assert not needs_calibration(labels, labels * 0.6 + 0.2)  # separates the classes perfectly
    assert not needs_calibration(np.ones(100, dtype=int), proba[:100])  # one class: nothing to learn


@pytest.mark.parametrize("sizes", [(50, 50), (7_001, 2_999), (13, 987, 5)])
def test_calibration_splits_are_exactly_stratified_shuffle_splits(sizes):
    from sklearn.model_selection import StratifiedShuffleSplit

    labels = np.random.default_rng(len(sizes)).permutation(np.repeat(np.arange(len(sizes)), sizes))
    expected = StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42).split(labels, labels)
    for (train, test), (their_train, their_test) in zip(stratified_splits(labels), expected, strict=True):
        np.testing.assert_array_equal(train, their_train)
        np.testing.assert_array_equal(test, their_test)


@pytest.mark.parametrize("decimals", [2, 4, None])  # many, some or no tied scores
def test_held_out_isotonic_predictions_are_scikit_learns(decimals):
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(11)
    proba, labels = _sample(rng, 5_000)
    scores = proba**2 if decimals is None else np.round(proba**2, decimals)
    for train, test in stratified_splits(labels):
        expected = IsotonicRegression(out_of_bounds="clip").fit(scores[train], labels[train]).predict(scores[test])
        np.testing.assert_array_equal(isotonic_predictions(scores, labels, train, test), expected)


def test_estimates_match_the_labels_on_calibrated_scores():
    rng = np.random.default_rng(5)
    proba, labels = _sample(rng, 40_000)
    predicted = (proba >= 0.5).astype(int)
    fitted = fit_cbpe(labels[:20_000], proba[:20_000], predicted[:20_000], chunk_size=5_000)
    report = fitted.estimate(proba[20_000:], predicted[20_000:], labels[20_000:].astype(float))
    for chunk in report.chunks:
        for name in ("roc_auc", "f1", "precision", "recall", "specificity", "accuracy"):
            estimate = chunk.metrics[name]
            assert estimate.realized is not None
            assert estimate.lower_band <= estimate.realized <= estimate.upper_band, (chunk.index, name)
        assert not any(estimate.alert for estimate in chunk.metrics.values())


def test_miscalibrated_scores_are_estimated_after_calibration():
    rng = np.random.default_rng(9)
    proba, labels = _sample(rng, 40_000)
    scores = proba**3
    predicted = (proba >= 0.5).astype(int)
    fitted = fit_cbpe(labels[:20_000], scores[:20_000], predicted[:20_000], chunk_size=10_000)
    assert fitted.calibrated
    report = fitted.estimate(scores[20_000:], predicted[20_000:], labels[20_000:].astype(float))
    accuracy = report.chunks[0].metrics["accuracy"]
    assert accuracy.realized == pytest.approx(accuracy.value, abs=0.02)


def test_estimated_roc_auc_of_certain_scores_is_the_true_auc():
    scores = np.array([0.9, 0.8, 0.3, 0.1])
    certain = np.array([1.0, 0.0, 1.0, 0.0])  # expected labels known exactly
    assert estimated_roc_auc(certain, scores) == pytest.approx(0.75)


def test_realized_metric_is_nan_for_a_single_class():
    labels = np.array([1.0, 1.0, np.nan])
    assert np.isnan(realized_metric("roc_auc", labels, np.array([0.2, 0.9, 0.5]), np.array([0, 1, 1])))


def test_unknown_metric_and_bad_chunking_are_refused():
    with pytest.raises(MetricError, match="unknown metric 'auc'"):
        fit_cbpe(np.array([0, 1] * 50), np.linspace(0, 1, 100), np.array([0, 1] * 50), metrics=["auc"])
    with pytest.raises(MetricError, match="not both"):
        split_rows(10, chunk_size=2, chunks=2)
    with pytest.raises(MetricError, match="cannot make 20 chunks"):
        split_rows(10, chunks=20)


def test_a_metric_no_reference_chunk_defines_is_refused():
    labels = np.r_[np.zeros(50, dtype=int), np.ones(50, dtype=int)]  # every chunk of 10 holds one class
    scores = np.linspace(0.01, 0.99, 100)
    with pytest.raises(MetricError, match="no reference chunk gives a value for roc_auc"):
        fit_cbpe(labels, scores, (scores > 0.5).astype(int), metrics=["roc_auc"], chunk_size=10)


def test_an_estimate_that_cannot_be_computed_alerts():
    rng = np.random.default_rng(1)
    proba, labels = _sample(rng, 2_000)
    fitted = fit_cbpe(labels, proba, (proba > 0.5).astype(int), metrics=["roc_auc"], chunk_size=1_000)
    report = fitted.estimate(np.zeros(1_000), np.zeros(1_000, dtype=int))  # no expected positive: AUC undefined
    estimate = report.chunks[0].metrics["roc_auc"]
    assert np.isnan(estimate.value) and estimate.alert
