"""Problems of a model's reference (baseline) data that blind or bias a feature's drift test.

A reference feature that has no values (absent, or all missing) or whose values are
of the wrong kind (a numeric feature stored as text, a mix of numbers and strings)
cannot be compared with any window, or only with part of its reference. Without this check such a feature would only
show ``feature_drift_score`` NULL, window after window; instead every window
computed with that reference carries one ``reference_problem`` point per affected
feature (value 1, ``details["reason"]`` saying what to fix), which an alert rule
can watch, and the job notes it in ``job_runs``. A feature without problems has no
point. (A reference that cannot be had at all — file missing, none configured — gives
every feature such a point too, with ``problem: unavailable``; see
:mod:`monitor.jobs.window_metrics`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from monitor.metrics.column import ValueKind, to_series, value_kinds
from monitor.metrics.features import FeatureSpec
from monitor.metrics.point import MetricPoint

__all__ = ["REFERENCE_PROBLEM", "compute_reference_problems", "reference_problem"]

REFERENCE_PROBLEM = "reference_problem"
_EXAMPLES = 3


def reference_problem(values: pd.Series[Any] | None, spec: FeatureSpec, *, feature: str) -> dict[str, Any] | None:
    """What is wrong with one feature's reference column (None when nothing is).

    >>> spec = FeatureSpec(type="numeric")
    >>> reference_problem(pd.Series([1.5, 2.0]), spec, feature="amount") is None
    True
    >>> reference_problem(pd.Series([None, None]), spec, feature="amount")["problem"]
    'no_values'
    >>> found = reference_problem(pd.Series(["1.5", "n/a", 2.0], dtype=object), spec, feature="amount")
    >>> found["problem"], found["n_mismatched"], found["n_values"]
    ('mixed_types', 2, 3)
    >>> reference_problem(pd.Series([10115, 75001]), FeatureSpec(type="categorical"), feature="zip") is None
    True
    """
    if values is None or len(values) == 0:
        return _problem("no_values", f"the reference has no value for feature {feature!r} (column absent or all "
                                     "missing): its drift cannot be judged; fix the reference data or remove the "
                                     "feature", 0, 0)
    column = to_series(values, name=feature)
    kinds = value_kinds(column)
    present = kinds != ValueKind.MISSING
    n_present = int(present.sum())
    if n_present == 0:
        return _problem("no_values", f"every reference value of feature {feature!r} is missing: its drift cannot "
                                     "be judged; fix the reference data or remove the feature", 0, 0)
    if spec.type == "numeric":
        wrong = (kinds == ValueKind.BOOL) | (kinds == ValueKind.STRING) | (kinds == ValueKind.OTHER)
        expected = "number"
    else:
        # Numbers are fine here: a categorical test compares them as categories ("49").
        wrong = kinds == ValueKind.OTHER
        expected = "string, bool or number"
    n_wrong = int(wrong.sum())
    if n_wrong == 0:
        return None
    examples = [repr(value) for value in pd.unique(np.asarray(column.to_numpy(dtype=object)[wrong]))[:_EXAMPLES]]
    if n_wrong == n_present:
        reason = (f"no reference value of feature {feature!r} is a {expected} (the feature is {spec.type}; "
                  f"e.g. {', '.join(examples)}): its drift cannot be judged; fix the reference column's type "
                  "or the feature's declared type")
        return _problem("wrong_type", reason, n_wrong, n_present)
    reason = (f"{n_wrong} of {n_present} reference values of feature {feature!r} are not a {expected} (mixed "
              f"types, e.g. {', '.join(examples)}); its drift test ignores them; clean the reference data")
    return _problem("mixed_types", reason, n_wrong, n_present)


def _problem(kind: str, reason: str, n_mismatched: int, n_values: int) -> dict[str, Any]:
    return {"problem": kind, "reason": reason, "n_mismatched": n_mismatched, "n_values": n_values}


def compute_reference_problems(reference: pd.DataFrame, specs: Mapping[str, FeatureSpec]) -> list[MetricPoint]:
    """One ``reference_problem`` point (value 1) per feature whose reference column has a problem.

    >>> frame = pd.DataFrame({"amount": ["1.5", "2"], "country": ["DE", "FR"]}, dtype=object)
    >>> specs = {"amount": FeatureSpec(type="numeric"), "country": FeatureSpec(type="categorical")}
    >>> [(p.metric, p.feature, p.value, p.details["problem"]) for p in compute_reference_problems(frame, specs)]
    [('reference_problem', 'amount', 1.0, 'wrong_type')]
    """
    points = []
    for feature, spec in specs.items():
        column = reference[feature] if feature in reference.columns else None
        found = reference_problem(column, spec, feature=feature)
        if found is not None:
            points.append(MetricPoint(REFERENCE_PROBLEM, 1.0, feature=feature, is_breach=True, details=found))
    return points
