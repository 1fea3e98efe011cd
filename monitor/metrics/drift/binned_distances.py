"""Distances between binned distributions: PSI, Kullback-Leibler, Jensen-Shannon and
Hellinger, as Evidently 0.7.23 computes them.

PSI, KL and JS run on :func:`binned_shares` (Evidently's ``get_binned_data``).
Hellinger bins on its own: categories by value; numbers into Sturges bins over the
*distinct* values of both samples, compared as densities, summed left to right.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

from monitor.metrics.drift.binning import binned_shares
from monitor.metrics.drift.category_counts import count_categories
from monitor.metrics.drift.feature_type import FeatureType
from monitor.metrics.drift.method import DriftMethod, Statistic
from monitor.metrics.drift.sample import Sample

__all__ = ["HELLINGER", "JENSEN_SHANNON", "KL_DIV", "PSI"]

_BOTH: Final[tuple[FeatureType, ...]] = ("numeric", "categorical")


def _psi(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    reference_shares, current_shares = binned_shares(reference, current, feature_type=feature_type, fill_zeroes=True)
    terms = (reference_shares - current_shares) * np.log(reference_shares / current_shares)
    return Statistic(float(np.sum(terms)), {"bins": len(terms)})


def _kl_div(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    reference_shares, current_shares = binned_shares(reference, current, feature_type=feature_type, fill_zeroes=True)
    return Statistic(float(stats.entropy(reference_shares, current_shares)), {"bins": len(reference_shares)})


def _jensen_shannon(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    reference_shares, current_shares = binned_shares(reference, current, feature_type=feature_type, fill_zeroes=False)
    score = distance.jensenshannon(reference_shares, current_shares, None)
    return Statistic(float(score), {"bins": len(reference_shares)})


def _hellinger(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    if feature_type == "categorical":
        counts = count_categories(reference, current)
        terms: np.ndarray[Any, Any] = np.sqrt((counts.reference / len(reference)) * (counts.current / len(current)))
    else:
        edges = np.histogram_bin_edges(pd.unique(np.concatenate((reference, current))), bins="sturges")
        n_bins, value_range = edges.size - 1, (edges[0], edges[-1])
        reference_density = np.histogram(reference, bins=n_bins, range=value_range, density=True)[0]
        current_density = np.histogram(current, bins=n_bins, range=value_range, density=True)[0]
        bin_width = (edges.max() - edges.min()) / (len(edges) - 1)
        terms = np.sqrt(reference_density * current_density) * bin_width
    # Evidently adds the terms one by one; a cumulative sum adds in the same order,
    # which matters when the overlap is within rounding of 1.
    overlap = float(np.clip(np.cumsum(terms)[-1], 0, 1))
    return Statistic(float(np.sqrt(1 - overlap)), {"bins": len(terms)})


PSI: Final = DriftMethod(
    name="psi",
    display_name="PSI",
    score_kind="distance",
    feature_types=_BOTH,
    default_threshold=0.1,
    drift_rule=">=",
    compute=_psi,
    counts_categories=True,
)
KL_DIV: Final = DriftMethod(
    name="kl_div",
    display_name="Kullback-Leibler divergence",
    score_kind="distance",
    feature_types=_BOTH,
    default_threshold=0.1,
    drift_rule=">=",
    compute=_kl_div,
    counts_categories=True,
)
JENSEN_SHANNON: Final = DriftMethod(
    name="jensenshannon",
    display_name="Jensen-Shannon distance",
    score_kind="distance",
    feature_types=_BOTH,
    default_threshold=0.1,
    drift_rule=">=",
    compute=_jensen_shannon,
    counts_categories=True,
)
HELLINGER: Final = DriftMethod(
    name="hellinger",
    display_name="Hellinger distance",
    score_kind="distance",
    feature_types=_BOTH,
    default_threshold=0.1,
    drift_rule=">=",
    compute=_hellinger,
    counts_categories=True,
)
