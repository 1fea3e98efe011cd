"""Dashboard first-render time with a month of data, every page, SQLite and PostgreSQL.

Seeds 30 days of hourly windows for 5 models × 25 features (about 520,000
``metric_values`` rows, plus alerts, dead letters, reference rows and predictions;
``tests/dashboard/seed.py``), then times each page with ``streamlit.testing``'s
AppTest, which runs the real ``dashboard/app.py`` script:

  (a) baseline: the same page on the small test store (3 models × 4 features × 2 days);
  (b) first render on the month store with every cache empty (engine included):
      what an on-call engineer waits for when opening the page;
  (c) a rerun with warm caches (a widget change within the 15 s query TTL).

Two heavier variants open the model and drift pages on their "Last 30 days" range.
With ``--browser`` it also times, in headless Chromium against a real ``driftwatch
dashboard`` process, a fresh session's load until Streamlit reports the run over and
every chart is drawn, on both stores (the small one is the baseline again; the
difference is what the data volume costs, the rest is the browser and Streamlit's
frontend on this machine).
Prints a table (ratio = b / a, target b < 3 s) and writes
``benchmarks/results/dashboard.json``. Times are medians of ``--repeat`` runs.

    .venv/bin/python benchmarks/dashboard.py [--days 30] [--models 5] [--features 25]
                                             [--repeat 3] [--no-postgres] [--browser]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# AppTest runs pages without a server; keep Streamlit's "bare mode" warnings out of the table.
os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

TARGET_S = 3.0
APP = ROOT / "dashboard" / "app.py"
RESULTS = ROOT / "benchmarks" / "results" / "dashboard.json"
# (name, page file stem, session state set before the first run)
VIEWS: list[tuple[str, str, dict[str, str]]] = [
    ("overview", "overview", {}),
    ("model", "model", {}),
    ("model, 30 days", "model", {"model_page.range": "Last 30 days"}),
    ("drift", "drift", {}),
    ("drift, 30 days", "drift", {"drift.range": "Last 30 days"}),
    ("alerts", "alerts", {}),
    ("data quality", "data_quality", {}),
]


@dataclass
class Row:
    backend: str
    view: str
    baseline_s: float
    first_render_s: float
    warm_s: float
    browser_baseline_s: float | None = None
    browser_s: float | None = None

    @property
    def ratio(self) -> float:
        return self.first_render_s / self.baseline_s if self.baseline_s else float("nan")


def seed(url: str, spec: object) -> float:
    from monitor.store.engine import create_store_engine
    from monitor.store.schema import upgrade_schema
    from tests.dashboard.seed import seed_store

    engine = create_store_engine(url)
    upgrade_schema(engine)
    started = time.perf_counter()
    seed_store(engine, spec)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def clear_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def time_views(url: str, repeat: int) -> dict[str, tuple[float, float]]:
    """view -> (median first render with empty caches, median warm rerun), in seconds."""
    from streamlit.testing.v1 import AppTest

    os.environ["DRIFTWATCH_STORE"] = url
    # One throw-away run: imports and AppTest's one-time component scan are not the page's cost.
    AppTest.from_file(str(APP), default_timeout=300).run()
    timings: dict[str, tuple[float, float]] = {}
    for name, page, state in VIEWS:
        cold, warm = [], []
        for _ in range(repeat):
            clear_caches()
            at = AppTest.from_file(str(APP), default_timeout=300)
            at.switch_page(f"views/{page}.py")
            for key, value in state.items():
                at.session_state[key] = value
            cold.append(_timed(at.run))
            if at.exception:
                raise RuntimeError(f"{name} raised: {[e.value for e in at.exception]}")
            warm.append(_timed(at.run))
        timings[name] = (statistics.median(cold), statistics.median(warm))
    clear_caches()
    return timings


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def time_browser(url: str, workdir: Path, repeat: int, model: str) -> dict[str, float]:
    from dashboard.time_ranges import model_page_query
    from tests.dashboard.browser import headless_chromium, open_page
    from tests.dashboard.server import DashboardProcess

    headings = {"overview": "Model health", "model": "Model vitals", "drift": "Data drift", "alerts": "Alerts",
                "data_quality": "Data quality"}
    workdir.mkdir(parents=True, exist_ok=True)
    server = DashboardProcess(url, workdir).start()
    timings: dict[str, float] = {}
    try:
        with headless_chromium() as driver:
            open_page(driver, server.base_url + "/", "Model health", settle_s=0)  # server-side imports
            for name, page, state in VIEWS:
                if state:
                    continue
                path = "/" if page == "overview" else f"/{page}"
                if page == "model":
                    path += "?" + model_page_query(model)
                samples = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    open_page(driver, server.base_url + path, headings[page], settle_s=0)
                    samples.append(time.perf_counter() - started)
                timings[name] = statistics.median(samples)
    finally:
        server.stop()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--features", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--browser", action="store_true", help="also time page loads in headless Chromium")
    args = parser.parse_args()
    for name in list(os.environ):
        if name.startswith("DRIFTWATCH_") and name not in ("DRIFTWATCH_PG_DIR",):
            del os.environ[name]

    from tests.dashboard.seed import benchmark_spec, known_spec

    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    big = benchmark_spec(models=args.models, features=args.features, days=args.days, end=end)
    small = known_spec(end=end)
    workdir = Path(tempfile.mkdtemp(prefix="driftwatch-bench-dashboard-"))
    workdir.chmod(0o755)
    stores = {"sqlite": (f"sqlite:///{workdir / 'small.db'}", f"sqlite:///{workdir / 'month.db'}")}
    postgres = None
    if not args.no_postgres:
        from local_postgres import LocalPostgres

        postgres = LocalPostgres(base_dir=workdir / "pg")
        postgres.start()
        suffix = uuid.uuid4().hex[:8]
        stores["postgresql"] = (postgres.create_database(f"bench_small_{suffix}"),
                                postgres.create_database(f"bench_month_{suffix}"))
    rows: list[Row] = []
    seeding: dict[str, float] = {}
    try:
        for backend, (small_url, big_url) in stores.items():
            seed(small_url, small)
            seeding[backend] = seed(big_url, big)
            print(f"{backend}: seeded {args.days} days × {args.models} models × {args.features} features "
                  f"in {seeding[backend]:.1f} s", flush=True)
            baseline = time_views(small_url, args.repeat)
            month = time_views(big_url, args.repeat)
            browser_small: dict[str, float] = {}
            browser_big: dict[str, float] = {}
            if args.browser:
                browser_small = time_browser(small_url, workdir / f"browser-small-{backend}", args.repeat, "fraud")
                browser_big = time_browser(big_url, workdir / f"browser-{backend}", args.repeat, "model_00")
            for name, _page, _state in VIEWS:
                rows.append(Row(backend, name, baseline[name][0], month[name][0], month[name][1],
                                browser_small.get(name), browser_big.get(name)))
    finally:
        if postgres is not None:
            postgres.stop("immediate")
        shutil.rmtree(workdir, ignore_errors=True)

    header = f"{'backend':<11}{'view':<16}{'baseline':>10}{'first':>9}{'ratio':>8}{'warm':>8}"
    header += f"{'browser small':>15}{'browser month':>15}" if args.browser else ""
    print("\n" + header + "   (seconds; first = month store, empty caches)")
    for row in rows:
        line = (f"{row.backend:<11}{row.view:<16}{row.baseline_s:>10.2f}{row.first_render_s:>9.2f}"
                f"{row.ratio:>7.1f}x{row.warm_s:>8.2f}")
        if args.browser:
            for value in (row.browser_baseline_s, row.browser_s):
                line += f"{value:>15.2f}" if value is not None else f"{'—':>15}"
        print(line + ("" if row.first_render_s < TARGET_S else "   over target"))
    worst = max(row.first_render_s for row in rows)
    print(f"\nslowest first render {worst:.2f} s (target < {TARGET_S:.0f} s); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "spec": {"days": args.days, "models": args.models, "features": args.features, "repeat": args.repeat},
        "baseline": "same page on the test store: 3 models x 4 features x 2 days",
        "target_s": TARGET_S,
        "seed_s": seeding,
        "machine": {"cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0]},
        "results": [{**asdict(row), "ratio": row.ratio, "within_target": row.first_render_s < TARGET_S}
                    for row in rows],
    }, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if worst < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
