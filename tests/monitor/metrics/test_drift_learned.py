"""Thresholds learned from reference chunks: bounded, cached, one-sided, and refused when too few chunks."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.errors import MetricError
from monitor.metrics.drift import compute_feature_drift, get_method
from monitor.metrics.drift.learned import ThresholdLearning, learn_threshold


def test_at_most_max_chunks_are_scored_and_the_result_is_cached():
    rng = np.random.default_rng(3)
    reference = rng.normal(size=6000)
    cache: dict = {}
    learning = ThresholdLearning(chunk_size=50, max_chunks=12, cache=cache, cache_key="ref-1")
    learned = learn_threshold(reference, get_method("wasserstein"), feature_type="numeric", learning=learning)
    assert learned.chunks == 12 and learned.chunk_size == 50  # 120 full chunks, 12 evenly spaced used
    assert learned.threshold == pytest.approx(learned.mean + 3 * learned.std)
    assert len(cache) == 1
    # The cached value is returned as is, whatever the data now is (same reference key).
    again = learn_threshold(reference[:1], get_method("wasserstein"), feature_type="numeric", learning=learning)
    assert again is learned


def test_p_value_methods_learn_on_minus_log10_p():
    rng = np.random.default_rng(4)
    learned = learn_threshold(rng.normal(size=2000), get_method("ks"), feature_type="numeric",
                              learning=ThresholdLearning(chunk_size=100, multiplier=2.0))
    assert learned.scale == "-log10(p_value)"
    assert learned.threshold == pytest.approx(10 ** -(learned.mean + 2 * learned.std))
    assert 0 < learned.threshold < 0.1


def test_too_few_chunks_is_an_error_and_a_feature_not_judged():
    rng = np.random.default_rng(5)
    with pytest.raises(MetricError, match=r"at least 5 chunks of 100 rows.*at least 500 reference values, but the "
                                          r"reference has 499"):
        learn_threshold(rng.normal(size=499), get_method("psi"), feature_type="numeric",
                        learning=ThresholdLearning(chunk_size=100))
    result = compute_feature_drift(rng.normal(size=499), rng.normal(size=100), feature="x", feature_type="numeric",
                                   threshold="reference", learning=ThresholdLearning(chunk_size=100))
    assert not result.judged and "no threshold could be learned" in (result.not_judged_reason or "")
    with pytest.raises(MetricError, match="needs the chunk size"):
        compute_feature_drift(rng.normal(size=499), rng.normal(size=100), feature="x", feature_type="numeric",
                              threshold="reference")
