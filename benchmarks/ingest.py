"""Ingestion throughput: driftwatch ingest vs a bare kafka-python loop, same run.

Produces N realistic prediction messages (20 features) to a fresh topic on a local
broker, then times, each in its own process (so peak RSS is its own):

  (a) baseline: a bare kafka-python poll + json.loads loop over the topic;
  (b) driftwatch ingest into SQLite, and
  (c) into PostgreSQL (a fresh database per run), each with ``ingest.workers`` 1 and 2
      (2 worker processes share the topic's partitions: one core each).

Prints events/s, the ratio to (a) and peak RSS (summed over a run's processes),
samples RSS during the run (to show memory stays flat), and writes
``benchmarks/results/ingest.json``.

    .venv/bin/python benchmarks/ingest.py [--messages 1000000] [--partitions 2] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

FEATURES = [f"f{i:02d}" for i in range(20)]
CATEGORIES = ["DE", "FR", "US", "GB", "ES", "IT"]


def message(index: int, rng: random.Random) -> bytes:
    features: dict[str, object] = {name: round(rng.gauss(0, 1), 5) for name in FEATURES[:16]}
    features.update({name: rng.choice(CATEGORIES) for name in FEATURES[16:]})
    score = rng.random()
    return json.dumps({
        "prediction_id": f"p-{index}",
        "model": "bench",
        "model_version": "v1",
        "timestamp": 1_790_000_000_000 + index * 10,
        "features": features,
        "prediction": int(score > 0.5),
        "score": round(score, 6),
        "latency_ms": round(rng.gammavariate(2, 8), 3),
        "status": "ok",
    }).encode()


def produce(bootstrap: str, topic: str, total: int, partitions: int) -> float:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, partitions, 1), NewTopic(topic + "-labels", 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, batch_size=1_048_576,
                             compression_type=None, acks=1)
    rng = random.Random(7)
    started = time.perf_counter()
    for index in range(total):
        producer.send(topic, message(index, rng))
    producer.flush()
    producer.close()
    return time.perf_counter() - started


def fresh_database(url: str, name: str) -> str:
    """A new, empty database on the benchmark's server (one per run: each starts from nothing)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


class RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.started = time.perf_counter()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.samples.append((round(time.perf_counter() - self.started, 1), tree_rss_mb(os.getpid())))


def tree_rss_mb(pid: int) -> int:
    """RSS of ``pid`` and all its descendants (ingest workers are child processes), in MB."""
    total_kb = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total_kb += tree_rss_mb(int(child)) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total_kb // 1024


def step_baseline(bootstrap: str, topic: str, total: int) -> dict[str, object]:
    from kafka import KafkaConsumer

    sampler = RssSampler()
    sampler.start()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"bare-{time.time_ns()}",
                             auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=5000)
    started = time.perf_counter()
    seen = 0
    while seen < total:
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                json.loads(record.value)
            seen += len(records)
    elapsed = time.perf_counter() - started
    consumer.close()
    sampler.stop.set()
    return {"elapsed_s": elapsed, "events": seen, "samples_mb": sampler.samples}


def step_ingest(bootstrap: str, topic: str, total: int, store: str, workers: int) -> dict[str, object]:
    from sqlalchemy import text

    from monitor.config.loader import config_from_mapping
    from monitor.ingest.workers import run_ingest
    from monitor.store.engine import create_store_engine
    from monitor.store.schema import upgrade_schema

    engine = create_store_engine(store)
    upgrade_schema(engine)
    config = config_from_mapping({
        "store": store,
        "kafka": {"bootstrap_servers": bootstrap, "predictions_topic": topic, "labels_topic": topic + "-labels",
                  "group_id": f"dw-{time.time_ns()}"},
        "ingest": {"batch_size": 5000, "batch_max_wait": "1s", "workers": workers,
                   "max_event_age": "3650d"},  # the messages carry fixed 2026 timestamps
        "models": {"bench": {"task": "binary_classification", "positive_label": 1}},
    }, environ={})
    sampler = RssSampler()
    sampler.start()
    stop = threading.Event()
    finished: list[float] = []

    def stored() -> int:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT COUNT(*) FROM predictions")).scalar_one())

    def highest_id() -> int:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT coalesce(max(id), 0) FROM predictions")).scalar_one())

    def stop_when_done() -> None:
        # The store is the judge (the workers are other processes): done when all rows are
        # there. max(id) is one index probe; COUNT(*) (a scan) only once it can be done.
        while not stop.is_set() and (highest_id() < total or stored() < total):
            time.sleep(0.1)
        finished.append(time.perf_counter())
        stop.set()

    watcher = threading.Thread(target=stop_when_done, daemon=True)
    started = time.perf_counter()
    watcher.start()
    stats = run_ingest(config, engine, stop)
    elapsed = (finished[0] if finished else time.perf_counter()) - started
    sampler.stop.set()
    return {"elapsed_s": elapsed, "events": stats.messages, "stored": stored(), "workers": workers,
            "samples_mb": sampler.samples}


def run_step(args: argparse.Namespace) -> None:
    if args.step == "baseline":
        result = step_baseline(args.bootstrap, args.topic, args.messages)
    else:
        result = step_ingest(args.bootstrap, args.topic, args.messages, args.store, args.workers[0])
    samples = [mb for _, mb in result["samples_mb"]]  # type: ignore[union-attr]
    result["peak_rss_mb"] = max([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, *samples])
    print(json.dumps(result))


def spawn(step: str, bootstrap: str, topic: str, total: int, store: str = "", workers: int = 1) -> dict[str, object]:
    command = [sys.executable, __file__, "--step", step, "--bootstrap", bootstrap, "--topic", topic,
               "--messages", str(total), "--store", store, "--workers", str(workers)]
    output = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if output.returncode != 0:
        raise SystemExit(f"{step} run failed (exit {output.returncode}):\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="ingest.workers values to run, each on both stores (default: 1 2)")
    parser.add_argument("--step", choices=["baseline", "ingest"], help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--store", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        run_step(args)
        return

    from local_kafka import LocalKafka
    from local_postgres import LocalPostgres

    work = Path(tempfile.mkdtemp(prefix="driftwatch-bench-"))
    work.chmod(0o755)
    broker = LocalKafka(base_dir=work / "kafka")
    postgres = LocalPostgres(base_dir=work / "pg")
    results: dict[str, object] = {"messages": args.messages, "partitions": args.partitions,
                                  "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        bootstrap = broker.start()
        topic = "bench-predictions"
        print(f"producing {args.messages:,} messages ...", flush=True)
        results["produce_s"] = produce(bootstrap, topic, args.messages, args.partitions)
        runs = {"baseline (kafka-python poll + json.loads)": spawn("baseline", bootstrap, topic, args.messages)}
        url = None if args.skip_postgres else postgres.start()
        for workers in args.workers:
            if not args.skip_sqlite:
                runs[f"driftwatch ingest → SQLite, {workers} worker(s)"] = spawn(
                    "ingest", bootstrap, topic, args.messages, f"sqlite:///{work / f'bench-{workers}.db'}", workers)
            if url is not None:
                runs[f"driftwatch ingest → PostgreSQL, {workers} worker(s)"] = spawn(
                    "ingest", bootstrap, topic, args.messages, fresh_database(url, f"bench_{workers}"), workers)
        base_rate = args.messages / float(runs["baseline (kafka-python poll + json.loads)"]["elapsed_s"])  # type: ignore[arg-type]
        print(f"\n{'run':54} {'events/s':>10} {'ratio':>7} {'peak RSS MB':>12} {'RSS MB over the run (min→max)':>30}")
        table = []
        for name, run in runs.items():
            rate = args.messages / float(run["elapsed_s"])  # type: ignore[arg-type]
            samples = [mb for _, mb in run.get("samples_mb", [])]  # type: ignore[union-attr]
            spread = f"{min(samples)}→{max(samples)}" if samples else "-"
            print(f"{name:54} {rate:10,.0f} {rate / base_rate:7.2f} {float(run['peak_rss_mb']):12.0f} {spread:>30}")
            table.append({"run": name, "events_per_s": rate, "ratio_to_baseline": rate / base_rate, **run})
        results["runs"] = table
        out = ROOT / "benchmarks" / "results" / "ingest.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
        print(f"\nwrote {out}")
    finally:
        broker.stop(kill=True)
        postgres.stop("immediate")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
