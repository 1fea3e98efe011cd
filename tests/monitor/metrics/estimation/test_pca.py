"""PCA reconstruction: encoding of categories and missing values, and the thresholds it learns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitor.metrics.estimation import fit_reconstruction


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    x = rng.normal(size=4_000)
    return pd.DataFrame({"x": x, "y": 2 * x + rng.normal(0, 0.1, 4_000),
                         "city": rng.choice(["a", "b"], 4_000, p=[0.75, 0.25])})


def test_unseen_category_counts_as_never_seen_and_missing_values_are_imputed(reference):
    fitted = fit_reconstruction(reference, ["x", "y", "city"], chunk_size=1_000)
    share_a = float((reference["city"] == "a").mean())
    rows = pd.DataFrame({"x": [np.nan, 0.0], "y": [0.0, 0.0], "city": ["zz", None]})
    encoded = fitted.encode(rows)
    scale, mean = fitted.scaler.scale_[2], fitted.scaler.mean_[2]
    assert encoded[0, 2] == pytest.approx((0.0 - mean) / scale)  # unseen category: frequency 0
    assert encoded[1, 2] == pytest.approx((share_a - mean) / scale)  # missing: the most frequent, "a"
    assert encoded[0, 0] == pytest.approx((reference["x"].mean() - fitted.scaler.mean_[0]) / fitted.scaler.scale_[0])


def test_thresholds_hold_the_reference_and_broken_relations_alert(reference):
    fitted = fit_reconstruction(reference, ["x", "y", "city"], chunk_size=1_000)
    same = fitted.estimate(reference)
    assert not same.alert
    broken = reference.assign(y=np.random.default_rng(5).permutation(reference["y"].to_numpy()))
    report = fitted.estimate(broken)
    assert all(chunk.metrics["reconstruction_error"].alert for chunk in report.chunks)
    assert all(chunk.metrics["reconstruction_error"].value > fitted.upper_threshold for chunk in report.chunks)
