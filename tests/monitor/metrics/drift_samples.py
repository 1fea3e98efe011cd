"""Seeded reference/current column pairs that exercise every branch of the drift tests.

Small references (<= 1000 rows) and large ones (> 1000), ties, constant columns,
missing and infinite values, unseen categories, integer and bool dtypes, and
columns that are empty once missing values are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CATEGORICAL_SAMPLES", "NUMERIC_SAMPLES", "SamplePair"]


@dataclass(frozen=True)
class SamplePair:
    reference: np.ndarray[Any, Any]
    current: np.ndarray[Any, Any]

    @property
    def pooled_size(self) -> int:
        return len(self.reference) + len(self.current)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _with_missing() -> SamplePair:
    rng = _rng(7)
    reference, current = rng.normal(size=600), rng.normal(0.2, size=500)
    reference[rng.choice(600, 60, replace=False)] = np.nan
    current[rng.choice(500, 40, replace=False)] = np.nan
    reference[[1, 2]] = [np.inf, -np.inf]
    current[3] = np.inf
    return SamplePair(reference, current)


def _numeric() -> dict[str, Callable[[], SamplePair]]:
    return {
        "normal_small": lambda: SamplePair(_rng(1).normal(size=400), _rng(2).normal(0.3, size=300)),
        "normal_large": lambda: SamplePair(_rng(3).normal(size=1100), _rng(4).normal(0.05, 1.2, size=600)),
        "ties_small": lambda: SamplePair(
            _rng(5).integers(0, 30, 500).astype(float), _rng(6).integers(0, 33, 400).astype(float)
        ),
        "ties_large": lambda: SamplePair(
            np.round(_rng(8).normal(size=2000), 1), np.round(_rng(9).normal(0.1, size=900), 1)
        ),
        "few_values_int": lambda: SamplePair(_rng(10).integers(0, 4, 300), _rng(11).integers(0, 4, 250)),
        "binary_int_large": lambda: SamplePair(_rng(12).integers(0, 2, 1200), _rng(13).integers(0, 2, 500)),
        "wide_int_large": lambda: SamplePair(
            _rng(14).integers(0, 1_000_000, 1500), _rng(15).integers(0, 1_100_000, 700)
        ),
        "with_missing": _with_missing,
        "tiny": lambda: SamplePair(_rng(16).normal(size=15), _rng(17).normal(1.0, size=12)),
        "identical": lambda: SamplePair(_rng(18).normal(size=600), _rng(18).normal(size=600)),
        "constant_same": lambda: SamplePair(np.full(200, 3.0), np.full(150, 3.0)),
        "constant_different": lambda: SamplePair(np.full(200, 3.0), np.full(150, 4.0)),
        "single_values": lambda: SamplePair(np.array([1.0]), np.array([2.0])),
        "empty_current": lambda: SamplePair(_rng(19).normal(size=100), np.full(5, np.nan)),
    }


def _categorical_missing() -> SamplePair:
    rng = _rng(27)
    reference = rng.choice(np.array(["a", "b", "c"], dtype=object), 500)
    current = rng.choice(np.array(["a", "b", "c"], dtype=object), 400, p=[0.5, 0.3, 0.2])
    reference[rng.choice(500, 50, replace=False)] = None
    current[rng.choice(400, 30, replace=False)] = np.nan
    return SamplePair(reference, current)


def _letters(seed: int, size: int, letters: str, p: list[float] | None = None) -> np.ndarray[Any, Any]:
    return _rng(seed).choice(np.array(list(letters), dtype=object), size, p=p)


def _categorical() -> dict[str, Callable[[], SamplePair]]:
    twelve = "abcdefghijkl"
    return {
        "unseen_small": lambda: SamplePair(
            _letters(20, 400, "abcde", [0.3, 0.3, 0.2, 0.1, 0.1]), _letters(21, 300, "abcdf")
        ),
        "shifted_large": lambda: SamplePair(
            _letters(22, 1500, twelve), _letters(23, 800, twelve, list(np.arange(1, 13) / 78))
        ),
        "binary_equal_size": lambda: SamplePair(_letters(24, 300, "yn"), _letters(25, 300, "yn", [0.6, 0.4])),
        "binary_tiny": lambda: SamplePair(_letters(36, 40, "yn"), _letters(37, 40, "yn", [0.7, 0.3])),
        "binary_unequal_size": lambda: SamplePair(_letters(26, 300, "yn"), _letters(28, 200, "yn")),
        "four_equal_size": lambda: SamplePair(_letters(29, 400, "wxyz"), _letters(30, 400, "wxyz")),
        "with_missing": _categorical_missing,
        "constant_same": lambda: SamplePair(np.array(["a"] * 200, dtype=object), np.array(["a"] * 150, dtype=object)),
        "int_codes_large": lambda: SamplePair(_rng(31).integers(0, 7, 1200), _rng(32).integers(1, 8, 600)),
        "bool": lambda: SamplePair(_rng(33).random(300) < 0.5, _rng(34).random(300) < 0.3),
        "empty_current": lambda: SamplePair(_letters(35, 50, "ab"), np.array([None, np.nan], dtype=object)),
    }


NUMERIC_SAMPLES: dict[str, Callable[[], SamplePair]] = _numeric()
CATEGORICAL_SAMPLES: dict[str, Callable[[], SamplePair]] = _categorical()
