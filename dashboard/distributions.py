"""Reference vs current distribution of one feature, ready to overlay in one chart.

Numeric features share one set of histogram bins (from the 0.5th to the 99.5th
percentile of both samples together; values outside fall in the edge bins, so a
single outlier cannot squash the chart). Categorical features show the most
frequent categories of both samples and pool the rest as ``(other)``. Shares are
per sample, so samples of different sizes compare directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["Distribution", "compare_distributions"]

OTHER = "(other)"


@dataclass(frozen=True, slots=True)
class Distribution:
    """``frame`` columns: sample (reference/current), share, count, and either
    bin_start/bin_end (numeric) or category (categorical)."""

    kind: Literal["numeric", "categorical", "empty"]
    frame: pd.DataFrame
    n_reference: int
    n_current: int
    missing_reference: int
    missing_current: int


def _present(values: Sequence[Any]) -> list[Any]:
    return [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]


def _numeric(values: Sequence[Any]) -> bool:
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def compare_distributions(
    reference: Sequence[Any], current: Sequence[Any], *, bins: int = 20, max_categories: int = 12
) -> Distribution:
    """Histogram or category shares of both samples.

    >>> d = compare_distributions([1.0, 2.0, 3.0, 4.0], [3.0, 4.0], bins=2)
    >>> d.kind, d.frame.groupby("sample")["share"].sum().round(6).to_dict()
    ('numeric', {'current': 1.0, 'reference': 1.0})
    >>> compare_distributions(["DE", "FR", None], ["US"]).frame[["sample", "category", "share"]].values.tolist()
    [['reference', 'DE', 0.5], ['reference', 'FR', 0.5], ['reference', 'US', 0.0], \
['current', 'DE', 0.0], ['current', 'FR', 0.0], ['current', 'US', 1.0]]
    """
    ref, cur = _present(reference), _present(current)
    sizes = {"n_reference": len(ref), "n_current": len(cur), "missing_reference": len(reference) - len(ref),
             "missing_current": len(current) - len(cur)}
    if not ref and not cur:
        return Distribution("empty", pd.DataFrame(columns=["sample", "share", "count"]), **sizes)
    if _numeric(ref + cur):
        return Distribution("numeric", _histogram(ref, cur, bins), **sizes)
    return Distribution("categorical", _categories(ref, cur, max_categories), **sizes)


def _histogram(ref: list[Any], cur: list[Any], bins: int) -> pd.DataFrame:
    both = np.asarray(ref + cur, dtype=float)
    low, high = np.quantile(both, [0.005, 0.995]) if len(both) > 20 else (both.min(), both.max())
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    rows = []
    for sample, values in (("reference", ref), ("current", cur)):
        data = np.clip(np.asarray(values, dtype=float), low, high)
        counts, _ = np.histogram(data, bins=edges)
        total = max(len(values), 1)
        for index, count in enumerate(counts):
            rows.append({"sample": sample, "bin_start": float(edges[index]), "bin_end": float(edges[index + 1]),
                         "count": int(count), "share": float(count) / total})
    return pd.DataFrame(rows)


def _categories(ref: list[Any], cur: list[Any], max_categories: int) -> pd.DataFrame:
    ref_counts = Counter(str(v) for v in ref)
    cur_counts = Counter(str(v) for v in cur)
    ranked = sorted((ref_counts + cur_counts).items(), key=lambda item: (-item[1], item[0]))
    kept = sorted(name for name, _ in ranked[:max_categories])
    rows = []
    for sample, counts, total in (("reference", ref_counts, len(ref)), ("current", cur_counts, len(cur))):
        denominator = max(total, 1)
        for name in kept:
            rows.append({"sample": sample, "category": name, "count": counts.get(name, 0),
                         "share": counts.get(name, 0) / denominator})
        other = sum(count for name, count in counts.items() if name not in kept)
        if len(ranked) > max_categories:
            rows.append({"sample": sample, "category": OTHER, "count": other, "share": other / denominator})
    return pd.DataFrame(rows)
