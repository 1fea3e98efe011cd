"""Service commands: ``init`` and ``ingest``."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from monitor.cli.common import app, config_option, err, install_stop_signals, load_context_config
from monitor.config.loader import DEFAULT_CONFIG_FILE
from monitor.config.starter import write_starter_config
from monitor.errors import ConfigError, DriftwatchError, StoreUnavailableError
from monitor.ingest.workers import IngestWorkerError, run_ingest
from monitor.logs import fields
from monitor.store.engine import create_store_engine, redact_url
from monitor.store.schema import require_schema, upgrade_schema

log = logging.getLogger("driftwatch.service")


def wait_for_store(engine: Engine, stop: threading.Event) -> bool:
    """Check the schema, waiting (with a log line) while the store is unreachable.

    A service started while its database restarts should wait, not crash-loop.
    Returns False if asked to stop while waiting.
    """
    delay = 1.0
    while True:
        try:
            require_schema(engine)
            return True
        except StoreUnavailableError as exc:
            log.warning("store unavailable at startup, waiting", extra=fields(error=str(exc), retry_in_s=delay))
            if stop.wait(delay):
                return False
            delay = min(delay * 2, 15.0)


@app.command()
def init(
    example: Annotated[
        bool, typer.Option("--example", help="Write a commented starter config to PATH instead (no store is touched).")
    ] = False,
    path: Annotated[
        Path | None,
        typer.Argument(metavar="PATH", help="With --example: where to write it (default: --config, $DRIFTWATCH_CONFIG, "
                            "else ./driftwatch.yaml).", show_default=False),
    ] = None,
) -> None:
    """Create or upgrade the schema in the configured store (the only command that creates it)."""
    if example:
        target = path or config_option() or Path(os.environ.get("DRIFTWATCH_CONFIG") or DEFAULT_CONFIG_FILE)
        write_starter_config(target)
        default = target.resolve() == (Path.cwd() / DEFAULT_CONFIG_FILE).resolve()
        then = "driftwatch init" if default else f"driftwatch --config {target} init"
        typer.echo(f"wrote a starter config to {target}; edit it, then run `{then}` to create the store")
        return
    if path is not None:
        raise ConfigError(f"init takes a PATH only with --example (got {path}); "
                          "the store to create is the config key store")
    config = load_context_config()
    engine = create_store_engine(config.store)
    before, after = upgrade_schema(engine)
    where = redact_url(config.store)
    if before == after:
        typer.echo(f"schema of {where} is up to date (revision {after})")
    elif before is None:
        typer.echo(f"created the driftwatch schema in {where} (revision {after})")
    else:
        typer.echo(f"upgraded {where} from revision {before} to {after}")


@app.command()
def ingest(
    until_idle: Annotated[
        float | None,
        typer.Option(help="Exit after this many seconds without messages (for batch jobs and tests)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Consumer processes in the group (overrides ingest.workers)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", min=1, max=65535,
                     help="Serve /metrics for Prometheus on this port, with this process's ingestion counters "
                          "(messages, dead letters, store outages); off by default."),
    ] = None,
) -> None:
    """Consume the predictions and labels topics into the store (exactly once)."""
    config = load_context_config()
    if workers is not None:
        config = config.model_copy(update={"ingest": config.ingest.model_copy(update={"workers": workers})})
    engine = create_store_engine(config.store, must_exist=True)
    stop = threading.Event()
    install_stop_signals(stop)
    if not wait_for_store(engine, stop):
        return
    exporter = None
    if metrics_port is not None:
        from monitor.exporter.server import start_exporter

        exporter = start_exporter(config, create_store_engine(config.store, read_only=True, pool_size=2),
                                  port=metrics_port)
    try:
        stats = run_ingest(config, engine, stop, until_idle=until_idle)
    except (IngestWorkerError, DriftwatchError) as exc:
        # Past the config and store checks a failure (broker unreachable, a worker
        # died) is a runtime one: exit 1, for the supervisor to restart.
        err.print(f"ingestion stopped: {exc}", highlight=False, soft_wrap=True, markup=False)
        raise SystemExit(1) from exc
    finally:
        if exporter is not None:
            exporter.stop()
    err.print(
        f"ingested {stats.messages} messages: {stats.predictions} predictions, {stats.labels} labels, "
        f"{stats.dead_letters} dead letters, {stats.duplicates} duplicates ignored",
        highlight=False,
        soft_wrap=True,
    )
