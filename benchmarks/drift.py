"""Window computation vs Evidently's DataDriftPreset on a million-row window.

A window of 1,000,000 predictions x 25 features (20 numeric, 5 categorical; some
drifted) is stored in the store, against a 100,000-row reference. Each side runs in
its own process (so peak RSS is its own):

- **driftwatch**: the scheduler's window job (``compute_window``): load the window
  from the store, load the stored reference, compute every metric group (traffic,
  latency, quality, drift, output, performance, concept drift), save the rows.
  The window's predictions were compacted into columnar segments first, as the
  scheduler does tick by tick while they arrive (``monitor.store.segments``); that
  compaction is timed and reported on its own (``compaction_seconds``), and the same
  job is also timed reading every row from JSON (``json_path_seconds``).
- **Evidently**: the same window and reference, loaded from the store into the same
  typed frames our drift tests use, then ``Report([DataDriftPreset()])`` with its
  default methods. Only the report run is timed (its load is reported apart), so
  the ratio is the most favourable one for Evidently.

The per-feature drift verdicts of both must be identical. Prints a table, writes
``benchmarks/results/drift.json``::

    python benchmarks/drift.py                     # SQLite and PostgreSQL
    python benchmarks/drift.py --backends sqlite --rows 200000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from monitor.config.models import ModelConfig  # noqa: E402
from monitor.store.engine import create_store_engine  # noqa: E402
from monitor.store.schema import upgrade_schema  # noqa: E402

MODEL = "bench"
VERSION = "v1"
START = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW = timedelta(days=1)
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
CATEGORIES = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"])
RESULTS = ROOT / "benchmarks" / "results" / "drift.json"


def model_config(reference_file: Path) -> ModelConfig:
    features: dict[str, Any] = {name: {"type": "numeric"} for name in NUMERIC}
    features.update({name: {"type": "categorical", "values": CATEGORIES.tolist()} for name in CATEGORICAL})
    return ModelConfig.model_validate({
        "task": "binary_classification", "positive_label": 1, "window": "1d", "features": features,
        "reference": {"file": str(reference_file)},
    })


# -- data ------------------------------------------------------------------------------


def _frame(rows: int, *, seed: int, drifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for index, name in enumerate(NUMERIC):
        shift = 0.5 if drifted and index < 6 else 0.0  # six numeric features drift
        scale = 1.0 + index / 10
        data[name] = np.round(rng.normal(shift * scale, scale, rows), 6)
    for index, name in enumerate(CATEGORICAL):
        p = np.full(len(CATEGORIES), 1 / len(CATEGORIES))
        if drifted and index == 0:  # one categorical feature drifts
            p = np.array([0.45, 0.25, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03])
        data[name] = CATEGORIES[rng.choice(len(CATEGORIES), rows, p=p)]
    score = rng.random(rows)
    data["score"] = np.round(score, 6)
    data["prediction"] = (score > 0.5).astype(int)
    flip = rng.random(rows) < (0.25 if drifted else 0.1)
    data["label"] = np.where(flip, 1 - data["prediction"], data["prediction"])
    return pd.DataFrame(data)


def _feature_json_lines(frame: pd.DataFrame) -> list[str]:
    text = frame[NUMERIC + CATEGORICAL].to_json(orient="records", lines=True, double_precision=15)
    return text.splitlines()


def populate(url: str, workdir: Path, rows: int, reference_rows: int) -> Path:
    """Store the window (predictions + labels for half of them) and write the reference file."""
    engine = create_store_engine(url)
    upgrade_schema(engine)
    reference_file = workdir / "reference.parquet"
    _frame(reference_rows, seed=1, drifted=False).to_parquet(reference_file)
    current = _frame(rows, seed=2, drifted=True)
    lines = _feature_json_lines(current)
    step = WINDOW / rows
    ingested = datetime.now(UTC)
    stamp_format = "%Y-%m-%d %H:%M:%S.%f"
    batch = 100_000
    with engine.begin() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        postgres = engine.dialect.name == "postgresql"
        for first in range(0, rows, batch):
            chunk = range(first, min(rows, first + batch))
            predictions = []
            labels = []
            for i in chunk:
                event = START + i * step
                prediction = int(current["prediction"].iat[i])
                when = event if postgres else event.replace(tzinfo=None).strftime(stamp_format)
                at = ingested if postgres else ingested.replace(tzinfo=None).strftime(stamp_format)
                predictions.append((MODEL, VERSION, f"p{i}", when, lines[i], str(prediction), float(prediction),
                                    float(current["score"].iat[i]), float(5 + i % 50), "ok", at))
                if i % 2 == 0:
                    label = str(int(current["label"].iat[i]))
                    labels.append((MODEL, f"p{i}", label, float(label), when, at))
            p_cols = ("model, model_version, prediction_id, event_time, features, prediction, prediction_numeric, "
                      "score, latency_ms, status, ingested_at")
            l_cols = "model, prediction_id, label, label_numeric, event_time, ingested_at"
            if postgres:
                with driver.cursor() as cursor:
                    with cursor.copy(f"COPY predictions ({p_cols}) FROM STDIN") as copy:
                        for row in predictions:
                            copy.write_row(row)
                    with cursor.copy(f"COPY labels ({l_cols}) FROM STDIN") as copy:
                        for row in labels:
                            copy.write_row(row)
            else:
                cursor = driver.cursor()
                cursor.executemany(f"INSERT INTO predictions ({p_cols}) VALUES ({', '.join('?' * 11)})", predictions)
                cursor.executemany(f"INSERT INTO labels ({l_cols}) VALUES ({', '.join('?' * 6)})", labels)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE predictions")
            connection.exec_driver_sql("VACUUM ANALYZE labels")
    # The reference is stored once, as the scheduler does on first use (not timed).
    from monitor.jobs.reference import ReferenceProvider

    lookup = ReferenceProvider(engine).get(MODEL, model_config(reference_file), VERSION, now=START + WINDOW)
    assert lookup.reference is not None, lookup.reason
    engine.dispose()
    return reference_file


# -- the two sides, each in its own process --------------------------------------------------


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compact(url: str, reference_file: Path) -> dict[str, Any]:
    """Compact the stored window into segments (the scheduler does this tick by tick)."""
    from monitor.jobs.reference import feature_types_of
    from monitor.store.label_segments import compact_labels
    from monitor.store.schema import upgrade_schema
    from monitor.store.segments import compact_predictions

    engine = create_store_engine(url)
    upgrade_schema(engine)
    started, cpu = time.perf_counter(), _cpu_seconds()
    report = compact_predictions(engine, feature_types={MODEL: feature_types_of(model_config(reference_file))},
                                 max_rows=2**62)
    labelled = compact_labels(engine, max_rows=2**62)
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu_seconds() - cpu, "rows": report.rows,
            "segments": report.segments, "label_pairs": labelled.pairs, "label_segments": labelled.segments,
            "peak_rss_mb": _peak_mb()}


def run_ours_json(url: str, reference_file: Path) -> dict[str, Any]:
    """:func:`run_ours` with every row read from JSON, as if nothing were compacted."""
    from monitor.store import window_reader

    window_reader.read_segmented_window = lambda *args, **kwargs: None  # type: ignore[assignment]
    return run_ours(url, reference_file)


def run_ours(url: str, reference_file: Path) -> dict[str, Any]:
    from sqlalchemy import select

    from monitor.jobs.compute_window import WindowJob, compute_window
    from monitor.jobs.reference import ReferenceProvider
    from monitor.store.tables import metric_values
    from monitor.store.window_state import WindowKey, claim_window

    engine = create_store_engine(url)
    config = model_config(reference_file)
    key = WindowKey(MODEL, VERSION, START, START + WINDOW)
    now = START + WINDOW + timedelta(minutes=1)
    started, cpu = time.perf_counter(), _cpu_seconds()
    assert claim_window(engine, key, worker="benchmark", now=now, lease=timedelta(hours=1)) is not None
    outcome = compute_window(engine, WindowJob(key, "backfill", False), model_config=config,
                             references=ReferenceProvider(engine), worker="benchmark", now=now)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    peak = _peak_mb()
    with engine.connect() as connection:
        rows = list(connection.execute(select(metric_values).where(
            metric_values.c.model == MODEL, metric_values.c.metric == "feature_drift_score")))
    return {
        "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak, "status": outcome.status,
        "phases": _phases(engine, config, now), "notes": list(outcome.notes),
        "metrics_written": outcome.metrics_written,
        "verdicts": {row.feature: bool(row.is_breach) for row in rows},
        "methods": {row.feature: row.details["method"] for row in rows},
        "scores": {row.feature: row.value for row in rows},
    }


def _phases(engine: Any, config: ModelConfig, now: datetime) -> dict[str, float]:
    """The same work again, step by step (after the timed run, so not part of its numbers)."""
    from monitor.jobs.reference import ReferenceProvider, feature_types_of
    from monitor.jobs.window_metrics import WindowInput, compute_window_metrics
    from monitor.store.window_reader import load_window

    phases: dict[str, float] = {}
    started = time.perf_counter()
    window = load_window(engine, model=MODEL, model_version=VERSION, start=START, end=START + WINDOW,
                         feature_types=feature_types_of(config))
    phases["load_window_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    lookup = ReferenceProvider(engine).get(MODEL, config, VERSION, now=now)
    assert lookup.reference is not None
    phases["load_reference_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    compute_window_metrics(WindowInput(MODEL, VERSION, config, window.rows, window.dead_letter_count,
                                       lookup.reference.rows))
    phases["compute_metrics_seconds"] = time.perf_counter() - started
    return phases


def _objects(frame: Any, columns: list[str]) -> Any:
    for name in columns:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def run_evidently(url: str, reference_file: Path) -> dict[str, Any]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from monitor.jobs.reference import ReferenceProvider, feature_types_of
    from monitor.jobs.window_metrics import WindowInput, feature_specs
    from monitor.metrics.features import coerce_features
    from monitor.store.window_reader import load_window

    engine = create_store_engine(url)
    config = model_config(reference_file)
    started = time.perf_counter()
    window = load_window(engine, model=MODEL, model_version=VERSION, start=START, end=START + WINDOW,
                         feature_types=feature_types_of(config))
    lookup = ReferenceProvider(engine).get(MODEL, config, VERSION, now=START + WINDOW)
    assert lookup.reference is not None
    specs, _ = feature_specs(WindowInput(MODEL, VERSION, config, window.rows, 0, lookup.reference.rows))
    # Evidently gets the categorical features as object columns of strings (None where
    # missing), as they come from a CSV or parquet file and as its examples use them;
    # our typed columns keep them categorical (counted from the codes).
    current = _objects(coerce_features(window.rows.features, specs), CATEGORICAL)
    reference = _objects(coerce_features(lookup.reference.rows.features, specs), CATEGORICAL)
    del window, lookup
    load_seconds = time.perf_counter() - started
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    started, cpu = time.perf_counter(), _cpu_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset()], include_tests=True).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        ).dict()
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    scores, methods, verdicts = {}, {}, {}
    for metric in snapshot["metrics"]:
        config_ = metric["config"]
        if config_["type"].endswith("ValueDrift"):
            scores[config_["column"]] = float(metric["value"])
            methods[config_["column"]] = config_["method"]
    for test in snapshot["tests"]:
        if test["name"].startswith("Value Drift for column "):
            verdicts[test["name"].removeprefix("Value Drift for column ")] = test["status"] == "FAIL"
    return {"seconds": seconds, "cpu_seconds": cpu, "load_seconds": load_seconds, "peak_rss_mb": _peak_mb(),
            "verdicts": verdicts,
            "methods": methods, "scores": scores}


def _child(side: str, url: str, reference_file: Path) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    subprocess.run([sys.executable, __file__, "--side", side, "--store", url, "--reference-file",
                    str(reference_file), "--out", str(out)], check=True)
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return result


def benchmark(backend: str, url: str, workdir: Path, rows: int, reference_rows: int, *, reuse: bool) -> dict[str, Any]:
    ready = workdir / f"{backend}.{rows}.ready"
    if reuse and ready.exists():
        reference_file = workdir / "reference.parquet"
    else:
        started = time.perf_counter()
        reference_file = populate(url, workdir, rows, reference_rows)
        ready.touch()
        print(f"[{backend}] stored {rows:,} predictions in {time.perf_counter() - started:.0f}s", flush=True)
    compaction_file = workdir / f"{backend}.{rows}.compaction.json"
    if not (reuse and compaction_file.exists()):
        compaction_file.write_text(json.dumps(_child("compact", url, reference_file)))
    compaction = json.loads(compaction_file.read_text())
    print(f"[{backend}] compacted {compaction['rows']:,} predictions into {compaction['segments']} segments in "
          f"{compaction['seconds']:.1f}s ({compaction['cpu_seconds']:.1f}s CPU)", flush=True)
    ours = _child("ours", url, reference_file)
    phases = ", ".join(f"{name.removesuffix('_seconds')} {value:.1f}s" for name, value in ours["phases"].items())
    print(f"[{backend}] driftwatch {ours['seconds']:.2f}s ({ours['cpu_seconds']:.1f}s CPU), "
          f"peak {ours['peak_rss_mb']:.0f} MB; again step by step: {phases}", flush=True)
    from_json = _child("ours-json", url, reference_file)
    print(f"[{backend}] driftwatch reading every row from JSON instead: {from_json['seconds']:.2f}s "
          f"({from_json['cpu_seconds']:.1f}s CPU), peak {from_json['peak_rss_mb']:.0f} MB", flush=True)
    theirs = _child("evidently", url, reference_file)
    print(f"[{backend}] evidently {theirs['seconds']:.2f}s ({theirs['cpu_seconds']:.1f}s CPU; "
          f"+{theirs['load_seconds']:.2f}s load), peak {theirs['peak_rss_mb']:.0f} MB", flush=True)
    features = sorted(theirs["verdicts"])
    differing = [name for name in features if ours["verdicts"].get(name) != theirs["verdicts"][name]]
    score_gap = max(abs(ours["scores"][name] - theirs["scores"][name]) / max(abs(theirs["scores"][name]), 1e-300)
                    for name in features)
    return {
        "backend": backend,
        "rows": rows,
        "reference_rows": reference_rows,
        "features": {"numeric": len(NUMERIC), "categorical": len(CATEGORICAL)},
        "driftwatch_seconds": ours["seconds"],
        "evidently_seconds": theirs["seconds"],
        "evidently_load_seconds": theirs["load_seconds"],
        "speedup": theirs["seconds"] / ours["seconds"],
        "driftwatch_cpu_seconds": ours["cpu_seconds"],
        "compaction_seconds": compaction["seconds"],
        "compaction_cpu_seconds": compaction["cpu_seconds"],
        "compaction_peak_rss_mb": compaction["peak_rss_mb"],
        "json_path_seconds": from_json["seconds"],
        "json_path_speedup": theirs["seconds"] / from_json["seconds"],
        "json_path_peak_rss_mb": from_json["peak_rss_mb"],
        "json_path_verdicts_identical": from_json["verdicts"] == ours["verdicts"],
        "driftwatch_phases": ours["phases"],
        "statistics_only_speedup": theirs["seconds"] / ours["phases"]["compute_metrics_seconds"],
        "evidently_cpu_seconds": theirs["cpu_seconds"],
        "cpu_speedup": theirs["cpu_seconds"] / ours["cpu_seconds"],
        "driftwatch_peak_rss_mb": ours["peak_rss_mb"],
        "evidently_peak_rss_mb": theirs["peak_rss_mb"],
        "verdicts_identical": not differing,
        "differing_features": differing,
        "drifted_features": sorted(name for name in features if theirs["verdicts"][name]),
        "methods": ours["methods"],
        "max_relative_score_difference": score_gap,
        "driftwatch_status": ours["status"],
        "metrics_written": ours["metrics_written"],
    }


def _print_table(results: list[dict[str, Any]]) -> None:
    header = (f"{'backend':<11}{'driftwatch s':>13}{'evidently s':>13}{'speedup':>9}{'CPU speedup':>12}"
              f"{'dw peak MB':>12}{'ev peak MB':>12}{'verdicts':>10}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['backend']:<11}{r['driftwatch_seconds']:>13.2f}{r['evidently_seconds']:>13.2f}"
              f"{r['speedup']:>8.1f}x{r['cpu_speedup']:>11.1f}x"
              f"{r['driftwatch_peak_rss_mb']:>12.0f}{r['evidently_peak_rss_mb']:>12.0f}"
              f"{'same' if r['verdicts_identical'] else 'DIFFER':>10}")


SIDES = {"compact": compact, "ours": run_ours, "ours-json": run_ours_json, "evidently": run_evidently}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--workdir", type=Path, help="keep the generated stores here and reuse them next time")
    parser.add_argument("--side", choices=list(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--reference-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side is not None:
        args.out.write_text(json.dumps(SIDES[args.side](args.store, args.reference_file)))
        return 0

    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="driftwatch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    results = []
    server = None
    try:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{workdir / f'bench.{args.rows}.db'}"
            elif backend == "postgresql":
                from local_postgres import LocalPostgres

                server = LocalPostgres(base_dir=workdir / "pg")
                server.start()
                url = server.url.rsplit("/", 1)[0] + "/bench"
                if not (keep and (workdir / f"{backend}.{args.rows}.ready").exists()):
                    url = server.create_database("bench")
            else:
                parser.error(f"unknown backend {backend!r}; use sqlite and/or postgresql")
            results.append(benchmark(backend, url, workdir, args.rows, args.reference_rows, reuse=keep))
    finally:
        if server is not None:
            server.stop("fast")
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    _print_table(results)
    document = {
        "benchmark": "window computation vs Evidently DataDriftPreset",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_end": os.getloadavg()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(r["verdicts_identical"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
