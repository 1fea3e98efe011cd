"""The model's task (``models.<name>.task``) and its positive class.

The task decides which output, performance and concept-drift metrics exist:
classification compares classes as canonical strings
(:mod:`monitor.metrics.categories`), regression compares numbers.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from monitor.errors import MetricError
from monitor.metrics.categories import category_key

__all__ = ["TASKS", "Task", "check_positive_label", "check_task", "is_classification"]

Task: TypeAlias = Literal["binary_classification", "multiclass_classification", "regression"]
TASKS: tuple[Task, ...] = ("binary_classification", "multiclass_classification", "regression")


def check_task(task: str) -> Task:
    """Return ``task`` if it is one of :data:`TASKS`, else raise MetricError.

    >>> check_task("regression")
    'regression'
    """
    if task not in TASKS:
        raise MetricError(
            f"unknown task {task!r}; set models.<model>.task to one of {', '.join(TASKS)}"
        )
    return task


def is_classification(task: Task) -> bool:
    """True for binary and multiclass classification."""
    return task != "regression"


def check_positive_label(task: Task, positive_label: object) -> str | None:
    """Return the canonical positive class for a binary task (None otherwise).

    >>> check_positive_label("binary_classification", 1)
    '1'
    """
    if task != "binary_classification":
        return None
    key = category_key(positive_label)
    if key is None:
        raise MetricError(
            "positive_label is required for task binary_classification; "
            "set models.<model>.positive_label to the class that means 'positive' (e.g. 1)"
        )
    return key
