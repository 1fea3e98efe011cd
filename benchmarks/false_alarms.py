"""False alarms and detections: the automatic fixed threshold vs ``threshold: reference``.

A 20,000-row reference with three features — a standard normal, a Poisson count
(mean 3) and a categorical with 4 common values (20 % each) and 36 rare ones (the
other 20 %) — and windows of 300 rows:

- 25 *clean* windows drawn from the reference's own distribution: every flag is a
  false alarm;
- 25 *shifted* windows per feature: the normal's mean moved by 0.5 std, the Poisson's
  mean by 0.5 std (3 -> 3 + 0.5·√3), one common category's share doubled (20 % -> 40 %,
  the others scaled down): every flag is a detection.

Both rules use the same method (Evidently's automatic choice: Wasserstein for the
numbers and Jensen-Shannon for the categorical, as the reference has more than
1,000 rows); only the threshold differs. Prints a table, writes
``benchmarks/results/false_alarms.json``::

    python benchmarks/false_alarms.py
    python benchmarks/false_alarms.py --window 2000 --std 2.5 --shift-scale 0.5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor.metrics.drift import compute_feature_drift
from monitor.metrics.drift.learned import LearnedThreshold, ThresholdLearning

RESULTS = Path(__file__).parent / "results" / "false_alarms.json"
CATEGORIES = [f"common{index}" for index in range(4)] + [f"rare{index}" for index in range(36)]
BASE_SHARES = np.array([0.2] * 4 + [0.2 / 36] * 36)
POISSON_MEAN = 3.0


def _shares_raised(scale: float) -> np.ndarray:
    shares = BASE_SHARES.copy()
    shares[0] *= 1 + scale
    shares[1:] *= (1 - shares[0]) / shares[1:].sum()
    return shares


def draw(rng: np.random.Generator, rows: int, *, shifted: str | None = None, scale: float = 1.0) -> pd.DataFrame:
    """Rows of the reference's distribution; ``shifted`` names the one feature moved (``scale`` 1: the
    mean by 0.5 std, the first category's share doubled; 0.5: half of that)."""
    normal_mean = 0.5 * scale if shifted == "normal" else 0.0
    poisson_mean = POISSON_MEAN + 0.5 * scale * np.sqrt(POISSON_MEAN) if shifted == "poisson" else POISSON_MEAN
    shares = _shares_raised(scale) if shifted == "categorical" else BASE_SHARES
    return pd.DataFrame({
        "normal": rng.normal(normal_mean, 1.0, rows),
        "poisson": rng.poisson(poisson_mean, rows).astype(float),
        "categorical": rng.choice(np.array(CATEGORIES, dtype=object), size=rows, p=shares),
    })


TYPES = {"normal": "numeric", "poisson": "numeric", "categorical": "categorical"}


def run(*, reference_rows: int, window: int, windows: int, std: float, seed: int, scale: float = 1.0
        ) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    reference = draw(rng, reference_rows)
    cache: dict[tuple[Any, ...], LearnedThreshold] = {}
    learning = ThresholdLearning(chunk_size=window, multiplier=std, cache=cache, cache_key="benchmark")
    counts: dict[str, dict[str, int]] = {name: {"clean_fixed": 0, "clean_learned": 0, "shifted_fixed": 0,
                                                "shifted_learned": 0} for name in TYPES}
    methods: dict[str, dict[str, Any]] = {}
    for kind in ("clean", "shifted"):
        for name, feature_type in TYPES.items():
            for _ in range(windows):
                current = draw(rng, window, shifted=name if kind == "shifted" else None, scale=scale)
                fixed = compute_feature_drift(reference[name], current[name], feature=name, feature_type=feature_type)
                learned = compute_feature_drift(reference[name], current[name], feature=name,
                                                feature_type=feature_type, threshold="reference", learning=learning)
                counts[name][f"{kind}_fixed"] += int(fixed.drifted)
                counts[name][f"{kind}_learned"] += int(learned.drifted)
                methods[name] = {"method": fixed.method, "fixed_threshold": fixed.threshold,
                                 "learned_threshold": learned.threshold}
    return {"reference_rows": reference_rows, "window_rows": window, "windows": windows, "std_multiplier": std,
            "shift_scale": scale, "seed": seed, "features": {name: {**methods[name], **counts[name]} for name in TYPES}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=int, default=20_000, help="reference rows")
    parser.add_argument("--window", type=int, default=300, help="rows per window")
    parser.add_argument("--windows", type=int, default=25, help="windows per case")
    parser.add_argument("--std", type=float, default=3.0, help="k of mean + k·std")
    parser.add_argument("--shift-scale", type=float, default=1.0,
                        help="size of the shifts (1: 0.5 std and a doubled share; 0.5: half of that)")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    result = run(reference_rows=args.reference, window=args.window, windows=args.windows, std=args.std,
                 seed=args.seed, scale=args.shift_scale)
    n = result["windows"]
    print(f"{result['reference_rows']:,}-row reference, windows of {result['window_rows']} rows, {n} windows each, "
          f"k = {result['std_multiplier']:g}, shift scale {result['shift_scale']:g}")
    header = (f"{'feature':<12} {'method':<15} {'fixed thr':>10} {'learned thr':>12} "
              f"{'false alarms fixed':>19} {'learned':>8} {'detected fixed':>15} {'learned':>8}")
    print(header)
    print("-" * len(header))
    for name, row in result["features"].items():
        print(f"{name:<12} {row['method']:<15} {row['fixed_threshold']:>10.4g} {row['learned_threshold']:>12.4g} "
              f"{row['clean_fixed']:>16}/{n} {row['clean_learned']:>5}/{n} "
              f"{row['shifted_fixed']:>12}/{n} {row['shifted_learned']:>5}/{n}")
    RESULTS.parent.mkdir(exist_ok=True)
    default = (args.shift_scale, args.window, args.std, args.windows) == (1.0, 300, 3.0, 25)
    suffix = "" if default else f"_w{args.window}_k{args.std:g}_s{args.shift_scale:g}_n{args.windows}"
    RESULTS.with_stem(RESULTS.stem + suffix).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
