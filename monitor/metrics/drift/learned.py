"""Drift thresholds learned from the reference (``threshold: reference``).

A fixed threshold cries wolf on small windows: at a few hundred rows a clean window
of a many-valued categorical feature is far from its reference by chance alone. The
learned threshold measures how far *clean* data of the window's size falls instead:
the reference is split into chunks of ``chunk_size`` consecutive values, each
chunk is compared with the rest of the reference by the same method, and the
threshold is ``mean + k·std`` of those distances — one-sided, on the side the method
calls drift. Each chunk is compared with the reference *without* that chunk, as a
window is never part of its reference (a chunk inside the reference it is compared
with looks closer than any window would).

P-values of clean data spread evenly over 0..1, so ``mean − k·std`` of raw p-values
is below 0 and would never flag; for p-value methods the mean and std are taken on
``−log10 p`` and the learned threshold is ``10 ** −(mean + k·std)`` (the stored
``mean``/``std`` are on that scale, ``scale`` says so).

At least :data:`MIN_CHUNKS` full chunks are needed; above :data:`MAX_CHUNKS`
evenly spaced chunks are used, so the cost stays bounded for a large reference.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np

from monitor.errors import MetricError
from monitor.metrics.drift.feature_type import FeatureType
from monitor.metrics.drift.method import DriftMethod
from monitor.metrics.drift.sample import Sample

__all__ = [
    "DEFAULT_STD_MULTIPLIER",
    "MAX_CHUNKS",
    "MIN_CHUNKS",
    "REFERENCE",
    "LearnedThreshold",
    "ThresholdLearning",
    "learn_threshold",
    "min_reference_rows",
]

REFERENCE: Final = "reference"
DEFAULT_STD_MULTIPLIER: Final = 3.0  # = monitor.metrics.estimation.thresholds.DEFAULT_STD_MULTIPLIER
MIN_CHUNKS: Final = 5
MAX_CHUNKS: Final = 50
_SMALLEST_P: Final = 1e-300  # -log10(0) is infinite: a p-value of 0 counts as this one

Scale = Literal["distance", "-log10(p_value)"]


@dataclass(frozen=True, slots=True)
class ThresholdLearning:
    """How to learn thresholds: chunk size, ``k`` (std multiplier), and an optional cache.

    The cache maps ``(cache_key, feature, method, chunk_size, k)`` to the learned
    threshold; pass the same mapping (and a ``cache_key`` naming the reference) to
    reuse thresholds across windows compared with the same reference.
    """

    chunk_size: int
    multiplier: float = DEFAULT_STD_MULTIPLIER
    max_chunks: int = MAX_CHUNKS
    cache: MutableMapping[tuple[Any, ...], LearnedThreshold] | None = None
    cache_key: Any = None


@dataclass(frozen=True, slots=True)
class LearnedThreshold:
    """A threshold learned from ``chunks`` reference chunks of ``chunk_size`` values."""

    threshold: float
    chunk_size: int
    chunks: int
    mean: float
    std: float
    multiplier: float
    scale: Scale

    def details(self) -> dict[str, Any]:
        """JSON-ready notes stored beside the verdict."""
        return {
            "threshold_source": REFERENCE,
            "learned": {
                "chunk_size": self.chunk_size,
                "chunks": self.chunks,
                "mean": self.mean,
                "std": self.std,
                "std_multiplier": self.multiplier,
                "scale": self.scale,
            },
        }


def min_reference_rows(chunk_size: int) -> int:
    """Rows a reference needs for a threshold learned from chunks of ``chunk_size``.

    >>> min_reference_rows(300)
    1500
    """
    return MIN_CHUNKS * chunk_size


def learn_threshold(
    reference: Sample,
    method: DriftMethod,
    *,
    feature_type: FeatureType,
    learning: ThresholdLearning,
    feature: str = "feature",
) -> LearnedThreshold:
    """The threshold for ``method`` on ``feature`` learned from the cleaned ``reference`` sample.

    Raises :class:`MetricError` when the reference is too small for :data:`MIN_CHUNKS`
    chunks, or when no chunk gives a score.

    >>> rng = np.random.default_rng(0)
    >>> from monitor.metrics.drift.registry import get_method
    >>> learned = learn_threshold(rng.normal(size=3000), get_method("wasserstein"), feature_type="numeric",
    ...                           learning=ThresholdLearning(chunk_size=300))
    >>> learned.chunks, learned.scale, 0 < learned.threshold < 1
    (10, 'distance', True)
    """
    chunk_size, multiplier = learning.chunk_size, learning.multiplier
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise MetricError(f"the chunk size of a learned threshold must be a positive number of rows, "
                          f"got {chunk_size!r}")
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or not multiplier > 0:
        raise MetricError(f"the std multiplier of a learned threshold must be a number > 0, got {multiplier!r}")
    key = (learning.cache_key, feature, method.name, chunk_size, float(multiplier))
    if learning.cache is not None and learning.cache_key is not None and key in learning.cache:
        return learning.cache[key]
    learned = _learn(reference, method, feature_type=feature_type, learning=learning, feature=feature)
    if learning.cache is not None and learning.cache_key is not None:
        learning.cache[key] = learned
    return learned


def _learn(
    reference: Sample, method: DriftMethod, *, feature_type: FeatureType, learning: ThresholdLearning, feature: str
) -> LearnedThreshold:
    # Imported here: the estimation package loads scikit-learn, which plain drift checks do not need.
    from monitor.metrics.estimation.thresholds import reference_thresholds

    chunk_size = learning.chunk_size
    n_values = len(reference)
    full_chunks = n_values // chunk_size
    if full_chunks < MIN_CHUNKS:
        raise MetricError(
            f"feature {feature!r}: a threshold learned from the reference needs at least {MIN_CHUNKS} chunks of "
            f"{chunk_size} rows (the current data's size), so at least {min_reference_rows(chunk_size)} reference "
            f"values, but the reference has {n_values}; use a bigger reference, compare fewer rows, or give a fixed "
            "threshold"
        )
    starts = [index * chunk_size for index in _chunk_indices(full_chunks, learning.max_chunks)]
    scores = np.array([_chunk_score(reference, start, chunk_size, method, feature_type) for start in starts])
    p_values = method.score_kind == "p_value"
    values = -np.log10(np.clip(scores, _SMALLEST_P, None)) if p_values else scores
    _, upper = reference_thresholds(values, multiplier=learning.multiplier, name=f"the drift score of {feature!r}")
    assert upper is not None  # no upper limit given: never dropped
    with np.errstate(all="ignore"):
        mean, std = float(np.nanmean(values)), float(np.nanstd(values))
    return LearnedThreshold(
        threshold=float(10.0 ** -upper) if p_values else float(upper),
        chunk_size=chunk_size,
        chunks=len(starts),
        mean=mean,
        std=std,
        multiplier=float(learning.multiplier),
        scale="-log10(p_value)" if p_values else "distance",
    )


def _chunk_indices(full_chunks: int, max_chunks: int) -> list[int]:
    """All chunks, or ``max_chunks`` of them evenly spaced over the reference.

    >>> _chunk_indices(6, 50), _chunk_indices(100, 5)
    ([0, 1, 2, 3, 4, 5], [0, 25, 50, 74, 99])
    """
    if full_chunks <= max_chunks:
        return list(range(full_chunks))
    return sorted({int(index) for index in np.linspace(0, full_chunks - 1, max_chunks).round()})


def _chunk_score(reference: Sample, start: int, size: int, method: DriftMethod, feature_type: FeatureType) -> float:
    rest = np.ones(len(reference), dtype=bool)
    rest[start:start + size] = False
    outcome = method.evaluate(reference[rest], reference[start:start + size], feature_type=feature_type,
                              threshold=method.default_threshold)
    return outcome.score if math.isfinite(outcome.score) else math.nan
