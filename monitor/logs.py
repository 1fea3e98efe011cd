"""Structured logs: ``logger.info("batch stored", extra={"fields": {...}})``.

Rendered as one line per event, ``key=value`` by default or JSON when
``DRIFTWATCH_LOG_FORMAT=json`` (for log shippers).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["configure_logging", "fields"]

_KAFKA_SELECTOR = "kafka.net.selector"  # kafka-python's network loop


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a structured log call: ``log.info("x", extra=fields(n=3))``."""
    return {"fields": values}


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        extra: dict[str, Any] = getattr(record, "fields", {}) or {}
        stamp = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        if self.as_json:
            payload = {"ts": stamp, "level": record.levelname.lower(), "logger": record.name,
                       "msg": record.getMessage(), **extra}
            if record.exc_info:
                payload["exc"] = self.formatException(record.exc_info)
            return json.dumps(payload, default=str)
        parts = [stamp, record.levelname.lower().ljust(7), record.name + ":", record.getMessage()]
        parts += [f"{key}={_logfmt(value)}" for key, value in extra.items()]
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _logfmt(value: Any) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return json.dumps(text) if (" " in text or "=" in text or not text) else text


class _SlowKafkaStepFilter(logging.Filter):
    """Downgrades kafka-python's "blocking the event loop" warning to debug.

    kafka-python warns whenever one step of its network loop takes over 0.1 s. In
    driftwatch that loop shares the interpreter with window computations, so a busy
    machine (or a garbage collection) trips it every few seconds although nothing is
    wrong and nothing is lost. It stays visible at ``DRIFTWATCH_LOG_LEVEL=DEBUG``;
    every other warning of kafka-python is left as it is.

    >>> noise = logging.LogRecord("kafka.net.selector", logging.WARNING, "", 0,
    ...     "Task %r ran for %.3fs (>%.3fs threshold). It is blocking the event loop", ("t", 0.2, 0.1), None)
    >>> _SlowKafkaStepFilter().filter(noise), noise.levelname
    (False, 'DEBUG')
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if "blocking the event loop" not in record.getMessage():
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def configure_logging(level: str | None = None) -> None:
    """Send driftwatch's logs to stderr; idempotent."""
    chosen = (level or os.environ.get("DRIFTWATCH_LOG_LEVEL", "INFO")).upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(os.environ.get("DRIFTWATCH_LOG_FORMAT", "text") == "json"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(chosen)
    # kafka-python is chatty at INFO (every connection); its warnings still show.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    selector = logging.getLogger(_KAFKA_SELECTOR)
    if not any(isinstance(item, _SlowKafkaStepFilter) for item in selector.filters):
        selector.addFilter(_SlowKafkaStepFilter())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
