"""The alerting half of ``driftwatch run``: catch-up evaluation, repeats and delivery.

The scheduler calls :func:`alerts.evaluation.evaluate_window` right after it saves
a window (prompt alerts). This service covers everything else: every
``evaluate_every`` it runs :func:`~alerts.evaluation.evaluate_due` (windows missed
while down or saved by another process, repeat notifications, orphaned alerts),
and its :class:`~alerts.dispatcher.Dispatcher` thread delivers the outbox.

    stop = threading.Event()
    AlertService(engine, config).run(stop)     # returns once stop is set
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine

from alerts.channels.base import Channel
from alerts.channels.config import build_channels
from alerts.dispatcher import Dispatcher, DispatchReport
from alerts.evaluation import EvaluationReport, evaluate_due
from monitor.clock import utc_now
from monitor.config.models import DriftwatchConfig
from monitor.errors import StoreError
from monitor.logs import fields

__all__ = ["AlertService"]

_log = logging.getLogger(__name__)


class AlertService:
    """Evaluation catch-up every ``evaluate_every`` (default ``schedule.interval``)
    plus a dispatcher; ``channels`` default to those built from the config."""

    def __init__(
        self,
        engine: Engine,
        config: DriftwatchConfig,
        *,
        channels: Mapping[str, Channel] | None = None,
        clock: Callable[[], datetime] = utc_now,
        evaluate_every: timedelta | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self._clock = clock
        self._evaluate_every = evaluate_every or config.schedule.interval
        chosen = build_channels(config.alerts) if channels is None else channels
        self.dispatcher = dispatcher or Dispatcher(engine, config, chosen, clock=clock)

    def tick(self, now: datetime | None = None) -> tuple[EvaluationReport, DispatchReport]:
        """One round of everything, at ``now`` (default: the clock)."""
        moment = now or self._clock()
        evaluated = evaluate_due(self._engine, self._config, moment)
        return evaluated, self.dispatcher.dispatch_once(moment)

    def run(self, stop: threading.Event) -> None:
        """Evaluate and dispatch until ``stop`` is set."""
        delivery = threading.Thread(target=self.dispatcher.run, args=(stop,), name="alert-dispatcher", daemon=True)
        delivery.start()
        try:
            while not stop.is_set():
                try:
                    report = evaluate_due(self._engine, self._config, self._clock())
                except StoreError as exc:
                    _log.warning("alert evaluation failed, will retry", extra=fields(error=str(exc)))
                except Exception:  # noqa: BLE001 - logged with its traceback; alerting must go on
                    _log.exception("alert evaluation failed unexpectedly, will retry")
                else:
                    if report.windows or report.notifications:
                        _log.info("alert catch-up", extra=fields(
                            windows=report.windows, notifications=report.notifications))
                stop.wait(self._evaluate_every.total_seconds())
        finally:
            stop.set()
            delivery.join()
