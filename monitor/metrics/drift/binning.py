"""Evidently's ``get_binned_data``: two samples as per-bin shares for PSI, KL and JS.

The rule, exactly as Evidently 0.7.23 applies it:

* a numeric feature whose *reference* has more than 20 distinct values is cut into
  Sturges bins computed over reference and current together
  (``numpy.histogram_bin_edges(..., bins="sturges")``);
* anything else (categorical features, numeric ones with few values) gets one bin
  per distinct value seen in either sample;
* shares are counts divided by the sample size; with ``fill_zeroes`` an empty bin
  gets a small share instead of 0 (the smallest non-zero share / 10**6 when that
  is <= 0.0001, else 0.0001) so that logarithms stay finite. PSI and KL fill,
  Jensen-Shannon does not.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from monitor.metrics.drift.category_counts import count_categories, count_distinct
from monitor.metrics.drift.feature_type import FeatureType
from monitor.metrics.drift.sample import Sample

__all__ = ["MAX_VALUES_BINNED_BY_VALUE", "binned_shares"]

MAX_VALUES_BINNED_BY_VALUE: Final = 20
"""A numeric reference with more distinct values than this is cut into Sturges bins."""

Shares = np.ndarray[Any, np.dtype[np.float64]]


def binned_shares(
    reference: Sample, current: Sample, *, feature_type: FeatureType, fill_zeroes: bool
) -> tuple[Shares, Shares]:
    """Per-bin shares of two clean, non-empty samples over common bins.

    >>> ref, cur = binned_shares(np.array(["a", "a", "b"], dtype=object), np.array(["a"], dtype=object),
    ...                          feature_type="categorical", fill_zeroes=False)
    >>> sorted(zip(ref.tolist(), cur.tolist()))
    [(0.3333333333333333, 0.0), (0.6666666666666666, 1.0)]
    """
    if feature_type == "numeric" and count_distinct(reference, limit=MAX_VALUES_BINNED_BY_VALUE) > (
        MAX_VALUES_BINNED_BY_VALUE
    ):
        edges = np.histogram_bin_edges(np.concatenate((reference, current)), bins="sturges")
        # Equal-width bins given as (count, range) take numpy's linear-time path and
        # count exactly as the explicit edges would.
        n_bins, value_range = edges.size - 1, (edges[0], edges[-1])
        reference_shares = np.histogram(reference, bins=n_bins, range=value_range)[0] / len(reference)
        current_shares = np.histogram(current, bins=n_bins, range=value_range)[0] / len(current)
    else:
        counts = count_categories(reference, current)
        reference_shares = counts.reference / len(reference)
        current_shares = counts.current / len(current)
    if fill_zeroes:
        _fill_zeroes(reference_shares)
        _fill_zeroes(current_shares)
    return reference_shares, current_shares


def _fill_zeroes(shares: Shares) -> None:
    smallest = shares[shares != 0].min()
    np.place(shares, shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
