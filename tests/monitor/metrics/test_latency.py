"""Latency percentiles, mean and max."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from monitor.metrics import latency
from monitor.metrics.latency import compute_latency

from .point_contract import check_points, run_doctests, values

NAMES = ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_mean_ms", "latency_max_ms"]


def test_percentiles_of_one_to_hundred_use_linear_interpolation() -> None:
    # Position (n - 1) * p / 100 = 49.5, 94.05, 98.01 in the sorted 1..100.
    got = values(compute_latency(np.random.default_rng(7).permutation(np.arange(1, 101))))
    assert got == pytest.approx(
        {
            "latency_p50_ms": 50.5,
            "latency_p95_ms": 95.05,
            "latency_p99_ms": 99.01,
            "latency_mean_ms": 50.5,
            "latency_max_ms": 100.0,
        },
        rel=1e-12,
    )


def test_percentiles_of_four_values_by_hand() -> None:
    # Positions 1.5, 2.85, 2.97 between 10, 20, 30, 40.
    got = values(compute_latency([40, 10, 30, 20]))
    assert got == pytest.approx(
        {
            "latency_p50_ms": 25.0,
            "latency_p95_ms": 38.5,
            "latency_p99_ms": 39.7,
            "latency_mean_ms": 25.0,
            "latency_max_ms": 40.0,
        },
        rel=1e-12,
    )


def test_points_come_in_the_documented_order() -> None:
    assert [p.metric for p in compute_latency([1.0])] == NAMES


def test_nulls_are_ignored_and_counted() -> None:
    points = check_points(compute_latency(pd.Series([None, 5.0, np.nan, 7.0], dtype=object)))
    assert points[("latency_max_ms", None)].value == 7.0
    assert points[("latency_mean_ms", None)].value == 6.0
    assert points[("latency_p50_ms", None)].details == {"n": 2, "n_missing": 2, "interpolation": "linear"}


def test_single_row_gives_that_value_everywhere() -> None:
    assert set(values(compute_latency([12.5])).values()) == {12.5}


@pytest.mark.parametrize(
    ("column", "reason"),
    [([], "empty window"), ([None, None, None], "no latency_ms in the window (3 predictions without one)")],
)
def test_no_latency_gives_nan_with_a_reason(column: list[object], reason: str) -> None:
    points = compute_latency(column)
    check_points(points)
    assert [p.metric for p in points] == NAMES
    for point in points:
        assert math.isnan(point.value)
        assert reason in point.details["reason"]


def test_docstring_examples() -> None:
    run_doctests(latency)
