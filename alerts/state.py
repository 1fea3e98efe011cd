"""The alert lifecycle of one series (rule, model, feature, segment), as a pure state machine.

::

    inactive ──breach──► pending ──`for` consecutive breached windows──► firing
        ▲                  │                                               │
        └──no breach───────┘                    first window without breach│
                                                                           ▼
                                                                        resolved

``for: 1`` goes from inactive straight to firing. A pending alert that sees a
window without breach is dropped (it never fired, so nobody heard of it). A window
whose point has no value (empty window, a feature or dataset not judged) changes
nothing: it is neither a breach nor a calm window, so it never resolves an alert. A
resolved alert is closed for good: a later breach starts a NEW alert. The caller
feeds the windows of a series in ``window_start`` order, each once; the store
layer (:mod:`alerts.evaluation`) guarantees that.

Times: ``started_at`` is the start of the first breached window, ``fired_at`` and
``resolved_at`` the end of the window that decided them (event time, so that
replaying the same windows yields the same alert); ``last_notified_at`` is the
wall clock at which the last notification was queued (it drives repeats).

>>> from datetime import UTC, datetime, timedelta
>>> from monitor.config.models import AlertRule
>>> rule = AlertRule(name="r", model="fraud", metric="error_rate", when="> 0.1", **{"for": 2})
>>> hour = timedelta(hours=1)
>>> start = datetime(2026, 3, 1, tzinfo=UTC)
>>> def step(alert, value, n):
...     seen = Observation(feature=None, breach=value > 0.1, value=value, model_version="v1")
...     return advance(alert, seen, rule=rule, model="fraud", window_start=start + n * hour,
...                    window_end=start + (n + 1) * hour, now=start + (n + 1) * hour)
>>> first = step(None, 0.2, 0)
>>> (first.after.state, first.event)
('pending', None)
>>> second = step(first.after, 0.3, 1)
>>> (second.after.state, second.event, second.after.consecutive)
('firing', 'firing', 2)
>>> third = step(second.after, 0.0, 2)
>>> (third.after.state, third.event, third.after.resolved_at == start + 3 * hour)
('resolved', 'resolved', True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from alerts.rules import Observation
from monitor.config.models import AlertRule

__all__ = ["Alert", "AlertState", "Transition", "advance", "mark_notified", "repeat_due"]

AlertState = Literal["pending", "firing", "resolved"]
NotifyEvent = Literal["firing", "resolved"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One alert instance, as the ``alerts`` table stores it (``id`` None until saved)."""

    id: int | None
    rule: str
    model: str
    feature: str | None
    metric: str
    severity: str
    condition: str
    state: AlertState
    consecutive: int
    model_version: str | None
    started_at: datetime
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    last_value: float | None = None
    last_window_start: datetime | None = None
    last_window_end: datetime | None = None
    last_notified_at: datetime | None = None
    segment: str | None = None  # "country=DE"; None: the whole model
    compare: str | None = None  # "champion=<version>": the alert compares model_version (a challenger) with it

    @property
    def is_open(self) -> bool:
        return self.state != "resolved"


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """What one window did to a series.

    ``before`` is the open alert before the window (None: inactive); ``after`` is
    the alert after it (None: inactive, e.g. a pending alert that was dropped).
    ``event`` is the notification this step calls for, if any.
    """

    before: Alert | None
    after: Alert | None
    event: NotifyEvent | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def dropped(self) -> bool:
        """A pending alert went back to inactive (its row is removed)."""
        return self.before is not None and self.after is None


def advance(
    alert: Alert | None,
    observation: Observation,
    *,
    rule: AlertRule,
    model: str,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> Transition:
    """Feed one window's observation to the series' open alert (or None).

    ``alert`` must be open (pending or firing) or None; ``now`` is the wall clock,
    recorded as ``last_notified_at`` when the step notifies.
    """
    if alert is not None and not alert.is_open:
        raise ValueError(f"alert {alert.id} is resolved; a new breach starts a new alert, pass None")
    if observation.not_judged:
        return Transition(before=alert, after=alert)  # could not be judged: the state stands
    if alert is None:
        if not observation.breach:
            return Transition(before=None, after=None)
        fires = rule.for_ <= 1
        opened = Alert(
            id=None,
            rule=rule.name,
            model=model,
            feature=observation.feature,
            segment=observation.segment,
            metric=rule.metric,
            severity=rule.severity,
            condition=rule.when,
            state="firing" if fires else "pending",
            consecutive=1,
            model_version=observation.model_version,
            started_at=window_start,
            fired_at=window_end if fires else None,
            last_value=_value(observation),
            last_window_start=window_start,
            last_window_end=window_end,
            last_notified_at=now if fires else None,
            compare=observation.compare,
        )
        return Transition(before=None, after=opened, event="firing" if fires else None)
    seen = replace(
        alert,
        model_version=observation.model_version or alert.model_version,
        compare=observation.compare or alert.compare,
        last_value=_value(observation),
        last_window_start=window_start,
        last_window_end=window_end,
    )
    if not observation.breach:
        if alert.state == "pending":
            return Transition(before=alert, after=None)
        resolved = replace(seen, state="resolved", consecutive=0, resolved_at=window_end, last_notified_at=now)
        return Transition(before=alert, after=resolved, event="resolved")
    consecutive = alert.consecutive + 1
    if alert.state == "pending" and consecutive >= rule.for_:
        fired = replace(seen, state="firing", consecutive=consecutive, fired_at=window_end, last_notified_at=now)
        return Transition(before=alert, after=fired, event="firing")
    return Transition(before=alert, after=replace(seen, consecutive=consecutive))


def repeat_due(alert: Alert, *, now: datetime, repeat_interval: timedelta) -> bool:
    """True when a firing alert was last notified at least ``repeat_interval`` ago."""
    return (
        alert.state == "firing"
        and alert.last_notified_at is not None
        and now - alert.last_notified_at >= repeat_interval
    )


def mark_notified(alert: Alert, now: datetime) -> Alert:
    """The alert after a repeat notification was queued at ``now``."""
    return replace(alert, last_notified_at=now)


def _value(observation: Observation) -> float | None:
    return None if math.isnan(observation.value) else observation.value
