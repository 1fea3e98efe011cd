"""Performance estimation and multivariate drift in every window, fitted once per reference.

``models.<name>.estimation`` turns it on (see the README). Three parts:

- :mod:`monitor.jobs.estimation_fit` learns from the reference set once (CBPE's
  calibrator, DLE's loss models, PCA or the domain classifier, learned thresholds) and
  :mod:`monitor.jobs.estimation_store` stores the fit in ``reference_models``;
  :func:`load_or_fit` loads it or refits.
- :mod:`monitor.jobs.estimation_points` turns the fit and one window's rows into the
  window's ``estimated_<metric>`` and ``multivariate_drift`` points (pure).

This module names what the window job uses of them.
"""

from __future__ import annotations

from monitor.jobs.estimation_fit import MULTIVARIATE_METRIC, FittedEstimators, fit_estimators
from monitor.jobs.estimation_points import ESTIMATION_PARTS, MIN_WINDOW_ROWS, canonical_order, estimation_points
from monitor.jobs.estimation_store import StoredFit, load_or_fit

__all__ = [
    "ESTIMATION_PARTS",
    "MIN_WINDOW_ROWS",
    "MULTIVARIATE_METRIC",
    "FittedEstimators",
    "StoredFit",
    "canonical_order",
    "estimation_points",
    "fit_estimators",
    "load_or_fit",
]
