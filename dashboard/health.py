"""A model's health at a glance: green, amber or red, and the reasons why.

The rule (shown in the dashboard as :data:`HEALTH_RULE`):

- **red**: a critical alert is firing, or the latest complete window shows dataset
  drift (``dataset_drift`` = 1) or an error rate over its threshold;
- **amber**: any other open alert (pending of any severity, or a firing warning),
  or any metric of the latest complete window breached its threshold (a feature
  whose reference is unusable, ``reference_problem``, is named as such);
- **green**: none of that.

Silenced alerts still count: a silence mutes notifications, not the model's state.
Firing ``info`` alerts are informational and leave the colour alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from monitor.metrics.names import CONFUSION_CELL_METRIC

__all__ = [
    "HEALTH_RULE",
    "Health",
    "HealthStatus",
    "OpenAlert",
    "WindowVitals",
    "assess_health",
    "assess_models",
    "window_vitals",
]

HEALTH_RULE = (
    "**Red**: a critical alert is firing, or the latest complete window shows dataset drift "
    "or an error rate over its threshold.  \n"
    "**Amber**: a pending alert or a firing warning, or any metric of the latest complete window "
    "breached its threshold.  \n"
    "**Green**: none of these. Silenced alerts still count (a silence only mutes notifications)."
)


class Health(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"

    @property
    def icon(self) -> str:
        return {"green": "🟢", "amber": "🟠", "red": "🔴"}[self.value]

    @property
    def label(self) -> str:
        return f"{self.icon} {self.value}"


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """An alert that is pending or firing."""

    rule: str
    state: str
    severity: str


@dataclass(frozen=True, slots=True)
class WindowVitals:
    """What the health rule needs from a model's latest complete window."""

    dataset_drift: bool = False
    error_rate_breach: bool = False
    breached_metrics: tuple[str, ...] = ()  # model-level metrics over their threshold
    breached_features: tuple[str, ...] = ()  # features with any metric over its threshold
    reference_problems: tuple[str, ...] = ()  # features the reference cannot judge


@dataclass(frozen=True, slots=True)
class HealthStatus:
    health: Health
    reasons: tuple[str, ...]

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "all vitals within thresholds"


def assess_health(alerts: Iterable[OpenAlert], latest: WindowVitals | None) -> HealthStatus:
    """Apply the health rule.

    >>> assess_health([OpenAlert("drift", "firing", "critical")], None).health
    <Health.RED: 'red'>
    >>> assess_health([OpenAlert("lat", "pending", "critical")], WindowVitals()).health
    <Health.AMBER: 'amber'>
    >>> assess_health([], WindowVitals(breached_metrics=("latency_p95_ms",), breached_features=("f1",))).reasons
    ('over threshold: latency_p95_ms', 'features over threshold: f1')
    >>> assess_health([], WindowVitals(breached_features=("zip",), reference_problems=("zip",))).reasons
    ('reference unusable for: zip',)
    >>> assess_health([], WindowVitals()).health
    <Health.GREEN: 'green'>
    """
    red: list[str] = []
    amber: list[str] = []
    for alert in alerts:
        if alert.state == "firing" and alert.severity == "critical":
            red.append(f"critical alert firing: {alert.rule}")
        elif alert.state == "pending":
            amber.append(f"{alert.severity} alert pending: {alert.rule}")
        elif alert.state == "firing" and alert.severity == "warning":
            amber.append(f"warning alert firing: {alert.rule}")
    if latest is not None:
        if latest.dataset_drift:
            red.append("dataset drift in the latest window")
        if latest.error_rate_breach:
            red.append("error rate over its threshold")
        already_red = {"dataset_drift", "error_rate"} | ({"dataset_drift_share"} if latest.dataset_drift else set())
        others = sorted(set(latest.breached_metrics) - already_red)
        if others:
            amber.append("over threshold: " + _listing(others))
        if latest.reference_problems:
            amber.append("reference unusable for: " + _listing(sorted(latest.reference_problems)))
        others_features = set(latest.breached_features) - set(latest.reference_problems)
        if others_features:
            amber.append("features over threshold: " + _listing(sorted(others_features)))
    if red:
        return HealthStatus(Health.RED, tuple(red + amber))
    if amber:
        return HealthStatus(Health.AMBER, tuple(amber))
    return HealthStatus(Health.GREEN, ())


def _listing(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def window_vitals(points: pd.DataFrame) -> WindowVitals:
    """Read the health inputs from one model's metric rows of one window.

    ``points`` has the columns ``metric``, ``feature``, ``value`` and ``is_breach``;
    ``class_share`` rows name a class, not a feature, but classes have no thresholds;
    ``estimated_confusion_cell`` rows name a cell: a breach there is the model's metric's, not a feature's.

    >>> window_vitals(pd.DataFrame({"metric": ["estimated_confusion_cell"], "feature": ["true=a,pred=b"],
    ...                             "value": [9.0], "is_breach": [True]})).breached_metrics
    ('estimated_confusion_cell',)
    """
    if points.empty:
        return WindowVitals()
    breach = points["is_breach"].eq(True)
    model_level = ((points["feature"].isna() | points["metric"].eq(CONFUSION_CELL_METRIC)) if "feature" in points
                   else pd.Series(True, index=points.index))
    drift = points[points["metric"] == "dataset_drift"]["value"]
    error_breach = breach[points["metric"] == "error_rate"]
    return WindowVitals(
        dataset_drift=bool((drift >= 1).any()),
        error_rate_breach=bool(error_breach.any()),
        breached_metrics=tuple(sorted(set(points.loc[breach & model_level, "metric"]))),
        breached_features=tuple(sorted(set(points.loc[breach & ~model_level, "feature"]))),
        reference_problems=tuple(sorted(set(points.loc[points["metric"] == "reference_problem", "feature"]
                                            .dropna()))),
    )


def assess_models(models: Iterable[str], open_alerts: pd.DataFrame, latest_points: pd.DataFrame) -> dict[
    str, HealthStatus
]:
    """The health of every model.

    ``open_alerts`` has ``model``, ``rule``, ``state``, ``severity`` (pending and
    firing only); ``latest_points`` has ``model``, ``metric``, ``value``,
    ``is_breach`` for each model's latest complete window (all its versions).
    """
    alerts_by_model: Mapping[str, pd.DataFrame] = (
        dict(tuple(open_alerts.groupby("model"))) if not open_alerts.empty else {}
    )
    points_by_model: Mapping[str, pd.DataFrame] = (
        dict(tuple(latest_points.groupby("model"))) if not latest_points.empty else {}
    )
    result: dict[str, HealthStatus] = {}
    for model in models:
        alerts = alerts_by_model.get(model)
        open_list = (
            [OpenAlert(str(r.rule), str(r.state), str(r.severity)) for r in alerts.itertuples()]
            if alerts is not None
            else []
        )
        points = points_by_model.get(model)
        result[model] = assess_health(open_list, window_vitals(points) if points is not None else None)
    return result
