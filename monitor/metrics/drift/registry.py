"""Every drift method by its Evidently key, and the look-ups the rest of the code uses.

The keys are Evidently 0.7.23's ``StatTest.name`` values, so a config or a CLI
result written with them means the same test in both tools. Evidently's text-only
tests (``perc_text_content_drift``, ``abs_text_content_drift``) are not tabular
and are not offered. Two long aliases are accepted for the short Evidently keys:
``energy_distance`` for ``ed`` and ``epps_singleton`` for ``es``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from monitor.errors import MetricError
from monitor.metrics.drift.binned_distances import HELLINGER, JENSEN_SHANNON, KL_DIV, PSI
from monitor.metrics.drift.categorical_tests import CHISQUARE, FISHER_EXACT, G_TEST, Z_TEST
from monitor.metrics.drift.cdf_distances import ENERGY_DISTANCE, WASSERSTEIN
from monitor.metrics.drift.method import DriftMethod
from monitor.metrics.drift.numeric_tests import (
    ANDERSON,
    CRAMER_VON_MISES,
    EPPS_SINGLETON,
    KS,
    MANN_WHITNEY,
    T_TEST,
)
from monitor.metrics.drift.permutation_tests import EMPIRICAL_MMD, TVD

__all__ = ["DRIFT_METHODS", "default_threshold", "get_method", "method_names"]

DRIFT_METHODS: Final[Mapping[str, DriftMethod]] = MappingProxyType(
    {
        method.name: method
        for method in (
            KS,
            CHISQUARE,
            Z_TEST,
            PSI,
            WASSERSTEIN,
            JENSEN_SHANNON,
            KL_DIV,
            HELLINGER,
            ANDERSON,
            CRAMER_VON_MISES,
            MANN_WHITNEY,
            T_TEST,
            ENERGY_DISTANCE,
            EMPIRICAL_MMD,
            TVD,
            FISHER_EXACT,
            G_TEST,
            EPPS_SINGLETON,
        )
    }
)
"""Evidently method key -> :class:`DriftMethod`."""

_ALIASES: Final[Mapping[str, str]] = MappingProxyType({"energy_distance": "ed", "epps_singleton": "es"})


def get_method(name: str) -> DriftMethod:
    """The drift method called ``name`` (an Evidently key such as ``"ks"`` or ``"psi"``).

    >>> get_method("psi").default_threshold
    0.1
    """
    method = DRIFT_METHODS.get(_ALIASES.get(name, name)) if isinstance(name, str) else None
    if method is None:
        raise MetricError(f"unknown drift method {name!r}; use 'auto' or one of: {', '.join(method_names())}")
    return method


def method_names() -> tuple[str, ...]:
    """All method keys, sorted case-insensitively."""
    return tuple(sorted(DRIFT_METHODS, key=str.lower))


def default_threshold(method: str) -> float:
    """Evidently's default threshold for ``method``.

    >>> default_threshold("ks"), default_threshold("wasserstein")
    (0.05, 0.1)
    """
    return get_method(method).default_threshold
