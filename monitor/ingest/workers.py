"""Several ingestion processes in one consumer group, run by one command.

One Python process cannot consume faster than kafka-python parses records and our
decoder validates them, and both hold the GIL: a single member never uses a second
core. With ``ingest.workers: N`` (or ``--workers N``) the command starts N worker
processes, each a full :class:`~monitor.ingest.consumer.IngestService` in the same
consumer group. Kafka spreads the partitions over them, and each keeps the
exactly-once rules on its own (offsets committed after the batch is durable,
idempotent writes), so nothing here needs to coordinate them. Give the topics at
least N partitions; a worker without a partition just waits for a rebalance.

The parent only supervises. A stop request (SIGTERM/SIGINT) is passed on as SIGTERM
and every worker finishes and commits its batch. A worker that dies on its own
stops the others and the command fails, so a supervisor restarts the whole (the
same rule as ``driftwatch run``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import fields as dataclass_fields
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from queue import Empty
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from monitor.config.models import DriftwatchConfig
from monitor.ingest.consumer import IngestService, IngestStats
from monitor.ingest.counters import FIELDS, INGEST_COUNTERS
from monitor.logs import configure_logging, fields

__all__ = ["IngestWorkerError", "run_ingest", "worker_config"]

log = logging.getLogger("driftwatch.ingest")

_COUNTS = tuple(f.name for f in dataclass_fields(IngestStats) if f.name != "started")


class IngestWorkerError(RuntimeError):
    """An ingest worker process ended without being asked to (exit code 1, not a config error)."""


def run_ingest(
    config: DriftwatchConfig, engine: Engine, stop: threading.Event, *, until_idle: float | None = None
) -> IngestStats:
    """Ingest until ``stop`` (or ``until_idle``): in this process, or in ``ingest.workers`` processes."""
    if config.ingest.workers == 1:
        return IngestService(config=config, engine=engine).run(stop, until_idle=until_idle)
    return _supervise(config, stop, until_idle)


def worker_config(config: DriftwatchConfig, index: int) -> DriftwatchConfig:
    """Worker ``index``'s config: its own client id, and its own static member id if one is set."""
    kafka = config.kafka
    instance = None if kafka.group_instance_id is None else f"{kafka.group_instance_id}-{index}"
    return config.model_copy(update={
        "kafka": kafka.model_copy(update={"client_id": f"{kafka.client_id}-{index}", "group_instance_id": instance}),
    })


def _publisher(shared: Any, index: int) -> Callable[[IngestStats], None]:
    """Writes a worker's counts into its slot of the parent's shared array."""
    def publish(stats: IngestStats) -> None:
        with shared.get_lock():
            for position, name in enumerate(FIELDS):
                shared[index * len(FIELDS) + position] = float(getattr(stats, name))
    return publish


def _shared_reading(shared: Any) -> Callable[[], dict[str, float]]:
    def read() -> dict[str, float]:
        with shared.get_lock():
            values = list(shared)
        return {name: sum(values[position::len(FIELDS)]) for position, name in enumerate(FIELDS)}
    return read


def _worker(config: DriftwatchConfig, index: int, until_idle: float | None, log_level: str,
            results: Queue[tuple[int, dict[str, Any]]], shared: Any = None) -> None:
    """A worker process's body (spawned: it shares nothing with the parent but its arguments)."""
    from monitor.store.engine import create_store_engine

    configure_logging(log_level)
    stop = threading.Event()

    def _on_term(_signum: int, _frame: FrameType | None) -> None:
        # From another thread: the handler may interrupt the main thread inside this Event's lock.
        threading.Thread(target=stop.set, daemon=True).start()

    signal.signal(signal.SIGTERM, _on_term)
    # Ctrl-C reaches the whole process group; the parent answers it with one SIGTERM each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engine = create_store_engine(config.store)
    try:
        publish = _publisher(shared, index) if shared is not None else None
        stats = IngestService(config=config, engine=engine).run(stop, until_idle=until_idle, publish=publish)
    finally:
        engine.dispose()
    results.put((index, asdict(stats)))


def _supervise(config: DriftwatchConfig, stop: threading.Event, until_idle: float | None) -> IngestStats:
    context = multiprocessing.get_context("spawn")
    results: Queue[tuple[int, dict[str, Any]]] = context.Queue()
    log_level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    # The workers' live counts, for this process's exporter (monitor.ingest.counters).
    shared = context.Array("d", config.ingest.workers * len(FIELDS))
    token = INGEST_COUNTERS.register(_shared_reading(shared))
    try:
        return _run_workers(config, context, results, log_level, shared, stop, until_idle)
    finally:
        INGEST_COUNTERS.retire(token)


def _run_workers(config: DriftwatchConfig, context: Any, results: Queue[tuple[int, dict[str, Any]]],
                 log_level: str, shared: Any, stop: threading.Event, until_idle: float | None) -> IngestStats:
    workers: list[BaseProcess] = [
        context.Process(target=_worker, name=f"driftwatch-ingest-{index}",
                        args=(worker_config(config, index), index, until_idle, log_level, results, shared))
        for index in range(config.ingest.workers)
    ]
    for worker in workers:
        worker.start()
    log.info("ingest workers started", extra=fields(workers=len(workers),
                                                    pids=",".join(str(w.pid) for w in workers)))
    reports: dict[int, dict[str, Any]] = {}
    failed: list[str] = []
    stopping = False
    while any(worker.is_alive() for worker in workers):
        _drain(results, reports)
        if not stopping and stop.is_set():
            stopping = True
            for worker in workers:
                if worker.pid is not None and worker.is_alive():
                    os.kill(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.join(timeout=0.5 / len(workers))
            if worker.exitcode not in (None, 0) and worker.name not in failed:
                failed.append(worker.name)
                log.error("ingest worker ended unexpectedly; stopping the others",
                          extra=fields(worker=worker.name, exit_code=worker.exitcode))
                stop.set()
    _drain(results, reports, wait=True, expected=len(workers) - len(failed))
    total = IngestStats()
    for report in reports.values():
        for name in _COUNTS:
            setattr(total, name, getattr(total, name) + report[name])
    if failed:
        raise IngestWorkerError(
            f"ingest worker(s) {', '.join(failed)} ended unexpectedly (see the log above); the others were "
            "stopped after committing their batches. Restart the command: nothing committed is lost, and "
            "what was not committed is read again."
        )
    return total


def _drain(results: Queue[tuple[int, dict[str, Any]]], reports: dict[int, dict[str, Any]], *,
           wait: bool = False, expected: int = 0) -> None:
    while True:
        try:
            index, report = results.get(timeout=5) if wait and len(reports) < expected else results.get_nowait()
        except Empty:
            return
        reports[index] = report
