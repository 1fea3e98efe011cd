"""Helpers for config error messages: "did you mean", and errors that name their key.

A validator that checks several keys at once (a rule's model, channels and
feature) raises :class:`KeyedValueError` with the path of the key at fault, so the
loader reports that key's line rather than the line of the whole section.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["KeyedValueError", "did_you_mean", "unknown_choice"]


class KeyedValueError(ValueError):
    """A validation error about the key at ``path`` (relative to the validated model)."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when none is close.

    >>> did_you_mean("dataset_drift_shar", ["dataset_drift_share", "accuracy"])
    " (did you mean 'dataset_drift_share'?)"
    >>> did_you_mean("zzz", ["accuracy"])
    ''
    """
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_choice(what: str, value: object, choices: Iterable[str]) -> str:
    """The message for a name that is not one of ``choices``.

    >>> unknown_choice("metric", "acuracy", ["accuracy", "f1"])
    "unknown metric 'acuracy' (did you mean 'accuracy'?); use one of: accuracy, f1"
    """
    names = sorted(choices)
    return f"unknown {what} {value!r}{did_you_mean(value, names)}; use one of: {', '.join(names)}"
