"""Rule conditions: ``> 0.3``, ``<= 5``, ``== 1``, ``outside [0.1, 0.9]``, ``outside reference``,
``outside band``.

``outside reference`` reads the thresholds a point learned from its reference
(``details.lower_threshold`` / ``upper_threshold``; a missing one does not limit) and
holds when the value is beyond them. ``outside band`` holds when the realized value
(``details.realized``, once labels are in) is outside the estimate's sampling-error
band (``details.lower_band`` .. ``upper_band``): the estimate missed. Both need a point
that carries them (``outside reference``: estimated metrics, ``multivariate_drift``, drift
scores with ``threshold: reference`` and any metric under ``models.<name>.metrics``;
``outside band``: estimated metrics); without them they never hold.

>>> parse_condition("> 0.3").holds(0.5)
True
>>> parse_condition("outside [0, 1]").holds(0.5)
False
>>> parse_condition("outside [0, 1]").holds(float("nan"))
False
>>> parse_condition("outside reference").holds_point(0.7, {"lower_threshold": 0.8, "upper_threshold": None})
True
>>> parse_condition("outside band").holds_point(0.9, {"realized": 0.85, "lower_band": 0.86, "upper_band": 0.94})
True
>>> parse_condition("outside band").holds_point(0.9, {"lower_band": 0.86, "upper_band": 0.94})
False
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Condition", "parse_condition"]

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_COMPARISON = re.compile(rf"^\s*(>=|<=|==|!=|>|<)\s*({_NUMBER})\s*$")
_RANGE = re.compile(rf"^\s*(outside|inside)\s*\[\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\]\s*$")
_LEARNED = re.compile(r"^\s*outside\s+(reference|band)\s*$")
# The details keys each learned condition reads: (lower, upper).
_LEARNED_BOUNDS = {"outside reference": ("lower_threshold", "upper_threshold"),
                   "outside band": ("lower_band", "upper_band")}


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition; :meth:`holds` is False for NaN (no data never breaches)."""

    text: str
    op: str
    low: float
    high: float | None = None

    @property
    def learned(self) -> bool:
        """True for ``outside reference`` / ``outside band``: the bounds come with each point."""
        return self.op in _LEARNED_BOUNDS

    def bounds(self, details: Mapping[str, Any]) -> tuple[float | None, float | None]:
        """The (lower, upper) bounds this condition applies to a point with ``details``."""
        if not self.learned:
            return self.low, self.high
        lower_key, upper_key = _LEARNED_BOUNDS[self.op]
        return _finite(details.get(lower_key)), _finite(details.get(upper_key))

    def holds_point(self, value: float, details: Mapping[str, Any]) -> bool:
        """:meth:`holds` for a stored point, reading learned bounds from its ``details``."""
        if not self.learned:
            return self.holds(value)
        if value is None or math.isnan(value):
            return False
        lower, upper = self.bounds(details)
        if self.op == "outside band":
            realized = _finite(details.get("realized"))
            if realized is None:
                return False  # no labels yet: nothing to compare the estimate with
            value = realized
        return (lower is not None and value < lower) or (upper is not None and value > upper)

    def holds(self, value: float) -> bool:
        if self.learned:
            raise ValueError(f"condition {self.text!r} needs the point's details; use holds_point")
        if value is None or math.isnan(value):
            return False
        if self.op == "outside":
            assert self.high is not None
            return value < self.low or value > self.high
        if self.op == "inside":
            assert self.high is not None
            return self.low <= value <= self.high
        return _OPERATORS[self.op](value, self.low)

    @property
    def threshold(self) -> float:
        """The single number a dashboard draws as the threshold line."""
        return self.low


def parse_condition(text: str) -> Condition:
    """Parse a rule's ``when``; raise ValueError saying the accepted forms."""
    if not isinstance(text, str):
        raise ValueError(f"condition {text!r} must be a string such as \"> 0.3\" or \"outside [0.1, 0.9]\"")
    match = _COMPARISON.match(text)
    if match:
        return Condition(text=text.strip(), op=match.group(1), low=float(match.group(2)))
    match = _LEARNED.match(text)
    if match:
        return Condition(text=f"outside {match.group(1)}", op=f"outside {match.group(1)}", low=math.nan)
    match = _RANGE.match(text)
    if match:
        low, high = float(match.group(2)), float(match.group(3))
        if low > high:
            raise ValueError(f"condition {text!r}: the range [{low}, {high}] is reversed; write the lower bound first")
        return Condition(text=text.strip(), op=match.group(1), low=low, high=high)
    raise ValueError(
        f"condition {text!r} is not understood; write an operator (> >= < <= == !=) and a number, "
        "e.g. \"> 0.3\", or \"outside [a, b]\" / \"inside [a, b]\", or \"outside reference\" / "
        "\"outside band\" (thresholds learned from the reference; band of an estimated metric)"
    )
