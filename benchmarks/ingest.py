"""Ingestion throughput: driftwatch ingest vs a bare kafka-python loop, same run.

Produces N realistic prediction messages (20 features) to a fresh topic on a local
broker, then times, each in its own process (so peak RSS is its own):

  (a) baseline: a bare kafka-python poll + json.loads loop over the topic;
  (b) driftwatch ingest into SQLite;
  (c) driftwatch ingest into PostgreSQL.

Prints events/s, the ratio to (a) and peak RSS, samples RSS during the run (to
show memory stays flat), and writes ``benchmarks/results/ingest.json``.

    .venv/bin/python benchmarks/ingest.py [--messages 1000000] [--partitions 2]
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


class RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.started = time.perf_counter()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.samples.append((round(time.perf_counter() - self.started, 1), int(line.split()[1]) // 1024))


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


def step_ingest(bootstrap: str, topic: str, total: int, store: str) -> dict[str, object]:
    from monitor.config.loader import config_from_mapping
    from monitor.ingest.consumer import IngestService
    from monitor.store.engine import create_store_engine
    from monitor.store.schema import upgrade_schema

    engine = create_store_engine(store)
    upgrade_schema(engine)
    config = config_from_mapping({
        "store": store,
        "kafka": {"bootstrap_servers": bootstrap, "predictions_topic": topic, "labels_topic": topic + "-labels",
                  "group_id": f"dw-{time.time_ns()}"},
        "ingest": {"batch_size": 5000, "batch_max_wait": "1s"},
        "models": {"bench": {"task": "binary_classification", "positive_label": 1}},
    }, environ={})
    sampler = RssSampler()
    sampler.start()
    service = IngestService(config=config, engine=engine)
    stop = threading.Event()

    def stop_when_done() -> None:
        while service.stats.predictions < total and not stop.is_set():
            time.sleep(0.05)
        stop.set()

    watcher = threading.Thread(target=stop_when_done, daemon=True)
    watcher.start()
    started = time.perf_counter()
    service.run(stop)
    elapsed = time.perf_counter() - started
    sampler.stop.set()
    from sqlalchemy import text

    with engine.connect() as connection:
        stored = connection.execute(text("SELECT COUNT(*) FROM predictions")).scalar_one()
    return {"elapsed_s": elapsed, "events": service.stats.messages, "stored": stored,
            "samples_mb": sampler.samples}


def run_step(args: argparse.Namespace) -> None:
    if args.step == "baseline":
        result = step_baseline(args.bootstrap, args.topic, args.messages)
    else:
        result = step_ingest(args.bootstrap, args.topic, args.messages, args.store)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def spawn(step: str, bootstrap: str, topic: str, total: int, store: str = "") -> dict[str, object]:
    command = [sys.executable, __file__, "--step", step, "--bootstrap", bootstrap, "--topic", topic,
               "--messages", str(total), "--store", store]
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--skip-postgres", action="store_true")
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
        runs["driftwatch ingest → SQLite"] = spawn("ingest", bootstrap, topic, args.messages,
                                                    f"sqlite:///{work / 'bench.db'}")
        if not args.skip_postgres:
            url = postgres.start()
            runs["driftwatch ingest → PostgreSQL"] = spawn("ingest", bootstrap, topic, args.messages, url)
        base_rate = args.messages / float(runs["baseline (kafka-python poll + json.loads)"]["elapsed_s"])  # type: ignore[arg-type]
        print(f"\n{'run':44} {'events/s':>10} {'ratio':>7} {'peak RSS MB':>12} {'RSS MB over the run (min→max)':>30}")
        table = []
        for name, run in runs.items():
            rate = args.messages / float(run["elapsed_s"])  # type: ignore[arg-type]
            samples = [mb for _, mb in run.get("samples_mb", [])]  # type: ignore[union-attr]
            spread = f"{min(samples)}→{max(samples)}" if samples else "-"
            print(f"{name:44} {rate:10,.0f} {rate / base_rate:7.2f} {float(run['peak_rss_mb']):12.0f} {spread:>30}")
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
