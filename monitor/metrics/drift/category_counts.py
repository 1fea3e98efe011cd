"""Counting the distinct values of two samples, keyed the way Evidently keys them.

Evidently's category-based tests build their key list as
``list(set(reference.unique()) | set(current.unique()))`` and sum per-key terms in
that order. We count with one hashing pass per sample (``pandas.factorize`` +
``numpy.bincount``; a ``pandas.Categorical`` sample is counted from its codes) and
then build the very same Python set from the (few) distinct values, so the
floating-point sums run in the same order and scores agree to the last bit within
a process. (String hashing is salted per process, so the
order, like Evidently's, can change between processes; that only moves the last
bits of a sum.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from monitor.metrics.drift.sample import Sample

__all__ = ["CategoryCounts", "count_categories", "count_distinct"]


@dataclass(frozen=True, slots=True)
class CategoryCounts:
    """Per-key counts of a reference and a current sample over the union of their keys."""

    keys: list[Any]
    reference: np.ndarray[Any, np.dtype[np.int64]]
    current: np.ndarray[Any, np.dtype[np.int64]]

    @property
    def n_reference(self) -> int:
        return int(self.reference.sum())

    @property
    def n_current(self) -> int:
        return int(self.current.sum())


def count_categories(reference: Sample, current: Sample) -> CategoryCounts:
    """Count each distinct value of both clean samples, in Evidently's key order.

    >>> counts = count_categories(np.array(["a", "b", "a"], dtype=object), np.array(["c"], dtype=object))
    >>> sorted(zip(counts.keys, counts.reference.tolist(), counts.current.tolist()))
    [('a', 2, 0), ('b', 1, 0), ('c', 0, 1)]
    """
    reference_uniques, reference_counts = _unique_counts(reference)
    current_uniques, current_counts = _unique_counts(current)
    keys = list(set(reference_uniques) | set(current_uniques))
    reference_by_key = dict(zip(reference_uniques, reference_counts.tolist(), strict=True))
    current_by_key = dict(zip(current_uniques, current_counts.tolist(), strict=True))
    return CategoryCounts(
        keys=keys,
        reference=np.array([reference_by_key.get(key, 0) for key in keys], dtype=np.int64),
        current=np.array([current_by_key.get(key, 0) for key in keys], dtype=np.int64),
    )


def count_distinct(*samples: Sample, limit: int | None = None) -> int:
    """Number of distinct values across ``samples`` (pandas ``nunique`` semantics).

    With ``limit``, stop early and return ``limit + 1`` as soon as more than
    ``limit`` distinct values are certain, which is all the automatic method choice
    needs to know about a million-row continuous column.

    >>> count_distinct(np.array([1, 2, 2]), np.array([3.0]))
    3
    """
    samples = tuple(_used_values(sample) if isinstance(sample, pd.Categorical) else sample for sample in samples)
    if limit is not None:
        for sample in samples:
            if len(pd.unique(sample[: 16 * (limit + 1)])) > limit:
                return limit + 1
    combined = samples[0] if len(samples) == 1 else np.concatenate(samples)
    return len(pd.unique(combined))


def _unique_counts(sample: Sample) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, np.dtype[np.int64]]]:
    """The distinct values in order of first appearance (as factorize gives them), and their counts."""
    if isinstance(sample, pd.Categorical):
        # Count the codes, not the strings; the order of first appearance from the codes.
        codes = sample.codes[sample.codes >= 0]
        counts = np.bincount(codes, minlength=len(sample.categories)).astype(np.int64)
        order = pd.unique(codes)
        return np.asarray(sample.categories, dtype=object)[order], counts[order]
    codes, uniques = pd.factorize(sample)
    return np.asarray(uniques), np.bincount(codes, minlength=len(uniques)).astype(np.int64)


def _used_values(sample: pd.Categorical) -> np.ndarray[Any, Any]:
    """The categories that occur in ``sample`` (not every category of its dtype)."""
    return _unique_counts(sample)[0]
