"""Which segment each row belongs to: ``country=DE``, ``country=__other__``, ...

Pure functions over columns. The values that get their own segment are fixed by the
**reference**: the ``max_values`` most frequent values of the column there (ties by
name), so a window's segments are the same set from one window to the next and a
segment's rows are always compared with the same segment of the reference. A value
outside that set (rare in the reference, or new since) is ``__other__``; a row
without a value is ``__missing__``. A model without a reference takes the most
frequent values of each window instead (then the set may change between windows).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitor.metrics.categories import category_keys

__all__ = ["MISSING", "OTHER", "SegmentSplit", "kept_values", "segment_label", "split_by_segment"]

OTHER = "__other__"
MISSING = "__missing__"


def segment_label(column: str, value: str) -> str:
    """The stored name of one segment.

    >>> segment_label("country", "DE")
    'country=DE'
    """
    return f"{column}={value}"


def _keys(values: pd.Series[Any] | None, rows: int) -> pd.Series[Any]:
    if values is None:
        return pd.Series([None] * rows, dtype=object)
    return category_keys(values.reset_index(drop=True), name="segment values")


def kept_values(values: pd.Series[Any] | None, max_values: int) -> list[str]:
    """The ``max_values`` most frequent values (canonical strings), most frequent first, ties by name.

    >>> kept_values(pd.Series(["DE", "FR", "DE", None, "US", "FR", "DE"]), 2)
    ['DE', 'FR']
    >>> kept_values(pd.Series([1, 1.0, 2]), 5)
    ['1', '2']
    """
    if values is None or len(values) == 0:
        return []
    counts = _keys(values, len(values)).value_counts(dropna=True)
    ranked = sorted(counts.items(), key=lambda item: (-int(item[1]), str(item[0])))
    return [str(value) for value, _ in ranked[:max_values]]


def _labels(values: pd.Series[Any] | None, rows: int, kept: Sequence[str]) -> npt.NDArray[np.object_]:
    keys = _keys(values, rows)
    labels = np.where(keys.isin(list(kept)), keys.to_numpy(dtype=object), OTHER).astype(object)
    labels[keys.isna().to_numpy()] = MISSING
    return labels


@dataclass(frozen=True, slots=True)
class SegmentSplit:
    """One segment's rows: positions in the window and in the reference (possibly none)."""

    column: str
    value: str
    window: npt.NDArray[np.intp]
    reference: npt.NDArray[np.intp]

    @property
    def label(self) -> str:
        return segment_label(self.column, self.value)


def _positions(labels: npt.NDArray[np.object_]) -> dict[str, npt.NDArray[np.intp]]:
    if len(labels) == 0:
        return {}
    codes, uniques = pd.factorize(labels)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {str(value): order[bounds[i]:bounds[i + 1]] for i, value in enumerate(uniques)}


def split_by_segment(
    column: str,
    window: pd.Series[Any] | None,
    window_rows: int,
    reference: pd.Series[Any] | None,
    reference_rows: int,
    *,
    max_values: int,
) -> Iterator[SegmentSplit]:
    """The segments of one column: each kept value (even when the window has none of its
    rows: an empty segment is reported, not skipped), then ``__other__`` and ``__missing__``
    where rows have them. ``window``/``reference`` None: the column is absent there.

    >>> window = pd.Series(["DE", "FR", "XX", None])
    >>> reference = pd.Series(["DE", "DE", "FR", "US"])
    >>> [(s.label, s.window.tolist(), s.reference.tolist())
    ...  for s in split_by_segment("country", window, 4, reference, 4, max_values=2)]
    [('country=DE', [0], [0, 1]), ('country=FR', [1], [2]), ('country=__other__', [2], [3]), \
('country=__missing__', [3], [])]
    """
    has_reference = reference is not None and reference_rows > 0 and bool(reference.notna().any())
    source = reference if has_reference else window
    kept = kept_values(source, max_values)
    in_window = _positions(_labels(window, window_rows, kept))
    in_reference = _positions(_labels(reference, reference_rows, kept)) if reference_rows else {}
    empty = np.empty(0, dtype=np.intp)
    extra = [value for value in (OTHER, MISSING) if value in in_window]
    for value in [*kept, *extra]:
        yield SegmentSplit(column, value, in_window.get(value, empty), in_reference.get(value, empty))
