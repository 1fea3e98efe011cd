"""Evidently's automatic choice of drift method (``_get_default_stattest``, 0.7.23).

The rule looks at the reference size and the number of distinct values in
reference and current together, after missing values are dropped:

=====================  ===========================  ==================================
reference rows         numeric feature              categorical feature
=====================  ===========================  ==================================
<= 1000                ``z`` if <= 2 values,        ``z`` if <= 2 values,
                       ``chisquare`` if 3-5,        ``chisquare`` otherwise
                       ``ks`` otherwise
> 1000                 ``jensenshannon`` if <= 5    ``jensenshannon``
                       values, ``wasserstein``
                       otherwise
=====================  ===========================  ==================================

So a numeric feature with five or fewer distinct values is tested like a
categorical one (``z``/``chisquare``/JS over its values), exactly as Evidently does.
"""

from __future__ import annotations

from typing import Final

from monitor.metrics.drift.binned_distances import JENSEN_SHANNON
from monitor.metrics.drift.categorical_tests import CHISQUARE, Z_TEST
from monitor.metrics.drift.category_counts import count_distinct
from monitor.metrics.drift.cdf_distances import WASSERSTEIN
from monitor.metrics.drift.feature_type import FeatureType, check_feature_type
from monitor.metrics.drift.method import DriftMethod
from monitor.metrics.drift.numeric_tests import KS
from monitor.metrics.drift.sample import FeatureValues, Sample, clean_sample

__all__ = [
    "AUTO",
    "MAX_NUMERIC_VALUES_TESTED_AS_CATEGORIES",
    "SMALL_REFERENCE_MAX_ROWS",
    "choose_method",
    "choose_method_for_samples",
]

AUTO: Final = "auto"
SMALL_REFERENCE_MAX_ROWS: Final = 1000
MAX_NUMERIC_VALUES_TESTED_AS_CATEGORIES: Final = 5
_MAX_BINARY_VALUES: Final = 2


def choose_method(reference: FeatureValues, current: FeatureValues, *, feature_type: FeatureType) -> str:
    """The method key Evidently picks for these two columns.

    >>> import numpy as np
    >>> choose_method(np.arange(500.0), np.arange(500.0), feature_type="numeric")
    'ks'
    >>> choose_method(np.arange(5000.0), np.arange(500.0), feature_type="numeric")
    'wasserstein'
    >>> choose_method(np.array(["a", "b"] * 10), np.array(["a", "c"]), feature_type="categorical")
    'chisquare'
    """
    feature_type = check_feature_type(feature_type)
    return choose_method_for_samples(
        clean_sample(reference, feature_type), clean_sample(current, feature_type), feature_type=feature_type
    ).name


def choose_method_for_samples(reference: Sample, current: Sample, *, feature_type: FeatureType) -> DriftMethod:
    """:func:`choose_method` for samples already cleaned by :func:`clean_sample`."""
    small_reference = len(reference) <= SMALL_REFERENCE_MAX_ROWS
    if feature_type == "categorical":
        if not small_reference:
            return JENSEN_SHANNON
        n_values = count_distinct(reference, current, limit=_MAX_BINARY_VALUES)
        return CHISQUARE if n_values > _MAX_BINARY_VALUES else Z_TEST
    n_values = count_distinct(reference, current, limit=MAX_NUMERIC_VALUES_TESTED_AS_CATEGORIES)
    if n_values > MAX_NUMERIC_VALUES_TESTED_AS_CATEGORIES:
        return KS if small_reference else WASSERSTEIN
    if not small_reference:
        return JENSEN_SHANNON
    return CHISQUARE if n_values > _MAX_BINARY_VALUES else Z_TEST
