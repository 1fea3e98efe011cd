"""Serving ``/metrics``: a registry of its own with the store collector, on a small HTTP server."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from sqlalchemy import Engine

from monitor.config.models import DriftwatchConfig
from monitor.errors import ConfigError
from monitor.exporter.collector import StoreCollector
from monitor.exporter.lag import LagMonitor
from monitor.ingest.counters import INGEST_COUNTERS
from monitor.logs import fields

__all__ = ["Exporter", "start_exporter"]

log = logging.getLogger("driftwatch.exporter")


@dataclass
class Exporter:
    server: WSGIServer
    collector: StoreCollector
    lag: LagMonitor | None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.lag is not None:
            self.lag.stop()
        self.collector.engine.dispose()


def start_exporter(config: DriftwatchConfig, engine: Engine, *, port: int, host: str | None = None) -> Exporter:
    """Serve ``/metrics`` on ``host:port`` (``prometheus.host`` by default) on a background thread.

    The exporter reads through ``engine`` and disposes of it when stopped."""
    settings = config.prometheus
    host = host or settings.host
    ttl = settings.cache_ttl.total_seconds()
    lag = LagMonitor(config.kafka, interval=max(ttl, 5.0)) if settings.consumer_lag else None
    collector = StoreCollector(engine, max_features=settings.max_features, cache_ttl=ttl,
                               lag=(lambda: lag.reading) if lag is not None else None,
                               ingest=INGEST_COUNTERS.totals)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(f"cannot serve /metrics on {host}:{port} ({exc.strerror or exc}); free the port or "
                          "choose another with prometheus.port / --metrics-port") from exc
    if lag is not None:
        lag.start()
    log.info("prometheus exporter serving", extra=fields(url=f"http://{host}:{server.server_address[1]}/metrics"))
    return Exporter(server, collector, lag)
