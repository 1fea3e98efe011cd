"""P-value tests for numeric features: K-S, Anderson-Darling, Cramer-von Mises,
Mann-Whitney U, t-test and Epps-Singleton.

Each calls the same scipy function with the same arguments as Evidently 0.7.23,
on the same clean sample, so the p-value is identical; Evidently's extra
preconditions (which make it raise) give a NaN score with a ``reason`` here.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from scipy import stats

from monitor.metrics.drift.cramer_von_mises import cramer_von_mises_p_value
from monitor.metrics.drift.feature_type import FeatureType
from monitor.metrics.drift.method import DriftMethod, Statistic, captured_warnings, undefined
from monitor.metrics.drift.sample import Sample

__all__ = ["ANDERSON", "CRAMER_VON_MISES", "EPPS_SINGLETON", "KS", "MANN_WHITNEY", "T_TEST"]

_NUMERIC: Final[tuple[FeatureType, ...]] = ("numeric",)


def _ks(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    notes: dict[str, Any] = {}
    with captured_warnings(notes):
        result = stats.ks_2samp(reference, current)
    return Statistic(float(result.pvalue), {"statistic": float(result.statistic), **notes})


def _anderson(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    notes: dict[str, Any] = {}
    try:
        with captured_warnings(notes):
            result = stats.anderson_ksamp([reference, current])
    except (ValueError, IndexError) as exc:  # one distinct value in all; or a single value per sample
        return undefined(f"Anderson-Darling cannot be computed on these samples ({type(exc).__name__}: {exc})")
    return Statistic(float(result.pvalue), {"statistic": float(result.statistic), **notes})


def _cramer_von_mises(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    if len(reference) < 2 or len(current) < 2:
        return undefined("Cramer-von Mises needs at least two values in each sample")
    statistic, p_value = cramer_von_mises_p_value(reference, current)
    return Statistic(p_value, {"statistic": statistic})


def _mann_whitney(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    # Evidently tests the one-sided alternative "reference is stochastically less".
    notes: dict[str, Any] = {}
    with captured_warnings(notes):
        result = stats.mannwhitneyu(x=reference, y=current, alternative="less")
    return Statistic(float(result.pvalue), {"statistic": float(result.statistic), **notes})


def _t_test(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    notes: dict[str, Any] = {}
    with captured_warnings(notes), np.errstate(all="ignore"):
        result = stats.ttest_ind(reference, current)
    p_value = float(result.pvalue)
    if np.isnan(p_value):
        notes["reason"] = "the t statistic is undefined (zero variance in both samples, or too few values)"
    return Statistic(p_value, {"statistic": float(result.statistic), **notes})


def _epps_singleton(reference: Sample, current: Sample, feature_type: FeatureType) -> Statistic:
    if stats.iqr(np.hstack((reference, current))) == 0:
        return undefined("Epps-Singleton needs a non-zero interquartile range of the pooled samples")
    notes: dict[str, Any] = {}
    try:
        with captured_warnings(notes):
            result = stats.epps_singleton_2samp(reference, current)
    except (ValueError, np.linalg.LinAlgError) as exc:
        return undefined(f"Epps-Singleton cannot be computed: {exc}")
    p_value = float(result.pvalue)
    if np.isnan(p_value):
        notes["reason"] = "Epps-Singleton needs at least 5 values in each sample"
    return Statistic(p_value, {"statistic": float(result.statistic), **notes})


KS: Final = DriftMethod(
    name="ks",
    display_name="K-S p_value",
    score_kind="p_value",
    feature_types=_NUMERIC,
    default_threshold=0.05,
    drift_rule="<=",
    compute=_ks,
)
ANDERSON: Final = DriftMethod(
    name="anderson",
    display_name="Anderson-Darling",
    score_kind="p_value",
    feature_types=_NUMERIC,
    default_threshold=0.1,
    drift_rule="<",
    compute=_anderson,
)
CRAMER_VON_MISES: Final = DriftMethod(
    name="cramer_von_mises",
    display_name="Cramer-von Mises",
    score_kind="p_value",
    feature_types=_NUMERIC,
    default_threshold=0.1,
    drift_rule="<=",
    compute=_cramer_von_mises,
)
MANN_WHITNEY: Final = DriftMethod(
    name="mannw",
    display_name="Mann-Whitney U-rank test",
    score_kind="p_value",
    feature_types=_NUMERIC,
    default_threshold=0.05,
    drift_rule="<",
    compute=_mann_whitney,
)
T_TEST: Final = DriftMethod(
    name="t_test",
    display_name="t_test",
    score_kind="p_value",
    feature_types=_NUMERIC,
    default_threshold=0.05,
    drift_rule="<",
    compute=_t_test,
)
EPPS_SINGLETON: Final = DriftMethod(
    name="es",
    display_name="Epps-Singleton",
    score_kind="p_value",
    feature_types=_NUMERIC,
    default_threshold=0.05,
    drift_rule="<",
    compute=_epps_singleton,
)
