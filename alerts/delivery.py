"""The delivery stages: small stages with one interface, composed (as Alertmanager's
``notify`` package does) rather than inherited. The loop that claims due outbox rows
and runs them is :mod:`alerts.dispatcher`.

A stage takes the claimed outbox items still in flight and returns those it passes
on; an item whose fate is decided is *finished* on the :class:`DispatchContext`
(delivered, retry at T, failed, silenced), which records it at once. The
dispatcher builds::

    MultiStage([
        MuteStage([SilenceMuter(active silences)]),          # silence / inhibit
        RoutingStage({channel: RetryStage(channel, ...)},     # fan-out per channel
                     fallback=RejectStage("not configured")),
    ])
"""

from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from alerts.backoff import Backoff
from alerts.channels.base import Channel
from alerts.errors import DeliveryError, NotificationError
from alerts.notification import Notification
from alerts.outbox import Delivered, Failed, OutboxItem, Outcome, Retry, Silenced
from alerts.silences import Silence, matching_silence
from monitor.clock import iso_utc
from monitor.logs import fields

__all__ = [
    "DispatchContext",
    "MultiStage",
    "MuteStage",
    "Muter",
    "RejectStage",
    "RetryStage",
    "RoutingStage",
    "SilenceMuter",
    "Stage",
]

_log = logging.getLogger(__name__)
Recorder = Callable[[OutboxItem, Outcome], None]


@dataclass
class DispatchContext:
    """One dispatch round: the time it runs at, and where outcomes go."""

    now: datetime
    record: Recorder
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def finish(self, item: OutboxItem, outcome: Outcome) -> None:
        """Decide ``item``'s fate and record it now (so a crash later loses nothing)."""
        self.record(item, outcome)
        with self._lock:
            self.outcomes[item.id] = outcome


class Stage(Protocol):
    def exec(self, context: DispatchContext, items: Sequence[OutboxItem]) -> list[OutboxItem]:
        """Handle ``items``; return the ones still in flight."""
        ...


class Muter(Protocol):
    def mutes(self, notification: Notification) -> Silenced | None:
        """Why ``notification`` must not be sent (None: it may)."""
        ...


class MultiStage:
    """Runs stages in sequence, each on what the previous passed on."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self._stages = list(stages)

    def exec(self, context: DispatchContext, items: Sequence[OutboxItem]) -> list[OutboxItem]:
        remaining = list(items)
        for stage in self._stages:
            if not remaining:
                break
            remaining = stage.exec(context, remaining)
        return remaining


class RoutingStage:
    """Fans items out by channel, each channel's stage in its own thread, so a slow
    receiver does not hold up the others. Items of an unknown channel go to
    ``fallback``."""

    def __init__(self, routes: Mapping[str, Stage], *, fallback: Stage, max_workers: int = 4) -> None:
        self._routes = dict(routes)
        self._fallback = fallback
        self._max_workers = max(1, max_workers)

    def exec(self, context: DispatchContext, items: Sequence[OutboxItem]) -> list[OutboxItem]:
        groups: dict[str, list[OutboxItem]] = defaultdict(list)
        for item in items:
            groups[item.channel].append(item)
        jobs = [(self._routes.get(channel, self._fallback), group) for channel, group in groups.items()]
        if len(jobs) == 1:
            stage, group = jobs[0]
            return stage.exec(context, group)
        with ThreadPoolExecutor(max_workers=min(self._max_workers, len(jobs))) as pool:
            futures = [pool.submit(stage.exec, context, group) for stage, group in jobs]
            return [item for future in futures for item in future.result()]


class MuteStage:
    """Silencing and inhibition: an item any muter mutes ends as ``silenced``."""

    def __init__(self, muters: Sequence[Muter]) -> None:
        self._muters = list(muters)

    def exec(self, context: DispatchContext, items: Sequence[OutboxItem]) -> list[OutboxItem]:
        passed = []
        for item in items:
            try:
                notification = item.notification()
            except NotificationError as exc:
                context.finish(item, Failed(f"the stored payload cannot be read ({exc}); not sent"))
                continue
            muted = next((found for muter in self._muters if (found := muter.mutes(notification))), None)
            if muted is None:
                passed.append(item)
            else:
                _log.info("notification silenced", extra=fields(
                    notification_id=item.id, channel=item.channel, silence_id=muted.silence_id))
                context.finish(item, muted)
        return passed


class SilenceMuter:
    """Mutes notifications of alerts covered by one of the given (active) silences."""

    def __init__(self, silences: Sequence[Silence]) -> None:
        self._silences = list(silences)

    def mutes(self, notification: Notification) -> Silenced | None:
        silence = matching_silence(
            self._silences, rule=notification.rule, model=notification.model, feature=notification.feature
        )
        return None if silence is None else Silenced(silence.id)


class RejectStage:
    """Fails every item with ``reason`` (e.g. its channel left the config)."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def exec(self, context: DispatchContext, items: Sequence[OutboxItem]) -> list[OutboxItem]:
        for item in items:
            context.finish(item, Failed(f"channel {item.channel!r}: {self._reason}"))
        return []


class RetryStage:
    """Delivers through one channel, one attempt per item per round, and decides
    what a failure means: retry after exponential backoff with jitter (or the
    receiver's Retry-After, when longer) until ``max_delivery_time`` after the
    notification was queued; fail at once when the channel says it is not
    retryable."""

    def __init__(
        self,
        channel: Channel,
        *,
        backoff: Backoff,
        max_delivery_time: timedelta,
        rng: random.Random,
    ) -> None:
        self._channel = channel
        self._backoff = backoff
        self._max_delivery_time = max_delivery_time
        self._rng = rng

    def exec(self, context: DispatchContext, items: Sequence[OutboxItem]) -> list[OutboxItem]:
        for item in items:
            context.finish(item, self._attempt(item, context.now))
        return []

    def _attempt(self, item: OutboxItem, now: datetime) -> Outcome:
        try:
            receipt = self._channel.deliver(item.notification())
        except DeliveryError as exc:
            return self._after_failure(item, exc, now)
        except NotificationError as exc:
            return Failed(f"the stored payload cannot be read ({exc}); not sent")
        except Exception as exc:  # noqa: BLE001 - a channel bug must not stop the dispatcher
            _log.exception("channel raised an unexpected error", extra=fields(channel=item.channel))
            error = DeliveryError(f"channel {item.channel!r}: unexpected {type(exc).__name__}: {exc}",
                                  channel=item.channel, retryable=True)
            return self._after_failure(item, error, now)
        _log.info("notification delivered", extra=fields(
            notification_id=item.id, channel=item.channel, event=item.event, attempts=item.attempts,
            receipt=receipt.summary))
        return Delivered(receipt.summary)

    def _after_failure(self, item: OutboxItem, error: DeliveryError, now: datetime) -> Outcome:
        described = _describe(item, error)
        deadline = item.created_at + self._max_delivery_time
        if not error.retryable:
            outcome: Outcome = Failed(f"{described}; not retried")
        elif now >= deadline:
            outcome = Failed(f"{described}; gave up after {item.attempts} attempts: the notification is "
                             f"older than alerts.max_delivery_time ({self._max_delivery_time})")
        else:
            wait = self._backoff.delay(item.attempts, self._rng)
            if error.retry_after is not None:
                wait = max(wait, error.retry_after)
            at = now + timedelta(seconds=wait)
            asked = None if error.retry_after is None else now + timedelta(seconds=error.retry_after)
            if asked is not None and asked > deadline:
                outcome = Failed(f"{described}; the receiver asked to wait {error.retry_after:g} s, past "
                                 f"alerts.max_delivery_time ({self._max_delivery_time}); not retried")
            else:
                outcome = Retry(min(at, deadline), described)
        _log.warning("notification not delivered", extra=fields(
            notification_id=item.id, channel=item.channel, attempts=item.attempts, retryable=error.retryable,
            next_attempt=iso_utc(outcome.at) if isinstance(outcome, Retry) else "never", error=str(error)))
        return outcome


def _describe(item: OutboxItem, error: DeliveryError) -> str:
    text = f"attempt {item.attempts}: {error}"
    body = error.response_body
    if body and body not in text:
        text += f"\nresponse body: {body}"
    return text
