"""prediction_count and error_rate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from monitor.errors import MetricError
from monitor.metrics import traffic
from monitor.metrics.traffic import compute_traffic

from .point_contract import check_points, run_doctests, values


def test_counts_predictions_and_error_share() -> None:
    got = values(compute_traffic(["ok", "error", "ok", "error", "ok"]))
    assert got == {"prediction_count": 5.0, "error_rate": 0.4}


def test_error_rate_details_give_the_counts() -> None:
    points = check_points(compute_traffic(["error", "ok", "ok", "ok"]))
    assert dict(points[("error_rate", None)].details) == {"n_errors": 1, "n_predictions": 4}


def test_missing_status_counts_as_ok() -> None:
    got = values(compute_traffic(["error", None, np.nan, "ok"]))
    assert got == {"prediction_count": 4.0, "error_rate": 0.25}


@pytest.mark.parametrize(
    "status",
    [
        np.array(["ok", "error", "error"]),
        pd.Series(["ok", "error", "error"], index=[10, 20, 30]),
        pd.Series(["ok", "error", "error"], dtype="string"),
        pd.Series(["ok", "error", "error"], dtype="category"),
    ],
)
def test_accepts_arrays_and_series(status: object) -> None:
    got = values(compute_traffic(status))
    assert got["prediction_count"] == 3.0
    assert got["error_rate"] == pytest.approx(2 / 3)


def test_empty_window_has_zero_count_and_nan_error_rate_with_reason() -> None:
    points = check_points(compute_traffic([]))
    assert points[("prediction_count", None)].value == 0.0
    rate = points[("error_rate", None)]
    assert math.isnan(rate.value)
    assert "empty window" in rate.details["reason"]


def test_single_row() -> None:
    assert values(compute_traffic(["error"])) == {"prediction_count": 1.0, "error_rate": 1.0}


def test_rejects_a_scalar_with_a_message_that_says_the_fix() -> None:
    with pytest.raises(MetricError, match=r"must be a column.*one value per row"):
        compute_traffic("ok")  # a str is a Sequence, but not a column


def test_rejects_a_2d_array() -> None:
    with pytest.raises(MetricError, match="must be 1-D"):
        compute_traffic(np.array([["ok"], ["error"]]))


def test_docstring_examples() -> None:
    run_doctests(traffic)
