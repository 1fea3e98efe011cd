"""``driftwatch exporter``: serve ``/metrics`` for Prometheus on its own (``run`` can serve it too)."""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from monitor.cli.common import app, err, install_stop_signals, load_context_config
from monitor.config.models import DriftwatchConfig
from monitor.errors import ConfigError
from monitor.store.engine import create_store_engine, redact_url

__all__ = ["exporter", "metrics_port"]


def metrics_port(config: DriftwatchConfig, option: int | None) -> int | None:
    """The port to serve /metrics on: the command line's, else ``prometheus.port``, else None (off)."""
    return option if option is not None else config.prometheus.port


@app.command()
def exporter(
    port: Annotated[int | None, typer.Option("--port", "--metrics-port", min=1, max=65535,
                                             help="Port for /metrics (default: prometheus.port).")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: prometheus.host).")] = None,
) -> None:
    """Serve the store's vitals, alerts and ingestion counts on /metrics for Prometheus."""
    from monitor.exporter.server import start_exporter

    config = load_context_config()
    chosen = metrics_port(config, port)
    if chosen is None:
        raise ConfigError("no port for /metrics: set prometheus.port in the config "
                          "(env DRIFTWATCH_PROMETHEUS__PORT) or pass --port")
    engine = create_store_engine(config.store, read_only=True, pool_size=2)
    stop = threading.Event()
    install_stop_signals(stop)
    served = start_exporter(config, engine, port=chosen, host=host)
    err.print(f"/metrics on http://{host or config.prometheus.host}:{served.port}/metrics reading "
              f"{redact_url(config.store)}", highlight=False, soft_wrap=True)
    try:
        while not stop.wait(1.0):  # short waits: a signal is never left unnoticed
            pass
    finally:
        served.stop()
