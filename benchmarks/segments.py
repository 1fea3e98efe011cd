"""Vitals per segment: a million-row window with 2 segment columns of 20 values each,
against the same window computed for the whole model only, in the same run.

The window (``--rows``, default 1,000,000 predictions of a binary classifier with
scores and labels; 8 numeric and 2 categorical features plus the segment columns
``country`` and ``device``, 20 values each) and its reference (a tenth of the rows)
are generated in memory, seeded, typed as the store's reader returns them (strings as
categoricals). Each side computes every metric group of the
window job (``monitor.jobs.segment_metrics``; no store, no estimation) in its own
process, so its peak RSS is its own; the fastest of ``--repeat`` runs counts:

- **whole model**: the model without ``segments`` (what every window cost before);
- **segmented**: ``segments: {columns: [country, device], max_values: 20}`` — the
  whole model plus 40 segments (each segment's rows against its reference rows).

Prints a table and writes ``benchmarks/results/segments.json``::

    python benchmarks/segments.py                  # 1,000,000 rows
    python benchmarks/segments.py --rows 200000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NUMERIC = [f"num_{i}" for i in range(8)]
CATEGORICAL = ["channel", "plan"]
SEGMENTS = {"country": 20, "device": 20}
RESULT = ROOT / "benchmarks" / "results" / "segments.json"


def _rows(n: int, seed: int, *, drift: bool) -> Any:
    from monitor.store.stored_rows import StoredRows

    rng = np.random.default_rng(seed)
    features: dict[str, Any] = {}
    for index, name in enumerate(NUMERIC):
        features[name] = rng.normal(index, 1.0, n)
    for name, count in SEGMENTS.items():
        # Zipf-like shares: a few large segments and a long tail, as countries and devices are.
        weights = 1.0 / np.arange(1, count + 1)
        features[name] = rng.choice([f"{name}_{i:02d}" for i in range(count)], n, p=weights / weights.sum())
    for name in CATEGORICAL:
        features[name] = rng.choice(["a", "b", "c", "d"], n)
    if drift:  # one segment drifts in two features
        shifted = features["country"] == "country_03"
        features["num_0"] = features["num_0"] + 2.0 * shifted
        features["num_1"] = features["num_1"] + 2.0 * shifted
    score = rng.random(n)
    prediction = (score > 0.5).astype(int).astype(str).astype(object)
    label = np.where(rng.random(n) < 0.9, prediction, np.where(prediction == "1", "0", "1")).astype(object)
    outputs = pd.DataFrame({
        "prediction": prediction, "prediction_numeric": prediction.astype(float), "score": score,
        "latency_ms": rng.gamma(2.0, 10.0, n), "status": np.full(n, "ok", dtype=object),
        "label": label, "label_numeric": label.astype(float),
    })
    # Typed as the store's reader returns a window: strings as categoricals, numbers as float64.
    frame = pd.DataFrame({name: (pd.Categorical(values) if values.dtype.kind in "UO" else values)
                          for name, values in features.items()})
    return StoredRows(outputs=outputs, features=frame)


def _config(segmented: bool) -> Any:
    from monitor.config.models import ModelConfig

    features: dict[str, Any] = {name: {"type": "numeric"} for name in NUMERIC}
    features.update({name: {"type": "categorical"} for name in [*CATEGORICAL, *SEGMENTS]})
    return ModelConfig.model_validate({
        "task": "binary_classification", "positive_label": 1, "features": features,
        "estimation": {"enabled": False},
        **({"segments": {"columns": list(SEGMENTS), "max_values": 20}} if segmented else {}),
    })


def run_side(side: str, rows: int) -> dict[str, Any]:
    from monitor.jobs.segment_metrics import compute_segmented_metrics
    from monitor.jobs.window_input import WindowInput

    window, reference = _rows(rows, 1, drift=True), _rows(max(rows // 10, 1000), 2, drift=False)
    inputs = WindowInput(model="bench", model_version="v1", config=_config(side == "segmented"), rows=window,
                         dead_letter_count=0, reference=reference, reference_key=("bench", side))
    started, cpu = time.perf_counter(), _cpu_seconds()
    metrics = compute_segmented_metrics(inputs)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    segments = sorted({point.segment for point in metrics.points if point.segment is not None})
    top = max((point for point in metrics.points if point.metric == "dataset_drift_share" and point.segment),
              key=lambda point: point.value, default=None)
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": _peak_mb(), "points": len(metrics.points),
            "segments": len(segments), "most_drifting_segment": None if top is None else top.segment,
            "notes": list(metrics.notes)}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_process(side: str, rows: int) -> dict[str, Any]:
    output = subprocess.run([sys.executable, __file__, "--side", side, "--rows", str(rows)], check=True,
                            capture_output=True, text=True, cwd=ROOT).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the fastest counts")
    parser.add_argument("--side", choices=["whole", "segmented"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(run_side(args.side, args.rows)))
        return
    results: dict[str, list[dict[str, Any]]] = {"whole": [], "segmented": []}
    for _ in range(args.repeat):
        for side in results:  # interleaved, so a busy moment of the machine hits both sides alike
            results[side].append(_in_process(side, args.rows))
    best = {side: min(runs, key=lambda run: run["seconds"]) for side, runs in results.items()}
    ratio = best["segmented"]["seconds"] / best["whole"]["seconds"]
    cpu_ratio = best["segmented"]["cpu_seconds"] / best["whole"]["cpu_seconds"]
    report = {
        "rows": args.rows, "reference_rows": max(args.rows // 10, 1000), "segment_columns": SEGMENTS,
        "repeat": args.repeat, "whole": best["whole"], "segmented": best["segmented"], "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "all_seconds": {side: [run["seconds"] for run in runs] for side, runs in results.items()},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{args.rows:,} rows, 2 segment columns x 20 values (fastest of {args.repeat}):")
    print(f"{'':<12}{'seconds':>10}{'cpu s':>10}{'peak RSS MB':>14}{'segments':>10}{'points':>8}")
    for side in ("whole", "segmented"):
        run = best[side]
        print(f"{side:<12}{run['seconds']:>10.2f}{run['cpu_seconds']:>10.2f}{run['peak_rss_mb']:>14.0f}"
              f"{run['segments']:>10}{run['points']:>8}")
    print(f"segmented / whole: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU; "
          f"most drifting segment: {best['segmented']['most_drifting_segment']}")
    print(f"wrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
