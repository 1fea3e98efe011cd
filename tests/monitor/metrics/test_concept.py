"""label_drift_score, performance_drop and concept_drift."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from monitor.errors import MetricError
from monitor.metrics import concept
from monitor.metrics.concept import compute_concept_drift, two_proportion_z_test

from .point_contract import check_points, run_doctests

WINDOW = 500
FLIP_AT = 2_500  # row of the stream where the label relationship flips (a window boundary)


def concept_points(
    task: str, window: tuple[Any, Any], reference: tuple[Any, Any] | None, **options: Any
) -> dict[str, Any]:
    points = compute_concept_drift(
        task=task,
        window_predictions=window[0],
        window_labels=window[1],
        reference_predictions=None if reference is None else reference[0],
        reference_labels=None if reference is None else reference[1],
        **options,
    )
    assert [p.metric for p in points] == ["label_drift_score", "performance_drop", "concept_drift"]
    return {metric: point for (metric, _), point in check_points(points).items()}


# -- known answers -------------------------------------------------------------------------------


def test_two_proportion_z_test_by_hand() -> None:
    # Pooled p = 0.8; se = sqrt(0.8 * 0.2 * (1/100 + 1/100)) = sqrt(0.0032); z = 0.2 / se.
    z, p = two_proportion_z_test(90, 100, 70, 100)
    assert z == pytest.approx(0.2 / math.sqrt(0.0032), rel=1e-12)
    assert p == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), rel=1e-9)


def test_two_proportion_z_test_with_nothing_to_compare() -> None:
    assert two_proportion_z_test(10, 10, 5, 5) == (0.0, 1.0)


@pytest.mark.parametrize("counts", [(1, 0, 1, 1), (5, 4, 1, 1), (1, 1, -1, 1)])
def test_two_proportion_z_test_rejects_impossible_counts(counts: tuple[int, int, int, int]) -> None:
    with pytest.raises(MetricError, match="count correct predictions out of labelled predictions"):
        two_proportion_z_test(*counts)


def test_classification_known_answer() -> None:
    # Reference: 90 of 100 right; window: 60 of 100 right (all predictions 1).
    got = concept_points("binary_classification", ([1] * 100, [1] * 60 + [0] * 40), ([1] * 100, [1] * 90 + [0] * 10))
    drop = got["performance_drop"]
    assert drop.value == pytest.approx(0.3)
    assert (drop.details["reference_value"], drop.details["window_value"]) == (0.9, 0.6)
    drift = got["concept_drift"]
    z = 0.3 / math.sqrt(0.75 * 0.25 * 0.02)
    assert drift.value == 1.0 and drift.is_breach is True and drift.threshold == 0.05
    assert drift.details["test"] == "two_proportion_z_one_sided"
    assert drift.details["statistic"] == pytest.approx(z, rel=1e-12)
    assert drift.details["p_value"] == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert (drift.details["n_reference"], drift.details["n_window"]) == (100, 100)


def test_label_drift_chi_square_by_hand() -> None:
    # Table [[50, 50], [80, 20]]: expected 65/35 per row, chi2 = 2 (15²/65 + 15²/35), 1 dof.
    got = concept_points(
        "binary_classification", ([0] * 100, ["a"] * 80 + ["b"] * 20), ([0] * 100, ["a"] * 50 + ["b"] * 50)
    )
    label = got["label_drift_score"]
    chi2 = 2 * (15**2 / 65 + 15**2 / 35)
    assert label.details["test"] == "chi2_contingency"
    assert label.details["statistic"] == pytest.approx(chi2, rel=1e-12)
    assert label.value == pytest.approx(math.erfc(math.sqrt(chi2 / 2)), rel=1e-9)  # chi2(1) survival
    assert label.is_breach is True and label.threshold == 0.05


def test_label_drift_with_a_new_class_and_a_single_class() -> None:
    new_class = concept_points(
        "multiclass_classification", (["a"] * 10, ["a"] * 5 + ["z"] * 5), (["a"] * 10, ["a"] * 10)
    )["label_drift_score"]
    assert new_class.details["n_classes"] == 2 and new_class.is_breach is True
    same = concept_points("multiclass_classification", (["a"] * 3, ["a"] * 3), (["a"] * 5, ["a"] * 5))
    assert same["label_drift_score"].value == 1.0 and same["label_drift_score"].is_breach is False


def test_regression_label_drift_is_ks_exact() -> None:
    # Disjoint samples of 4: D = 1, exact two-sided p = 2 / C(8, 4) = 1/35.
    got = concept_points("regression", ([0.0] * 4, [5.0, 6.0, 7.0, 8.0]), ([0.0] * 4, [1.0, 2.0, 3.0, 4.0]))
    assert got["label_drift_score"].details["test"] == "ks_2samp"
    assert got["label_drift_score"].details["statistic"] == 1.0
    assert got["label_drift_score"].value == pytest.approx(1 / 35, rel=1e-9)


def test_regression_drop_is_window_rmse_minus_reference_rmse() -> None:
    # Reference errors all 1 (RMSE 1); window errors 3, 3, 3, 3 (RMSE 3): drop = +2 (worse).
    got = concept_points("regression", ([0.0] * 4, [3.0, -3.0, 3.0, -3.0]), ([0.0] * 6, [1.0, -1.0] * 3))
    assert got["performance_drop"].value == pytest.approx(2.0)
    assert got["concept_drift"].details["test"] == "mannwhitneyu_abs_error_greater"
    assert got["concept_drift"].value == 1.0


def test_improvement_is_a_negative_drop_and_no_drift() -> None:
    got = concept_points("binary_classification", ([1] * 100, [1] * 100), ([1] * 100, [1] * 80 + [0] * 20))
    assert got["performance_drop"].value == pytest.approx(-0.2)
    assert got["concept_drift"].value == 0.0 and got["concept_drift"].is_breach is False


def test_min_drop_holds_back_a_significant_but_small_drop() -> None:
    window = ([1] * 1000, [1] * 850 + [0] * 150)
    reference = ([1] * 1000, [1] * 900 + [0] * 100)
    assert concept_points("binary_classification", window, reference)["concept_drift"].value == 1.0
    held = concept_points("binary_classification", window, reference, min_drop=0.1)["concept_drift"]
    assert held.value == 0.0 and held.details["p_value"] < 0.05 and held.details["min_drop"] == 0.1


def test_identical_errors_give_no_drift() -> None:
    got = concept_points("regression", ([0.0] * 3, [1.0] * 3), ([0.0] * 3, [1.0] * 3))
    assert got["performance_drop"].value == 0.0
    assert got["concept_drift"].value == 0.0 and got["concept_drift"].details["p_value"] == 1.0


# -- degenerate input ------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["binary_classification", "regression"])
def test_no_window_labels(task: str) -> None:
    got = concept_points(task, ([1, 0], [None, None]), ([1, 0], [1, 0]))
    for point in got.values():
        assert math.isnan(point.value)
    assert got["concept_drift"].details["reason"] == "no labelled predictions in the window"


@pytest.mark.parametrize("task", ["binary_classification", "regression"])
def test_empty_window(task: str) -> None:
    got = concept_points(task, ([], []), ([1, 0], [1, 0]))
    assert all(math.isnan(p.value) for p in got.values())


def test_reference_without_labels_says_the_fix() -> None:
    got = concept_points("binary_classification", ([1, 0], [1, 0]), None)
    for point in got.values():
        assert math.isnan(point.value)
        assert "add a label column to the model's reference data" in point.details["reason"]


def test_reference_without_predictions_still_has_label_drift() -> None:
    points = compute_concept_drift(
        task="binary_classification",
        window_predictions=[1, 0],
        window_labels=[1, 0],
        reference_predictions=None,
        reference_labels=[1, 0],
    )
    got = {p.metric: p for p in points}
    assert got["label_drift_score"].value == 1.0
    assert "add a prediction column" in got["concept_drift"].details["reason"]


def test_reference_with_only_unlabelled_rows() -> None:
    got = concept_points("binary_classification", ([1, 0], [1, 0]), ([1, 0], [None, None]))
    assert got["concept_drift"].details["reason"] == "no labelled predictions in the reference"
    assert got["label_drift_score"].details["reason"] == "no labels in the reference"


def test_single_labelled_row_in_window() -> None:
    got = concept_points("binary_classification", ([1], [0]), ([1] * 50, [1] * 50))
    assert got["performance_drop"].value == 1.0
    assert got["concept_drift"].details["n_window"] == 1


@pytest.mark.parametrize(
    ("options", "fix"),
    [
        ({"alpha": 0.0}, "use e.g. 0.05"),
        ({"alpha": 1.5}, "between 0 and 1"),
        ({"alpha": math.nan}, "between"),
        ({"min_drop": -0.1}, "use 0.0 for any drop"),
        ({"min_drop": math.inf}, "finite"),
        ({"task": "ranking"}, "set models.<model>.task"),
    ],
)
def test_invalid_parameters_say_the_fix(options: dict[str, Any], fix: str) -> None:
    arguments: dict[str, Any] = {
        "task": "binary_classification",
        "window_predictions": [1],
        "window_labels": [1],
        "reference_predictions": [1],
        "reference_labels": [1],
    }
    with pytest.raises(MetricError, match=fix):
        compute_concept_drift(**{**arguments, **options})


# -- seeded streams whose label relationship flips -----------------------------------------------------


def classification_stream(rng: np.random.Generator, n: int, flip_at: int) -> tuple[npt.NDArray[Any], ...]:
    """The model says x > 0; the truth agrees 90% of the time, then flips at ``flip_at``."""
    x = rng.normal(size=n)
    predictions = (x > 0).astype(int)
    truth = (x > 0) != (rng.random(n) < 0.1)
    truth[flip_at:] = ~truth[flip_at:]
    return predictions, truth.astype(int)


def regression_stream(rng: np.random.Generator, n: int, flip_at: int) -> tuple[npt.NDArray[Any], ...]:
    """The model says 2x; the truth is 2x + noise, then -2x + noise from ``flip_at``."""
    x = rng.normal(size=n)
    slope = np.where(np.arange(n) < flip_at, 2.0, -2.0)
    return 2.0 * x, slope * x + rng.normal(scale=0.5, size=n)


@pytest.mark.parametrize(
    ("task", "stream"),
    [("binary_classification", classification_stream), ("regression", regression_stream)],
)
def test_concept_drift_fires_exactly_after_the_flip(task: str, stream: Any) -> None:
    rng = np.random.default_rng(20260101)
    reference = stream(rng, 5_000, flip_at=5_000)
    predictions, labels = stream(rng, 2 * FLIP_AT, flip_at=FLIP_AT)
    flags, label_drift = [], []
    for start in range(0, 2 * FLIP_AT, WINDOW):
        rows = slice(start, start + WINDOW)
        got = concept_points(task, (predictions[rows], labels[rows]), reference)
        flags.append(got["concept_drift"].value)
        label_drift.append(got["label_drift_score"].is_breach)
        assert (got["performance_drop"].value > 0.3) == (start >= FLIP_AT)
    assert flags == [0.0] * 5 + [1.0] * 5
    # The labels' own distribution does not move (x is symmetric): only the relation does.
    assert not any(label_drift)


def test_docstring_examples() -> None:
    run_doctests(concept)
