"""The tests behind the version comparison, against known answers: scipy's own tests as the
oracle, and DeLong's variance from its definition (every positive/negative pair)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from monitor.metrics.significance import delong_test, mann_whitney_test, two_proportion_test, welch_test


@pytest.mark.parametrize(("a_hits", "a_n", "b_hits", "b_n"), [(50, 100, 60, 100), (12, 900, 19, 100),
                                                              (3, 1000, 0, 40), (400, 500, 380, 500)])
def test_two_proportions_agree_with_the_chi_square_test_of_the_table(a_hits, a_n, b_hits, b_n):
    result = two_proportion_test(a_hits, a_n, b_hits, b_n)
    table = [[a_hits, a_n - a_hits], [b_hits, b_n - b_hits]]
    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert result.statistic**2 == pytest.approx(chi2, rel=1e-9)
    assert result.difference == pytest.approx(b_hits / b_n - a_hits / a_n)
    assert math.copysign(1, result.statistic) == math.copysign(1, result.difference)


def test_two_proportions_known_textbook_answer_and_degenerate_samples():
    result = two_proportion_test(50, 100, 60, 100)
    assert (round(result.statistic, 4), round(result.p_value, 4)) == (1.4213, 0.1552)
    assert two_proportion_test(0, 100, 0, 50).p_value == 1.0  # nothing failed anywhere: no difference
    empty = two_proportion_test(0, 0, 3, 10)
    assert math.isnan(empty.p_value) and empty.reason


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_agrees_with_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.exponential(10, 300), rng.exponential(12, 37)
    result = welch_test(a, b)
    expected = stats.ttest_ind(b, a, equal_var=False)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.difference == pytest.approx(b.mean() - a.mean())
    assert math.isnan(welch_test(a, b[:1]).p_value)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mann_whitney_agrees_with_scipy_including_ties(seed):
    rng = np.random.default_rng(seed)
    a = np.round(rng.gamma(2, 10, 400))  # rounded: many ties
    b = np.round(rng.gamma(2, 12, 60))
    result = mann_whitney_test(a, b, difference=1.5)
    expected = stats.mannwhitneyu(b, a, method="asymptotic", use_continuity=True)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.difference == 1.5


def _delong_by_definition(positive, scores):
    x, y = scores[positive], scores[~positive]
    pairs = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    v10, v01 = pairs.mean(axis=1), pairs.mean(axis=0)
    return pairs.mean(), v10.var(ddof=1) / x.size + v01.var(ddof=1) / y.size


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_agrees_with_its_definition_and_the_auc_with_sklearn(seed):
    rng = np.random.default_rng(seed)
    samples = []
    for shift in (1.0, 0.4):
        positive = rng.random(250) < 0.3
        scores = np.round(1 / (1 + np.exp(-(rng.normal(0, 1, 250) + shift * positive))), 2)  # with ties
        samples.append((positive, scores))
    result = delong_test(samples[0][0], samples[0][1], samples[1][0], samples[1][1])
    (auc_a, var_a), (auc_b, var_b) = (_delong_by_definition(*sample) for sample in samples)
    assert auc_a == pytest.approx(roc_auc_score(samples[0][0], samples[0][1]))
    assert result.difference == pytest.approx(auc_b - auc_a)
    z = (auc_b - auc_a) / math.sqrt(var_a + var_b)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_delong_needs_two_of_each_class():
    positive = np.array([True, False, False, False])
    scores = np.array([0.9, 0.1, 0.2, 0.3])
    result = delong_test(positive, scores, positive, scores)
    assert math.isnan(result.p_value) and "2 positive" in (result.reason or "")
