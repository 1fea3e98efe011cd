"""The dispatcher: claims due outbox rows, runs them through the delivery pipeline
(:mod:`alerts.delivery`) and records each outcome as soon as it is known.

Delivery guarantee — at least once, with a key. A row is marked delivered in its
own transaction right after the receiver accepted it. If the process dies between
the receiver's "200 OK" and that commit, the row is still pending; once its lease
runs out it is claimed and sent again, carrying the same ``Idempotency-Key`` (and
email ``Message-ID``), so a receiver that remembers keys drops the duplicate. That
window is one notification wide per crash; everything else (pending retries,
backoff times, attempt counts) lives in the store and survives restarts.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from alerts.backoff import Backoff
from alerts.channels.base import Channel
from alerts.delivery import (
    DispatchContext,
    MultiStage,
    MuteStage,
    RejectStage,
    RetryStage,
    RoutingStage,
    SilenceMuter,
    Stage,
)
from alerts.outbox import Delivered, Failed, OutboxItem, Outcome, Retry, Silenced, claim_due, settle
from alerts.silences import Silence, active_silences
from alerts.transactions import read_connection, write_transaction
from monitor.clock import utc_now
from monitor.config.models import DriftwatchConfig
from monitor.errors import StoreError
from monitor.logs import fields

__all__ = ["DispatchReport", "Dispatcher"]

_log = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    """What one :meth:`Dispatcher.dispatch_once` did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    silenced: int = 0


class Dispatcher:
    """Delivers the outbox through ``channels`` (by name, as in ``alerts.channels``).

    ``clock`` is the wall clock and ``sleep(seconds)`` the pause between polls in
    :meth:`run` (default: wait on the stop event); tests pass controlled ones.
    ``lease`` is how long a claimed row stays reserved for this dispatcher (longer
    than a batch takes to deliver); ``backoff`` and ``rng`` shape retry delays.
    """

    def __init__(
        self,
        engine: Engine,
        config: DriftwatchConfig,
        channels: Mapping[str, Channel],
        *,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], object] | None = None,
        backoff: Backoff | None = None,
        lease: timedelta = timedelta(minutes=5),
        batch_size: int = 50,
        poll_interval: float = 1.0,
        max_workers: int = 4,
        rng: random.Random | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if lease <= timedelta():
            raise ValueError(f"lease must be positive, got {lease}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive seconds, got {poll_interval}")
        self._engine = engine
        self._config = config
        self._channels = dict(channels)
        self._clock = clock
        self._sleep = sleep
        self._backoff = backoff or Backoff()
        self._lease = lease
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_workers = max_workers
        self._rng = rng or random.Random()

    def pipeline(self, silences: list[Silence]) -> Stage:
        """The stages one dispatch round runs, given the silences active now."""
        routes: dict[str, Stage] = {
            name: RetryStage(
                channel,
                backoff=self._backoff,
                max_delivery_time=self._config.alerts.max_delivery_time,
                rng=self._rng,
            )
            for name, channel in self._channels.items()
        }
        return MultiStage([
            MuteStage([SilenceMuter(silences)]),
            RoutingStage(
                routes,
                fallback=RejectStage("is not configured (any more); add it under alerts.channels"),
                max_workers=self._max_workers,
            ),
        ])

    def dispatch_once(self, now: datetime | None = None) -> DispatchReport:
        """Claim the rows due at ``now`` (default: the clock), deliver, record."""
        moment = now or self._clock()
        with write_transaction(self._engine, "claim due notifications") as connection:
            items = claim_due(connection, now=moment, limit=self._batch_size, lease=self._lease)
        report = DispatchReport(claimed=len(items))
        if not items:
            return report
        with read_connection(self._engine, "load active silences") as connection:
            silences = active_silences(connection, moment)
        context = DispatchContext(now=moment, record=lambda item, outcome: self._record(item, outcome, moment))
        for item in self.pipeline(silences).exec(context, items):
            context.finish(item, Failed("no delivery stage took this notification"))
        for outcome in context.outcomes.values():
            if isinstance(outcome, Delivered):
                report.delivered += 1
            elif isinstance(outcome, Retry):
                report.retrying += 1
            elif isinstance(outcome, Silenced):
                report.silenced += 1
            else:
                report.failed += 1
        return report

    def run(self, stop: threading.Event) -> None:
        """Dispatch until ``stop`` is set; store outages (and any unexpected error, with
        its traceback) are logged and waited out, so alerting never stops by itself."""
        _log.info("alert dispatcher started", extra=fields(channels=",".join(sorted(self._channels))))
        while not stop.is_set():
            try:
                report = self.dispatch_once()
            except StoreError as exc:
                _log.warning("alert dispatch failed, will retry", extra=fields(error=str(exc)))
                self._pause(stop)
                continue
            except Exception:  # noqa: BLE001 - logged with its traceback; alerting must go on
                _log.exception("alert dispatch failed unexpectedly, will retry")
                self._pause(stop)
                continue
            if report.claimed < self._batch_size:  # a full batch means more may be due now
                self._pause(stop)
        _log.info("alert dispatcher stopped")

    def _record(self, item: OutboxItem, outcome: Outcome, now: datetime) -> None:
        action = f"record the outcome of notification {item.id}"
        with write_transaction(self._engine, action) as connection:
            recorded = settle(connection, item, outcome, now=now)
        if not recorded:
            _log.info("outcome not recorded: the notification was claimed again meanwhile", extra=fields(
                notification_id=item.id, outcome=type(outcome).__name__))

    def _pause(self, stop: threading.Event) -> None:
        if self._sleep is not None:
            self._sleep(self._poll_interval)
        else:
            stop.wait(self._poll_interval)
