"""Isotonic calibration of reference scores, used only when it lowers the calibration error.

The test follows NannyML's ``needs_calibration`` with its defaults: ten stratified
90/10 shuffles of the reference (seed 42); isotonic regression fitted on each 90 % and
applied to its 10 %; calibrate when the expected calibration error (ten equal-count
bins) of the pooled held-out scores drops.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import pairwise

import numpy as np
from sklearn._isotonic import _make_unique  # IsotonicRegression's own tie merging
from sklearn.isotonic import IsotonicRegression, isotonic_regression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection._split import _approximate_mode  # the draws StratifiedShuffleSplit makes

__all__ = ["expected_calibration_error", "fit_calibrator", "isotonic_predictions", "needs_calibration",
           "stratified_splits"]

BIN_COUNT = 10
SPLIT_COUNT = 10
TEST_SHARE = 0.1
SPLIT_SEED = 42
GOOD_ENOUGH_AUC = 0.999  # near-perfect rankers are left alone


def _bin_edges(length: int, bin_count: int) -> list[tuple[int, int]]:
    """Equal-count bins over sorted positions (the last bin takes the remainder).

    >>> _bin_edges(20, 4)
    [(0, 5), (5, 10), (10, 15), (15, 20)]
    """
    if length <= 2 * bin_count:
        bin_count = length // 2
        if bin_count < 2:
            raise ValueError(f"{length} scores are too few to test calibration; at least 4 are needed")
    width = length // bin_count
    edges = list(range(0, length + 1, width))
    edges[-1] = length
    return list(pairwise(edges))


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bin_count: int = BIN_COUNT) -> float:
    """Weighted mean |mean score - share of positives| over equal-count bins of sorted scores.

    >>> round(expected_calibration_error(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9])), 6)
    0.175
    """
    order = np.argsort(scores)
    sorted_scores, sorted_labels = scores[order], labels[order]
    total = len(scores)
    return float(np.sum([
        (right - left) / total * abs(np.mean(sorted_scores[left:right]) - np.mean(sorted_labels[left:right]))
        for left, right in _bin_edges(total, bin_count)
    ]))


def stratified_splits(labels: np.ndarray, n_splits: int = SPLIT_COUNT, test_share: float = TEST_SHARE,
                      seed: int = SPLIT_SEED) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) row indices of ``StratifiedShuffleSplit(n_splits, test_size=test_share,
    random_state=seed).split(labels, labels)``, the same draws from the same random state,
    without building Python lists of every index (several times faster on big references).
    """
    n_test = math.ceil(test_share * len(labels))
    n_train = len(labels) - n_test
    _, class_of_row, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    if class_counts.min() < 2 or n_train < len(class_counts) or n_test < len(class_counts):
        raise ValueError(f"{len(labels)} reference rows are too few to split by class for the calibration test")
    rows_of_class = np.split(np.argsort(class_of_row, kind="stable"), np.cumsum(class_counts)[:-1])
    random = np.random.RandomState(seed)
    for _ in range(n_splits):
        train_counts = _approximate_mode(class_counts, n_train, random)
        test_counts = _approximate_mode(class_counts - train_counts, n_test, random)
        train, test = [], []
        for rows, count, n_in_train, n_in_test in zip(rows_of_class, class_counts, train_counts, test_counts,
                                                      strict=True):
            shuffled = rows.take(random.permutation(count), mode="clip")
            train.append(shuffled[:n_in_train])
            test.append(shuffled[n_in_train:n_in_train + n_in_test])
        yield random.permutation(np.concatenate(train)), random.permutation(np.concatenate(test))


def _isotonic() -> IsotonicRegression:
    return IsotonicRegression(out_of_bounds="clip", increasing=True)


def isotonic_predictions(scores: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray,
                         order: np.ndarray | None = None) -> np.ndarray:
    """``IsotonicRegression(out_of_bounds="clip").fit(scores[train], labels[train]).predict(scores[test])``,
    the same steps without its checks; ``order`` (``np.lexsort((labels, scores))``, once for
    every split) saves sorting each training part again.

    >>> isotonic_predictions(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]), np.arange(4), np.arange(4))
    array([0. , 0.5, 0.5, 1. ])
    """
    scores = np.asarray(scores, dtype=float)
    order = np.lexsort((labels, scores)) if order is None else order
    in_train = np.zeros(len(scores), dtype=bool)
    in_train[train] = True
    rows = order[in_train[order]]  # the training rows sorted by score, then label
    x, y, weights = _make_unique(scores[rows], np.asarray(labels[rows], dtype=float), np.ones(len(rows)))
    fitted = isotonic_regression(y, sample_weight=weights, increasing=True)
    if len(fitted) == 1:
        return np.full(len(test), fitted[0])
    return np.asarray(np.interp(np.clip(scores[test], x[0], x[-1]), x, fitted))


def needs_calibration(labels: np.ndarray, scores: np.ndarray) -> bool:
    """True when isotonic calibration lowers the held-out expected calibration error."""
    if len(np.unique(labels)) == 1 or roc_auc_score(labels, scores) > GOOD_ENOUGH_AUC:
        return False
    scores = np.asarray(scores, dtype=float)
    order = np.lexsort((labels, scores))
    held_labels, held_scores, calibrated = [], [], []
    for train, test in stratified_splits(labels):
        held_labels.append(labels[test])
        held_scores.append(scores[test])
        calibrated.append(isotonic_predictions(scores, labels, train, test, order))
    pooled_labels = np.concatenate(held_labels)
    before = expected_calibration_error(pooled_labels, np.concatenate(held_scores))
    after = expected_calibration_error(pooled_labels, np.concatenate(calibrated))
    return before > after


def fit_calibrator(labels: np.ndarray, scores: np.ndarray) -> IsotonicRegression | None:
    """The isotonic calibrator fitted on the whole reference, or None when calibration does not help."""
    if not needs_calibration(labels, scores):
        return None
    return _isotonic().fit(scores, labels)
