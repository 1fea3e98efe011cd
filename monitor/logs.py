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
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
