"""Performance estimation (CBPE) and multivariate drift (PCA reconstruction) vs NannyML 0.13.1.

One analysis file of 1,000,000 rows x 25 features (20 numeric, 5 categorical; from the
middle on some features shift and some correlations break, so the model's scores move)
and a 100,000-row reference with labels, binary scores and predictions, generated with
a fixed numpy seed and written once to parquet in a temporary folder. The analysis has
no labels: estimation is what runs before they arrive.

Four processes, each with its own peak RSS, on the same two files:

- **driftwatch CBPE** and **driftwatch PCA**: our modules as ``driftwatch estimate`` /
  ``driftwatch multivariate`` use them (read the files, validate the columns, fit on the
  reference, estimate chunk by chunk);
- **NannyML CBPE** and **NannyML PCA**: ``nml.CBPE(...)`` and
  ``nml.DataReconstructionDriftCalculator(...)`` with the same chunk size, in a throwaway
  virtualenv (``scripts/nannyml_golden.py`` makes it; NannyML is no dependency of ours).

Each side reads both whole files with the same ``pandas.read_parquet``; the timed total is
fit + estimate on those frames, wall and CPU seconds (the read is reported apart, and
the ratios with it too). Imports are not timed; NannyML's ``to_df()`` of its result is
not timed either. Peak RSS is the whole process's, frames included. Each side runs
``--repeat`` times (3), each time in a new process; the fastest run counts (the machine may
be shared: other work only slows a run down), with the largest peak RSS of its runs. Verdicts (the alert
of every chunk and metric) must be identical; the largest relative difference of values,
thresholds and bands is reported. Prints a table,
writes ``benchmarks/results/estimate.json``::

    python benchmarks/estimate.py                       # 1M rows, chunks of 10,000
    python benchmarks/estimate.py --rows 100000         # quicker
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from measure import cpu_seconds, peak_mb

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "estimate.json"
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
FEATURES = NUMERIC + CATEGORICAL
CATEGORIES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
CBPE_METRICS = ["roc_auc", "f1", "precision", "recall", "specificity", "accuracy"]
PCA_METRIC = "reconstruction_error"
SCORE, PREDICTION, LABEL = "y_pred_proba", "y_pred", "y_true"
# Fields compared between the two sides: ours -> NannyML's.
FIELDS = {"value": "value", "lower_threshold": "lower_threshold", "upper_threshold": "upper_threshold",
          "lower_band": "lower_confidence_boundary", "upper_band": "upper_confidence_boundary"}


# -- data (generated in the parent, with our .venv) -----------------------------------------------


def _frame(rows: int, *, seed: int, drift_from: int | None) -> Any:
    """Features from four latent factors; from row ``drift_from`` on, six numeric features
    shift, four lose their relation to the factors (same spread) and one category's mix changes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    loadings = np.random.default_rng(0).normal(0, 1, (4, len(NUMERIC)))  # the same for every frame
    latent = rng.normal(0, 1, (rows, 4))
    drifted = np.zeros(rows, dtype=bool) if drift_from is None else np.arange(rows) >= drift_from
    data: dict[str, Any] = {}
    for index, name in enumerate(NUMERIC):
        column = latent @ loadings[:, index] + rng.normal(0, 1, rows)
        if 6 <= index < 10:  # correlations break, marginal spread kept
            spread = math.sqrt(float(loadings[:, index] @ loadings[:, index]) + 1)
            column = np.where(drifted, rng.normal(0, spread, rows), column)
        if index < 6:
            column = column + np.where(drifted, 0.4, 0.0)
        data[name] = column
    data["num_19"] = np.where(rng.random(rows) < 0.01, np.nan, data["num_19"])  # 1 % missing
    for index, name in enumerate(CATEGORICAL):
        signal = latent[:, index % 4] + rng.normal(0, 1, rows)
        codes = np.digitize(signal, np.linspace(-1.6, 1.6, len(CATEGORIES) - 1))
        if index == 0:
            codes = np.where(drifted & (rng.random(rows) < 0.3), 0, codes)
        data[name] = np.asarray(CATEGORIES, dtype=object)[codes]
    logit = (0.9 * data["num_00"] - 0.6 * data["num_03"] + 0.5 * data["num_07"] + 0.3 * (data["cat_1"] == "beta")
             - 0.4)
    true_probability = 1 / (1 + np.exp(-logit))
    score = 1 / (1 + np.exp(-(0.8 * logit + rng.normal(0, 0.3, rows))))  # a slightly miscalibrated model
    data[SCORE] = score
    data[PREDICTION] = (score >= 0.5).astype(int)
    data[LABEL] = (rng.random(rows) < true_probability).astype(int)
    return pd.DataFrame(data)


def write_data(workdir: Path, rows: int, reference_rows: int) -> tuple[Path, Path]:
    reference_file, analysis_file = workdir / "reference.parquet", workdir / "analysis.parquet"
    _frame(reference_rows, seed=1, drift_from=None).to_parquet(reference_file, index=False)
    analysis = _frame(rows, seed=2, drift_from=rows // 2).drop(columns=[LABEL])  # no labels yet
    analysis.to_parquet(analysis_file, index=False)
    return reference_file, analysis_file


# -- measuring, inside each side's process --------------------------------------------------------


class _Clock:
    """Wall and CPU seconds of each phase (read, fit, estimate)."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self.cpu_phases: dict[str, float] = {}
        self._last, self._last_cpu = time.perf_counter(), cpu_seconds()

    def lap(self, phase: str) -> None:
        now, cpu = time.perf_counter(), cpu_seconds()
        self.phases[phase], self.cpu_phases[phase] = now - self._last, cpu - self._last_cpu
        self._last, self._last_cpu = now, cpu

    def totals(self) -> dict[str, Any]:
        """The timed total is fit + estimate; the read is reported apart."""
        return {"seconds": self.phases["fit"] + self.phases["estimate"],
                "cpu_seconds": self.cpu_phases["fit"] + self.cpu_phases["estimate"],
                "seconds_with_read": sum(self.phases.values()), "cpu_seconds_with_read": sum(self.cpu_phases.values()),
                "phases": self.phases, "cpu_phases": self.cpu_phases, "peak_rss_mb": peak_mb()}


def _our_chunks(report: Any) -> list[dict[str, Any]]:
    return [{"start": chunk.start_row, "end": chunk.end_row,
             "metrics": {name: {**{field: getattr(estimate, field) for field in FIELDS}, "alert": estimate.alert}
                         for name, estimate in chunk.metrics.items()}}
            for chunk in report.chunks]


def _their_chunks(frame: Any, metrics: list[str]) -> list[dict[str, Any]]:
    from nannyml_golden import _records  # type: ignore[import-not-found]

    return [{"start": record["start_index"], "end": record["end_index"],
             "metrics": {name: {field: record[name].get(theirs) for field, theirs in FIELDS.items()}
                         | {"alert": bool(record[name]["alert"])} for name in metrics}}
            for record in _records(frame, metrics)]


def driftwatch_cbpe(reference_file: Path, analysis_file: Path, chunk_size: int) -> dict[str, Any]:
    imported = time.perf_counter()
    from monitor.jobs.data_files import read_data_file
    from monitor.metrics.estimation import fit_cbpe
    from monitor.metrics.estimation.inputs import binary_column, score_column

    import_seconds = time.perf_counter() - imported
    clock = _Clock()
    reference, analysis = read_data_file(reference_file), read_data_file(analysis_file)
    clock.lap("read")
    ref = str(reference_file)
    fitted = fit_cbpe(binary_column(reference, LABEL, ref, both_classes=True), score_column(reference, SCORE, ref),
                      binary_column(reference, PREDICTION, ref), metrics=CBPE_METRICS, chunk_size=chunk_size)
    clock.lap("fit")
    report = fitted.estimate(score_column(analysis, SCORE, str(analysis_file)),
                             binary_column(analysis, PREDICTION, str(analysis_file)))
    clock.lap("estimate")
    return {**clock.totals(), "import_seconds": import_seconds, "calibrated": fitted.calibrated,
            "chunks": _our_chunks(report)}


def driftwatch_pca(reference_file: Path, analysis_file: Path, chunk_size: int) -> dict[str, Any]:
    imported = time.perf_counter()
    from monitor.jobs.data_files import read_data_file
    from monitor.metrics.estimation import fit_reconstruction
    from monitor.metrics.estimation.inputs import feature_columns

    import_seconds = time.perf_counter() - imported
    clock = _Clock()
    reference, analysis = read_data_file(reference_file), read_data_file(analysis_file)
    clock.lap("read")
    features = feature_columns(reference, analysis, FEATURES, str(reference_file), str(analysis_file))
    fitted = fit_reconstruction(reference, features, chunk_size=chunk_size)
    clock.lap("fit")
    report = fitted.estimate(analysis)
    clock.lap("estimate")
    return {**clock.totals(), "import_seconds": import_seconds, "chunks": _our_chunks(report)}


def nannyml_cbpe(reference_file: Path, analysis_file: Path, chunk_size: int) -> dict[str, Any]:
    imported = time.perf_counter()
    import nannyml as nml
    import pandas as pd

    import_seconds = time.perf_counter() - imported
    clock = _Clock()
    reference, analysis = pd.read_parquet(reference_file), pd.read_parquet(analysis_file)
    clock.lap("read")
    estimator = nml.CBPE(y_pred_proba=SCORE, y_pred=PREDICTION, y_true=LABEL, metrics=CBPE_METRICS,
                         chunk_size=chunk_size, problem_type="classification_binary")
    estimator.fit(reference)
    clock.lap("fit")
    result = estimator.estimate(analysis)
    clock.lap("estimate")
    totals = clock.totals()
    frame = result.filter(period="analysis").to_df()
    return {**totals, "import_seconds": import_seconds, "version": nml.__version__,
            "calibrated": bool(estimator.needs_calibration), "chunks": _their_chunks(frame, CBPE_METRICS)}


def nannyml_pca(reference_file: Path, analysis_file: Path, chunk_size: int) -> dict[str, Any]:
    imported = time.perf_counter()
    import nannyml as nml
    import pandas as pd

    import_seconds = time.perf_counter() - imported
    clock = _Clock()
    reference, analysis = pd.read_parquet(reference_file), pd.read_parquet(analysis_file)
    clock.lap("read")
    calculator = nml.DataReconstructionDriftCalculator(column_names=FEATURES, chunk_size=chunk_size)
    calculator.fit(reference)
    clock.lap("fit")
    result = calculator.calculate(analysis)
    clock.lap("estimate")
    totals = clock.totals()
    frame = result.filter(period="analysis").to_df()
    return {**totals, "import_seconds": import_seconds, "version": nml.__version__,
            "chunks": _their_chunks(frame, [PCA_METRIC])}


SIDES = {"driftwatch-cbpe": driftwatch_cbpe, "driftwatch-pca": driftwatch_pca, "nannyml-cbpe": nannyml_cbpe,
         "nannyml-pca": nannyml_pca}


# -- the parent: run each side in its own process, compare -----------------------------------------


def _child(python: Path, side: str, files: tuple[Path, Path], chunk_size: int,
           environment: dict[str, str] | None = None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([str(python), __file__, "--side", side, "--reference-file", str(files[0]),
                        "--analysis-file", str(files[1]), "--chunk-size", str(chunk_size), "--out", out.name],
                       check=True, env=environment)
        result: dict[str, Any] = json.loads(Path(out.name).read_text())
    return result


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of repeated runs (fit + estimate wall seconds); the largest peak RSS of them all.

    The machine is shared, so other work only ever slows a run down: the fastest run is the
    one least disturbed, and so for both sides.
    """
    best = dict(min(runs, key=lambda run: run["seconds"]))
    best["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    best["runs"] = [{key: run[key] for key in ("seconds", "cpu_seconds", "seconds_with_read", "peak_rss_mb")}
                    for run in runs]
    return best


def _relative(ours: float | None, theirs: float | None) -> float:
    if ours is None or theirs is None or math.isnan(ours) or math.isnan(theirs):
        both_missing = (ours is None or math.isnan(ours)) and (theirs is None or math.isnan(theirs))
        return 0.0 if both_missing else math.inf
    if ours == theirs:
        return 0.0
    return abs(ours - theirs) / max(abs(theirs), 1e-300)


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Chunk bounds, alerts and the largest relative differences of each compared field."""
    bounds_same = [(c["start"], c["end"]) for c in ours["chunks"]] == [(c["start"], c["end"]) for c in
                                                                         theirs["chunks"]]
    differing: list[dict[str, Any]] = []
    gaps = dict.fromkeys(FIELDS, 0.0)
    alerts: dict[str, list[int]] = {}
    for index, (mine, other) in enumerate(zip(ours["chunks"], theirs["chunks"], strict=True)):
        for metric, expected in other["metrics"].items():
            got = mine["metrics"][metric]
            if got["alert"] != expected["alert"]:
                differing.append({"chunk": index, "metric": metric, "driftwatch": got["alert"],
                                  "nannyml": expected["alert"]})
            if expected["alert"]:
                alerts.setdefault(metric, []).append(index)
            for field in FIELDS:
                gaps[field] = max(gaps[field], _relative(got[field], expected[field]))
    return {"chunks": len(theirs["chunks"]), "chunk_bounds_identical": bounds_same,
            "verdicts_identical": bounds_same and not differing and len(ours["chunks"]) == len(theirs["chunks"]),
            "differing_verdicts": differing, "alerting_chunks": alerts,
            "max_relative_difference": gaps["value"], "max_relative_difference_by_field": gaps}


def _summary(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    return {
        "driftwatch_seconds": ours["seconds"], "nannyml_seconds": theirs["seconds"],
        "speedup": theirs["seconds"] / ours["seconds"],
        "driftwatch_cpu_seconds": ours["cpu_seconds"], "nannyml_cpu_seconds": theirs["cpu_seconds"],
        "cpu_speedup": theirs["cpu_seconds"] / ours["cpu_seconds"],
        "driftwatch_seconds_with_read": ours["seconds_with_read"],
        "nannyml_seconds_with_read": theirs["seconds_with_read"],
        "speedup_with_read": theirs["seconds_with_read"] / ours["seconds_with_read"],
        "cpu_speedup_with_read": theirs["cpu_seconds_with_read"] / ours["cpu_seconds_with_read"],
        "driftwatch_peak_rss_mb": ours["peak_rss_mb"], "nannyml_peak_rss_mb": theirs["peak_rss_mb"],
        "driftwatch_phases": ours["phases"], "nannyml_phases": theirs["phases"],
        "driftwatch_cpu_phases": ours["cpu_phases"], "nannyml_cpu_phases": theirs["cpu_phases"],
        "driftwatch_import_seconds": ours["import_seconds"], "nannyml_import_seconds": theirs["import_seconds"],
        "driftwatch_runs": ours["runs"], "nannyml_runs": theirs["runs"],
        **compare(ours, theirs),
    }


def _print_table(results: dict[str, dict[str, Any]]) -> None:
    header = (f"{'method':<7}{'side':<12}{'wall s':>8}{'CPU s':>8}{'fit s':>8}{'estimate s':>11}{'(read s)':>10}"
              f"{'peak MB':>9}")
    print(header)
    print("-" * len(header))
    for method, r in results.items():
        for side in ("driftwatch", "nannyml"):
            phases = r[f"{side}_phases"]
            print(f"{method:<7}{side:<12}{r[f'{side}_seconds']:>8.2f}{r[f'{side}_cpu_seconds']:>8.2f}"
                  f"{phases['fit']:>8.2f}{phases['estimate']:>11.2f}{phases['read']:>10.2f}"
                  f"{r[f'{side}_peak_rss_mb']:>9.0f}")
        memory = r["nannyml_peak_rss_mb"] / r["driftwatch_peak_rss_mb"]
        print(f"{'':<7}{'ratio':<12}{r['speedup']:>7.1f}x{r['cpu_speedup']:>7.1f}x   with read: "
              f"{r['speedup_with_read']:.1f}x wall, {r['cpu_speedup_with_read']:.1f}x CPU; NannyML peak "
              f"{memory:.2f}x ours")
        alerts = ", ".join(f"{metric} {len(chunks)}" for metric, chunks in r["alerting_chunks"].items())
        any_field = max(r["max_relative_difference_by_field"].values())
        print(f"{'':<7}{'verdicts':<12}{'identical' if r['verdicts_identical'] else 'DIFFER'} over {r['chunks']} "
              f"chunks (alerts: {alerts or 'none'}); max relative difference of values "
              f"{r['max_relative_difference']:.1e}, of any field {any_field:.1e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="analysis rows")
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (each a new process); the fastest "
                        "counts")
    parser.add_argument("--venv", type=Path, default=Path("/tmp/driftwatch-nannyml-venv"),
                        help="throwaway virtualenv for NannyML (made if missing)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--workdir", type=Path, help="keep the generated files here and reuse them next time")
    parser.add_argument("--side", choices=list(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--reference-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--analysis-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side is not None:
        sys.path.insert(0, str(ROOT))
        sys.path.insert(0, str(ROOT / "scripts"))
        result = SIDES[args.side](args.reference_file, args.analysis_file, args.chunk_size)
        args.out.write_text(json.dumps(result))
        return 0

    sys.path.insert(0, str(ROOT / "scripts"))
    from nannyml_golden import ensure_venv, nannyml_environment

    nannyml_python = ensure_venv(args.venv)
    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="driftwatch-estimate-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    try:
        marker = workdir / f"data.{args.rows}.{args.reference_rows}.ready"
        files = (workdir / "reference.parquet", workdir / "analysis.parquet")
        if not (keep and marker.exists()):
            started = time.perf_counter()
            files = write_data(workdir, args.rows, args.reference_rows)
            marker.touch()
            print(f"wrote {args.rows:,} analysis and {args.reference_rows:,} reference rows in "
                  f"{time.perf_counter() - started:.1f}s", flush=True)
        sides: dict[str, dict[str, Any]] = {}
        for method in ("cbpe", "pca"):
            for side in ("driftwatch", "nannyml"):
                python, environment = ((Path(sys.executable), None) if side == "driftwatch"
                                       else (nannyml_python, nannyml_environment()))
                runs = [_child(python, f"{side}-{method}", files, args.chunk_size, environment)
                        for _ in range(args.repeat)]
                sides[side] = _best(runs)
                print(f"{side} {method}: fit + estimate {sides[side]['seconds']:.2f}s "
                      f"({sides[side]['cpu_seconds']:.2f}s CPU), read {sides[side]['phases']['read']:.2f}s, "
                      f"peak {sides[side]['peak_rss_mb']:.0f} MB", flush=True)
            results[method] = _summary(sides["driftwatch"], sides["nannyml"])
            if method == "cbpe":
                results[method]["calibrated"] = {"driftwatch": sides["driftwatch"]["calibrated"],
                                                 "nannyml": sides["nannyml"]["calibrated"]}
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    _print_table(results)
    document = {
        "benchmark": "CBPE and PCA reconstruction drift vs NannyML 0.13.1",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeat": args.repeat,
        "timed": "fastest of the repeated runs: fit on the reference + estimate every chunk, on frames both "
                 "sides read with pandas.read_parquet (the read, the same call on both sides, is reported apart: "
                 "*_with_read; imports not timed)",
        "rows": args.rows, "reference_rows": args.reference_rows, "chunk_size": args.chunk_size,
        "features": {"numeric": len(NUMERIC), "categorical": len(CATEGORICAL)}, "cbpe_metrics": CBPE_METRICS,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_end": os.getloadavg()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(r["verdicts_identical"] for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
