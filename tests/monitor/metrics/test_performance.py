"""label_count, label_coverage, classification and regression performance."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from monitor.errors import MetricError
from monitor.metrics import pairs, performance
from monitor.metrics.performance import compute_performance, rank_auc

from .point_contract import check_points, run_doctests, values

BINARY: dict[str, Any] = {"task": "binary_classification", "positive_label": 1}


def confusion(tp: int, fp: int, fn: int, tn: int) -> tuple[list[int], list[int]]:
    """(predictions, labels) with exactly that confusion matrix for positive class 1."""
    predictions = [1] * tp + [1] * fp + [0] * fn + [0] * tn
    labels = [1] * tp + [0] * fp + [1] * fn + [0] * tn
    return predictions, labels


# -- classification known answers -----------------------------------------------------------------


def test_binary_metrics_from_a_fixed_confusion_matrix() -> None:
    predictions, labels = confusion(tp=30, fp=10, fn=20, tn=40)
    got = values(compute_performance(predictions, labels, **BINARY))
    # precision 30/40, recall 30/50, f1 = 2*30 / (60 + 10 + 20) = 2/3.
    assert got == pytest.approx(
        {
            "label_count": 100.0,
            "label_coverage": 1.0,
            "accuracy": 0.7,
            "precision": 0.75,
            "recall": 0.6,
            "f1": 2 / 3,
            "roc_auc": math.nan,
        },
        nan_ok=True,
    )


def test_binary_details_carry_the_confusion_matrix() -> None:
    predictions, labels = confusion(tp=3, fp=1, fn=2, tn=4)
    points = check_points(compute_performance(predictions, labels, **BINARY))
    assert points[("f1", None)].details == {"positive_label": "1", "tp": 3, "fp": 1, "fn": 2, "tn": 4}


def test_multiclass_macro_average_by_hand() -> None:
    # actual -> predicted: a->a x3, a->b, b->b x2, b->c x2, c->c, c->a.
    actual = ["a"] * 4 + ["b"] * 4 + ["c"] * 2
    predicted = ["a", "a", "a", "b", "b", "b", "c", "c", "c", "a"]
    got = values(compute_performance(predicted, actual, task="multiclass_classification"))
    # precision a 3/4, b 2/3, c 1/3; recall a 3/4, b 2/4, c 1/2; f1 a 3/4, b 4/7, c 2/5.
    assert got["accuracy"] == 0.6
    assert got["precision"] == pytest.approx((3 / 4 + 2 / 3 + 1 / 3) / 3)
    assert got["recall"] == pytest.approx((3 / 4 + 1 / 2 + 1 / 2) / 3)
    assert got["f1"] == pytest.approx(241 / 420)
    assert "roc_auc" not in got


def test_multiclass_class_never_predicted_counts_zero_precision() -> None:
    points = check_points(compute_performance(["a", "a", "b"], ["a", "c", "b"], task="multiclass_classification"))
    # precision a 1/2, b 1, c 0 (never predicted); recall a 1, b 1, c 0.
    assert points[("precision", None)].value == pytest.approx(0.5)
    assert points[("recall", None)].value == pytest.approx(2 / 3)
    assert points[("precision", None)].details["never_predicted"] == ["c"]
    assert points[("precision", None)].details["never_labelled"] == []


def test_roc_auc_with_ties_by_hand() -> None:
    # Positives score 0.4, 0.8, 0.4; negatives 0.1, 0.4, 0.9. Of the 9 pairs the
    # positives win 1+0.5+0, 1+1+0, 1+0.5+0 = 5 (a tie counts 1/2): AUC = 5/9.
    labels = [0, 1, 0, 1, 1, 0]
    scores = [0.1, 0.4, 0.4, 0.8, 0.4, 0.9]
    points = check_points(compute_performance([1] * 6, labels, **BINARY, scores=scores))
    auc = points[("roc_auc", None)]
    assert auc.value == pytest.approx(5 / 9, rel=1e-12)
    assert auc.details == {"n": 6, "n_positive": 3, "n_negative": 3, "ties": "average rank"}


def test_roc_auc_uses_only_labelled_rows_with_scores() -> None:
    labels = [0, 1, None, 1, 0]
    scores = [0.2, 0.9, 0.0, None, 0.1]
    points = check_points(compute_performance([0, 1, 0, 1, 0], labels, **BINARY, scores=scores))
    assert points[("roc_auc", None)].value == 1.0
    assert points[("roc_auc", None)].details["n"] == 3


@pytest.mark.parametrize(
    ("labels", "scores", "reason"),
    [
        ([1, 1, 1], [0.1, 0.5, 0.9], "only one class"),
        ([0, 1, 1], None, "no scores: the model sends no score"),
        ([0, 1, 1], [None, None, None], "no scores on the labelled predictions"),
    ],
)
def test_roc_auc_degenerate_is_nan_with_reason(labels: list[int], scores: list[Any] | None, reason: str) -> None:
    points = check_points(compute_performance([1, 1, 1], labels, **BINARY, scores=scores))
    assert math.isnan(points[("roc_auc", None)].value)
    assert reason in points[("roc_auc", None)].details["reason"]


def test_binary_precision_undefined_without_positive_predictions() -> None:
    got = check_points(compute_performance([0, 0, 0], [0, 1, 0], **BINARY))
    assert math.isnan(got[("precision", None)].value)
    assert got[("precision", None)].details["reason"] == "no positive prediction among the labelled rows"
    assert got[("recall", None)].value == 0.0
    assert got[("f1", None)].value == 0.0


def test_binary_only_negatives_everywhere() -> None:
    got = check_points(compute_performance([0, 0], [0, 0], **BINARY))
    assert got[("accuracy", None)].value == 1.0
    for metric in ("precision", "recall", "f1"):
        assert math.isnan(got[(metric, None)].value)


def test_classes_compare_as_strings() -> None:
    got = values(compute_performance(["1", 0, 1.0], [1, "0", "1"], **BINARY))
    assert got["accuracy"] == 1.0


# -- labels and coverage ---------------------------------------------------------------------------


def test_label_count_and_coverage() -> None:
    got = values(compute_performance([1, 1, 0, 0, 1], [1, 0, 0, 1, None], **BINARY))
    assert (got["label_count"], got["label_coverage"]) == (4.0, 0.8)


@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification", "regression"])
def test_no_labels_gives_zero_coverage_and_nan_metrics(task: str) -> None:
    points = check_points(compute_performance([1, 0, 1], [None, None, np.nan], task=task, positive_label=1))
    assert points[("label_count", None)].value == 0.0
    assert points[("label_coverage", None)].value == 0.0
    others = [p for (metric, _), p in points.items() if not metric.startswith("label_")]
    assert others
    for point in others:
        assert math.isnan(point.value)
        assert point.details["reason"] == "no labels in the window"


@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification", "regression"])
def test_empty_window(task: str) -> None:
    points = check_points(compute_performance([], [], task=task, positive_label=1, scores=[]))
    assert points[("label_count", None)].value == 0.0
    assert math.isnan(points[("label_coverage", None)].value)
    assert "empty window" in points[("label_coverage", None)].details["reason"]
    assert all(math.isnan(p.value) for (metric, _), p in points.items() if metric != "label_count")


def test_misaligned_columns_say_the_fix() -> None:
    with pytest.raises(MetricError, match="row-aligned: got 3 and 2 rows; pass one labels value per prediction"):
        compute_performance([1, 0, 1], [1, 0], **BINARY)
    with pytest.raises(MetricError, match="predictions and scores must be row-aligned"):
        compute_performance([1, 0], [1, 0], **BINARY, scores=[0.5])


def test_series_with_different_indexes_align_by_position() -> None:
    predictions = pd.Series([1, 0], index=[5, 6])
    labels = pd.Series([1, 0], index=[0, 1])
    assert values(compute_performance(predictions, labels, **BINARY))["accuracy"] == 1.0


# -- regression known answers ------------------------------------------------------------------------


def test_regression_metrics_by_hand() -> None:
    labels = [3, -0.5, 2, 7]
    predictions = [2.5, 0.0, 2, 8]
    got = values(compute_performance(predictions, labels, task="regression"))
    # errors 0.5, 0.5, 0, 1; SS_res 1.5; mean label 2.875; SS_tot 29.1875 = 467/16.
    assert got["mae"] == 0.5
    assert got["rmse"] == pytest.approx(math.sqrt(0.375), rel=1e-15)
    assert got["mape"] == pytest.approx(55 / 168, rel=1e-15)  # (1/6 + 1 + 0 + 1/7) / 4
    assert got["r2"] == pytest.approx(443 / 467, rel=1e-15)


def test_mape_ignores_zero_labels_and_says_so() -> None:
    points = check_points(compute_performance([1, 3], [0, 2], task="regression"))
    assert points[("mape", None)].value == 0.5
    assert points[("mape", None)].details["n_zero_labels_ignored"] == 1
    assert points[("mape", None)].details["unit"] == "fraction"


def test_mape_with_only_zero_labels_is_nan() -> None:
    points = check_points(compute_performance([1, 3], [0, 0], task="regression"))
    assert math.isnan(points[("mape", None)].value)
    assert points[("mae", None)].value == 2.0


@pytest.mark.parametrize(("predictions", "labels"), [([1.0], [2.0]), ([1.0, 2.0], [5.0, 5.0])])
def test_r2_is_nan_for_constant_labels(predictions: list[float], labels: list[float]) -> None:
    points = check_points(compute_performance(predictions, labels, task="regression"))
    assert math.isnan(points[("r2", None)].value)
    assert "constant" in points[("r2", None)].details["reason"]


def test_regression_skips_non_numeric_rows() -> None:
    points = check_points(compute_performance([1.0, "x", 3.0, 4.0], [2.0, 1.0, "y", None], task="regression"))
    assert points[("mae", None)].value == 1.0
    assert points[("mae", None)].details == {"n": 1, "n_unusable": 2}


# -- against independent implementations on random data ---------------------------------------------


def scipy_auc(positive: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> float:
    u = stats.mannwhitneyu(scores[positive], scores[~positive]).statistic
    return float(u) / float(positive.sum() * (~positive).sum())


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5) | st.floats(0, 1)), min_size=2, max_size=60))
def test_rank_auc_equals_mann_whitney_u(rows: list[tuple[bool, float]]) -> None:
    positive = np.array([p for p, _ in rows], dtype=bool)
    scores = np.array([s for _, s in rows], dtype=np.float64)
    if positive.all() or not positive.any():
        assert math.isnan(rank_auc(positive, scores))
    else:
        assert rank_auc(positive, scores) == pytest.approx(scipy_auc(positive, scores), rel=1e-12)


def test_rank_auc_rejects_misaligned_or_non_finite_input() -> None:
    with pytest.raises(MetricError, match="pass one score per labelled prediction"):
        rank_auc(np.array([True, False]), np.array([0.5]))
    with pytest.raises(MetricError, match="drop the rows without a score"):
        rank_auc(np.array([True, False]), np.array([0.5, np.nan]))


def reference_scores(predicted: Sequence[str], actual: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    """Macro precision/recall/f1 the long way: count every class in loops."""
    precisions, recalls, f1s = [], [], []
    for c in classes:
        tp = sum(1 for p, a in zip(predicted, actual, strict=True) if p == c and a == c)
        fp = sum(1 for p, a in zip(predicted, actual, strict=True) if p == c and a != c)
        fn = sum(1 for p, a in zip(predicted, actual, strict=True) if p != c and a == c)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    n = len(classes)
    return {"precision": sum(precisions) / n, "recall": sum(recalls) / n, "f1": sum(f1s) / n}


CLASS_ROWS = st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcd")), min_size=1, max_size=60)


@given(CLASS_ROWS)
def test_multiclass_scores_equal_the_reference_implementation(rows: list[tuple[str, str]]) -> None:
    predicted = [p for p, _ in rows]
    actual = [a for _, a in rows]
    got = values(compute_performance(predicted, actual, task="multiclass_classification"))
    expected = reference_scores(predicted, actual, sorted(set(predicted) | set(actual)))
    for metric, value in expected.items():
        assert got[metric] == pytest.approx(value, abs=1e-12)
    assert got["accuracy"] == pytest.approx(sum(p == a for p, a in rows) / len(rows))


@given(CLASS_ROWS)
def test_binary_scores_equal_the_reference_implementation(rows: list[tuple[str, str]]) -> None:
    predicted = [p for p, _ in rows]
    actual = [a for _, a in rows]
    got = values(compute_performance(predicted, actual, task="binary_classification", positive_label="a"))
    tp = sum(p == "a" and a == "a" for p, a in rows)
    fp = sum(p == "a" and a != "a" for p, a in rows)
    fn = sum(p != "a" and a == "a" for p, a in rows)
    expected_precision = tp / (tp + fp) if tp + fp else math.nan
    expected_recall = tp / (tp + fn) if tp + fn else math.nan
    if tp + fp and tp + fn and tp:
        expected_f1 = 2 * expected_precision * expected_recall / (expected_precision + expected_recall)
    else:
        expected_f1 = 0.0 if fp + fn else math.nan
    assert got["precision"] == pytest.approx(expected_precision, nan_ok=True)
    assert got["recall"] == pytest.approx(expected_recall, nan_ok=True)
    assert got["f1"] == pytest.approx(expected_f1, nan_ok=True)


@pytest.mark.parametrize("module", [performance, pairs])
def test_docstring_examples(module: Any) -> None:
    run_doctests(module)
