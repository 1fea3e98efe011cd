"""positive_rate, class_share, prediction_mean and score_mean."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.errors import MetricError
from monitor.metrics import output, task
from monitor.metrics.output import compute_output

from .point_contract import check_points, run_doctests

BINARY: dict[str, Any] = {"task": "binary_classification", "positive_label": 1}


def test_positive_rate_compares_classes_as_strings() -> None:
    # 1, "1" and 1.0 are the positive class; None is left out: 3 of 5.
    points = check_points(compute_output([1, "1", 0, 1.0, None, "0"], **BINARY))
    rate = points[("positive_rate", None)]
    assert rate.value == 0.6
    assert rate.details == {"positive_label": "1", "n_positive": 3, "n": 5, "n_missing": 1}
    assert points[("class_share", "1")].value == 0.6
    assert points[("class_share", "0")].value == 0.4


def test_string_positive_label_matches_numeric_predictions() -> None:
    points = check_points(compute_output(np.array([1, 0, 0, 0]), task="binary_classification", positive_label="1"))
    assert points[("positive_rate", None)].value == 0.25


def test_known_classes_are_reported_even_when_absent() -> None:
    points = compute_output(["a", "b", "a", "c"], task="multiclass_classification", classes=["d", "a"])
    check_points(points)
    assert [(p.feature, p.value) for p in points] == [("d", 0.0), ("a", 0.5), ("b", 0.25), ("c", 0.25)]
    assert all(p.metric == "class_share" for p in points)


def test_only_the_most_frequent_classes_get_a_point() -> None:
    predictions = ["c"] + ["a"] * 3 + ["b"] * 2
    points = compute_output(predictions, task="multiclass_classification", classes=["z"], max_classes=2)
    check_points(points)
    assert [(p.feature, p.value) for p in points] == [("z", 0.0), ("a", 0.5), ("b", pytest.approx(2 / 6))]
    assert points[1].details == {"n_class": 3, "n": 6, "n_missing": 0, "n_classes": 3}


@pytest.mark.parametrize("max_classes", [0, -1, True, 2.5])
def test_max_classes_must_be_a_positive_integer(max_classes: Any) -> None:
    with pytest.raises(MetricError, match=r"use e\.g\. 100"):
        compute_output(["a"], task="multiclass_classification", max_classes=max_classes)


def test_multiclass_has_no_positive_rate_and_ignores_positive_label() -> None:
    points = check_points(compute_output(["a", "b"], task="multiclass_classification", positive_label="a"))
    assert set(points) == {("class_share", "a"), ("class_share", "b")}


def test_regression_mean_ignores_non_numbers() -> None:
    points = check_points(compute_output([1, 2, 3.5, None, "x"], task="regression"))
    mean = points[("prediction_mean", None)]
    assert mean.value == pytest.approx(6.5 / 3)
    assert mean.details == {"n": 3, "n_unusable": 2}


def test_score_mean_over_non_null_scores() -> None:
    points = check_points(compute_output([1, 0, 1], **BINARY, scores=[0.2, None, 0.6]))
    assert points[("score_mean", None)].value == pytest.approx(0.4)
    assert points[("score_mean", None)].details == {"n": 2}


@pytest.mark.parametrize("scores", [None, [None, None], pd.Series([np.nan, np.nan])])
def test_score_mean_is_omitted_without_scores(scores: Any) -> None:
    points = check_points(compute_output([1, 0], **BINARY, scores=scores))
    assert ("score_mean", None) not in points


def test_empty_binary_window_gives_nan_with_reason() -> None:
    points = check_points(compute_output([], **BINARY, scores=[]))
    assert set(points) == {("positive_rate", None), ("class_share", "1")}
    for point in points.values():
        assert math.isnan(point.value)
        assert "empty window" in point.details["reason"]


def test_empty_multiclass_window_without_known_classes_has_no_points() -> None:
    assert compute_output([], task="multiclass_classification") == []


def test_all_null_predictions() -> None:
    points = check_points(compute_output([None, None], **BINARY))
    assert math.isnan(points[("positive_rate", None)].value)
    assert points[("positive_rate", None)].details["reason"] == "no non-missing prediction in the window"


@pytest.mark.parametrize("column", [[], [None, "x"]])
def test_regression_without_numbers_is_nan(column: list[object]) -> None:
    points = check_points(compute_output(column, task="regression"))
    assert math.isnan(points[("prediction_mean", None)].value)


def test_single_class_window() -> None:
    points = check_points(compute_output([0, 0, 0], **BINARY))
    assert points[("positive_rate", None)].value == 0.0
    assert points[("class_share", "1")].value == 0.0
    assert points[("class_share", "0")].value == 1.0


def test_binary_needs_a_positive_label() -> None:
    with pytest.raises(MetricError, match=re.escape("set models.<model>.positive_label")):
        compute_output([1], task="binary_classification")


def test_unknown_task_names_the_choices() -> None:
    with pytest.raises(MetricError, match="one of binary_classification, multiclass_classification, regression"):
        compute_output([1], task="ranking")


@pytest.mark.parametrize("module", [output, task])
def test_docstring_examples(module: Any) -> None:
    run_doctests(module)
