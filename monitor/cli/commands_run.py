"""``driftwatch run``: ingestion, the window scheduler and alert dispatch in one process.

Each part runs in its own thread and shares one stop event: SIGTERM/SIGINT let the
ingester finish and commit its batch, the scheduler finish its window, and the
dispatcher record its delivery, then the process exits 0. If a part dies, the
others are stopped too and the exit code is 1, so a supervisor restarts the whole.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer

from monitor.cli.commands_exporter import metrics_port
from monitor.cli.commands_service import wait_for_store
from monitor.cli.common import app, err, install_stop_signals, load_context_config
from monitor.clock import utc_now
from monitor.logs import fields
from monitor.store.engine import create_store_engine

log = logging.getLogger("driftwatch.run")


def _supervised(
    name: str, target: Callable[[], object], stop: threading.Event, failures: list[str]
) -> threading.Thread:
    def body() -> None:
        try:
            target()
        except BaseException as exc:
            log.exception("service part failed; stopping the others", extra=fields(part=name))
            failures.append(f"{name}: {exc}")
            stop.set()

    return threading.Thread(target=body, name=f"driftwatch-{name}", daemon=True)


@app.command()
def run(
    metrics_port_option: Annotated[int | None, typer.Option(
        "--metrics-port", min=1, max=65535, help="Serve /metrics for Prometheus on this port "
                                                 "(default: prometheus.port; off when neither is set).")] = None,
) -> None:
    """Run the service: ingestion + scheduler + alert dispatch (+ /metrics for Prometheus)."""
    # Imported here: monitor's modules never import alerts, only this wiring does; and
    # the statistics stack (scipy, pandas) loads only for the command that needs it.
    from alerts.evaluation import evaluate_window
    from alerts.service import AlertService
    from monitor.ingest.workers import run_ingest
    from monitor.jobs.reference_files import check_reference_files
    from monitor.jobs.scheduler import run_schedule

    config = load_context_config()
    check_reference_files(config)
    engine = create_store_engine(config.store, must_exist=True)
    stop = threading.Event()
    install_stop_signals(stop)
    if not wait_for_store(engine, stop):
        return
    port = metrics_port(config, metrics_port_option)
    exporter = None
    if port is not None:
        from monitor.exporter.server import start_exporter

        # Its own small read-only pool: a scrape never waits for (or holds up) the service's connections.
        exporter = start_exporter(config, create_store_engine(config.store, read_only=True, pool_size=2), port=port)

    def on_window_computed(model: str, version: str, start: datetime, end: datetime, partial: bool) -> None:
        if partial:
            return  # partial windows never fire alerts
        try:
            evaluate_window(engine, config, model=model, model_version=version, window_start=start,
                            window_end=end, now=utc_now())
        except Exception:
            # The alert service's periodic evaluate_due catches this window up later.
            log.exception("alert evaluation failed; it will be retried", extra=fields(model=model))

    failures: list[str] = []
    parts = [
        _supervised("ingest", lambda: run_ingest(config, engine, stop), stop, failures),
        _supervised("scheduler", lambda: run_schedule(config, engine, stop, on_window_computed), stop, failures),
        _supervised("alerts", lambda: AlertService(engine, config).run(stop), stop, failures),
    ]
    for part in parts:
        part.start()
    log.info("driftwatch running", extra=fields(models=",".join(config.models) or "-",
                                                 rules=len(config.alerts.rules)))
    while not stop.wait(1.0):  # short waits: a signal is never left unnoticed
        pass
    for part in parts:
        part.join(timeout=120)
    if exporter is not None:
        exporter.stop()
    if failures:
        err.print("driftwatch stopped because a part failed: " + "; ".join(failures), highlight=False,
                  soft_wrap=True)
        raise SystemExit(1)
    log.info("driftwatch stopped cleanly")
