"""Rule evaluation: does one complete window breach one rule? (pure, no I/O)

A rule names a metric, a model (or ``*``) and a feature: ``null`` means the
model-level point (``feature IS NULL``), a name means that feature's point, and
``*`` means every feature of the metric, each as its own alert series. A rule's
``segment`` works alike: none means the whole model's points, ``country=DE`` that
segment's, ``country=*`` each segment of ``country`` as its own series. The input is
the metric points of one complete window, by model version (a window may hold
several versions during a rollout); the output is one :class:`Observation` per
series: breached or not, and the value that decided it.

>>> from monitor.config.models import AlertRule
>>> from monitor.metrics.point import MetricPoint
>>> rule = AlertRule(name="drift", model="fraud", metric="feature_drift_score",
...                  feature="*", when="> 0.2")
>>> points = {"v1": [MetricPoint("feature_drift_score", 0.31, feature="amount"),
...                  MetricPoint("feature_drift_score", 0.05, feature="country")]}
>>> [(o.feature, o.breach, o.value) for o in evaluate_rule(rule, points)]
[('amount', True, 0.31), ('country', False, 0.05)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.config.conditions import Condition
from monitor.config.models import AlertRule
from monitor.metrics.point import MetricPoint

__all__ = ["ANY", "Observation", "Series", "evaluate_rule", "no_data", "rule_applies_to", "series_of"]

ANY = "*"
Series = tuple[str | None, str | None, str | None, str | None]
"""What one alert of a rule and model is about: (feature, segment, compare, challenger).

``compare`` and ``challenger`` are None but for a comparison point (``compare_*`` metrics):
each challenger, against each champion, is a series of its own."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """What one window says about one alert series (rule, model, feature, segment, compare, challenger).

    ``value`` is NaN and ``model_version`` None when the window had no point for
    the series (``present`` False); no data never breaches. A point whose value is
    NaN (empty window, feature not judged) is :attr:`not_judged`: it neither breaches
    nor counts as a window without breach. ``details`` are the point's details (test
    used, p-value, drifted features ...), passed on to the notification.
    """

    feature: str | None
    breach: bool
    value: float
    model_version: str | None
    details: Mapping[str, Any] = field(default_factory=dict)
    present: bool = True
    segment: str | None = None
    compare: str | None = None  # "champion=<version>" when the point compares model_version with the champion

    @property
    def series(self) -> Series:
        return series_of(self.feature, self.segment, self.compare, self.model_version)

    @property
    def not_judged(self) -> bool:
        """The window has the series' point, but with no value to judge; or the series is a comparison
        the window did not make (the challenger did not serve beside the champion): no news about it."""
        return (self.present or self.compare is not None) and math.isnan(self.value)


def rule_applies_to(rule: AlertRule, model: str) -> bool:
    """True when ``rule`` watches ``model`` (its own model, or ``*``)."""
    return rule.model in (ANY, model)


def series_of(feature: str | None, segment: str | None, compare: str | None, version: str | None) -> Series:
    """The series of a point or alert: the version counts only for a comparison (``compare`` set).

    >>> series_of("amount", None, None, "v2")
    ('amount', None, None, None)
    >>> series_of(None, None, "champion=v1", "v2")
    (None, None, 'champion=v1', 'v2')
    """
    return (feature, segment, compare, version if compare is not None else None)


def no_data(feature: str | None, segment: str | None = None, compare: str | None = None,
            challenger: str | None = None) -> Observation:
    """The observation of a series that has no point in the window.

    A comparison series (``compare`` set) without a point is not judged: a challenger that did
    not serve in the window, or another challenger being fine, never resolves its alert.
    """
    return Observation(feature=feature, breach=False, value=math.nan, model_version=challenger, present=False,
                       segment=segment, compare=compare)


def evaluate_rule(rule: AlertRule, points: Mapping[str, Sequence[MetricPoint]]) -> list[Observation]:
    """One observation per series of ``rule`` that has a point in this window.

    ``points`` maps each model version to the points of one complete window.
    When several versions have a point for the same series, the series breaches
    if any of them does, and the observation reports the breaching version (the
    one furthest past the threshold); otherwise the newest version (by name). A
    comparison point (``compare`` set) is a series of its own per challenger and
    champion, so two challengers never share, or resolve, one alert. Series
    without any point are not returned: the caller decides what silence means
    (:func:`no_data`). Results are ordered by feature, model-level first.
    """
    condition = rule.condition
    candidates: dict[Series, list[tuple[str, MetricPoint]]] = {}
    for version, version_points in points.items():
        for point in version_points:
            if (point.metric != rule.metric or not _selected(rule, point.feature)
                    or not segment_selected(rule.segment, point.segment)):
                continue
            key = series_of(point.feature, point.segment, point.compare, version)
            candidates.setdefault(key, []).append((version, point))
    observations = []
    for (feature, segment, _, _), found in candidates.items():
        judged = [(condition.holds_point(_number(point.value), point.details) and _significant(rule, point),
                   version, point) for version, point in found]
        breaching = [item for item in judged if item[0]]
        if breaching:
            # The worst offender is the most useful one to show a person.
            chosen = max(breaching, key=lambda item: (_distance(item[2], _reference_line(condition, item[2])),
                                                      item[1]))
        else:
            # A version with a value says more than one without (not judged).
            chosen = max(judged, key=lambda item: (not math.isnan(_number(item[2].value)), item[1]))
        breach, version, point = chosen
        observations.append(
            Observation(
                feature=feature,
                breach=breach,
                value=_number(point.value),
                model_version=version,
                details=dict(point.details),
                segment=segment,
                compare=point.compare,
            )
        )
    return sorted(observations, key=series_order)


def series_order(item: Observation | Series) -> tuple[bool, str, bool, str, str, str]:
    """Model-level before features, the whole model before segments, then by name (comparisons: by
    champion, then challenger)."""
    feature, segment, compare, challenger = item.series if isinstance(item, Observation) else item
    return (feature is not None, feature or "", segment is not None, segment or "", compare or "", challenger or "")


def segment_selected(selector: str | None, segment: str | None) -> bool:
    """Does a rule's ``segment`` select a point's segment?

    >>> [segment_selected(s, "country=DE") for s in (None, "country=*", "country=DE", "country=FR", "device=*")]
    [False, True, True, False, False]
    >>> segment_selected(None, None), segment_selected("country=*", None)
    (True, False)
    """
    if selector is None or segment is None:
        return selector is None and segment is None
    column, _, value = selector.partition("=")
    if value == ANY:
        return segment.startswith(f"{column}=")
    return segment == selector


def _significant(rule: AlertRule, point: MetricPoint) -> bool:
    """With ``significant: true``, a breach also needs the comparison's p-value below ``alpha``
    (a difference whose test could not run is not significant)."""
    if not rule.significant:
        return True
    p_value = point.details.get("p_value")
    return isinstance(p_value, int | float) and not math.isnan(p_value) and p_value < rule.alpha


def _selected(rule: AlertRule, feature: str | None) -> bool:
    if rule.feature is None:
        return feature is None
    if rule.feature == ANY:
        return feature is not None
    return feature == rule.feature


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _reference_line(condition: Condition, point: MetricPoint) -> float:
    """The bound a breach is measured from (a learned condition's comes with the point)."""
    if not condition.learned:
        return condition.low
    lower, upper = condition.bounds(point.details)
    value = _number(point.value)
    if lower is not None and value < lower:
        return lower
    return upper if upper is not None else math.nan


def _distance(point: MetricPoint, threshold: float) -> float:
    return abs(_number(point.value) - threshold)
