"""Rule conditions: ``> 0.3``, ``<= 5``, ``== 1``, ``outside [0.1, 0.9]``.

>>> parse_condition("> 0.3").holds(0.5)
True
>>> parse_condition("outside [0, 1]").holds(0.5)
False
>>> parse_condition("outside [0, 1]").holds(float("nan"))
False
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition; :meth:`holds` is False for NaN (no data never breaches)."""

    text: str
    op: str
    low: float
    high: float | None = None

    def holds(self, value: float) -> bool:
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
    match = _RANGE.match(text)
    if match:
        low, high = float(match.group(2)), float(match.group(3))
        if low > high:
            raise ValueError(f"condition {text!r}: the range [{low}, {high}] is reversed; write the lower bound first")
        return Condition(text=text.strip(), op=match.group(1), low=low, high=high)
    raise ValueError(
        f"condition {text!r} is not understood; write an operator (> >= < <= == !=) and a number, "
        "e.g. \"> 0.3\", or \"outside [a, b]\" / \"inside [a, b]\""
    )
