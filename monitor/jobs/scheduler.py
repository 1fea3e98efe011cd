"""The window scheduler: every ``schedule.interval``, compute every window that is due.

Each :meth:`WindowScheduler.tick` first merges the small columnar batches ingestion
wrote into bigger ones (:func:`monitor.store.batches.merge_batches`, so a window reads
a few large blobs); then, for every configured model:

1. scan the store for data ingested since the last scan (on the first tick: all of
   it) — per model version and window, the newest ``ingested_at`` of predictions
   and of labels joined to them;
2. list the candidate windows: those with new data (catch-up after downtime: on
   the first tick every window with data is new), plus the recent windows (last 7
   days, at most 1000) of each version not yet known to be computed — including
   empty windows of the live version up to the clock, so a traffic stop shows as
   ``prediction_count`` 0;
3. for each candidate, oldest first, decide with :func:`monitor.jobs.due.due_trigger`
   whether it is due; claim it in ``window_state`` (so two schedulers never compute
   one window at once; the claim's lease is renewed while it computes and released
   on stop, see :mod:`monitor.jobs.lease`), check again that it is still due (the
   other scheduler may just have computed it), and run
   :func:`monitor.jobs.compute_window.compute_window`;
4. compare the versions of every window saved when two or more served in it
   (:func:`monitor.jobs.compare_window.compare_window`: canary, shadow, A/B);
5. call ``on_window_computed`` for each window saved (the service evaluates alerts
   there), after the comparisons, so that rules on them see the window whole.

A model whose scan or window fails is recorded in ``job_runs`` and the other models
go on. :func:`run_schedule` runs ticks with APScheduler until a stop event is set.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from monitor.clock import iso_utc, utc_now
from monitor.config.models import DriftwatchConfig, ModelConfig
from monitor.event_time import EventTimeRange
from monitor.jobs.compare_window import compare_window
from monitor.jobs.compute_window import WindowJob, WindowOutcome, compute_window
from monitor.jobs.due import ModelTracker, due_trigger
from monitor.jobs.lease import LeaseKeeper, process_gone, this_process
from monitor.jobs.reference import ReferenceProvider
from monitor.jobs.windows import Window
from monitor.logs import fields
from monitor.store.batches import merge_batches
from monitor.store.engine import create_store_engine
from monitor.store.metric_writer import JobRun, record_job_run
from monitor.store.window_activity import scan_activity
from monitor.store.window_state import (
    WindowKey,
    WindowState,
    claim_window,
    read_claim,
    read_window_states,
    release_window,
)

__all__ = ["TickReport", "WindowComputedHook", "WindowScheduler", "run_schedule"]

log = logging.getLogger(__name__)

WindowComputedHook = Callable[[str, str, datetime, datetime, bool], None]
"""``(model, model_version, window_start, window_end, is_partial)``, called after a window is saved."""

# Rows ingested up to this long before the newest one already scanned are scanned
# again: ingest batches from several processes may commit slightly out of order.
SCAN_OVERLAP = timedelta(minutes=5)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(slots=True)
class TickReport:
    """What one tick did."""

    now: datetime
    outcomes: list[WindowOutcome] = field(default_factory=list)
    busy: list[WindowKey] = field(default_factory=list)  # claimed by another scheduler
    holders: dict[WindowKey, WindowState] = field(default_factory=dict)  # who held each busy window
    model_errors: dict[str, str] = field(default_factory=dict)

    @property
    def computed(self) -> list[WindowOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status != "failed"]

    @property
    def failed(self) -> list[WindowOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]


class WindowScheduler:
    """Computes due windows of every configured model; see the module docstring.

    ``worker`` names this scheduler in claims and ``job_runs`` (default: host, pid
    and a random suffix). ``lease`` is how long a claim lasts if the process dies
    mid-window (default ``schedule.lease``; renewed every third of it while the
    window computes). ``clock`` is the wall clock: claims are counted on it, and
    :meth:`tick` uses it when called without a time.
    """

    def __init__(
        self,
        *,
        config: DriftwatchConfig,
        engine: Engine,
        on_window_computed: WindowComputedHook | None = None,
        worker: str | None = None,
        lease: timedelta | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.engine = engine
        self.on_window_computed = on_window_computed
        self.worker = worker or default_worker_id()
        self.lease = lease or config.schedule.lease
        self.clock = clock
        self.leases = LeaseKeeper(engine, worker=self.worker, lease=self.lease, clock=lambda: self.clock())
        self.process = this_process()
        self.references = ReferenceProvider(engine)
        self._trackers: dict[str, ModelTracker] = {}
        self._saved: list[WindowJob] = []  # windows saved whose versions are not compared yet
        self._lock = threading.Lock()
        self._stop = threading.Event()

    # -- the periodic job --------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Compute every due window of every model as of ``now`` (default: the clock)."""
        now = now or self.clock()
        report = TickReport(now=now)
        with self._lock:
            self.references.refresh()
            self._merge(now)
            for model, model_config in self.config.models.items():
                if self._stop.is_set():
                    break
                started = self.clock()
                try:
                    self._tick_model(model, model_config, now, report)
                except Exception as exc:  # one model's failure never stops the others (logged, and recorded)
                    log.exception("model tick failed", extra=fields(model=model))
                    report.model_errors[model] = f"{type(exc).__name__}: {exc}"
                    self._record_failure(JobRun(model=model, trigger="schedule", started_at=started,
                                                finished_at=self.clock(), status="failed",
                                                error=report.model_errors[model], worker=self.worker))
        return report

    def _merge(self, now: datetime) -> None:
        """Merge small prediction batches; a failure only means windows read more, smaller blobs."""
        try:
            merge_batches(self.engine, now=now)
        except Exception:  # merging only saves reads: windows stay correct without it
            log.exception("merging prediction batches failed; will retry next tick")

    def _event_range(self) -> EventTimeRange:
        return EventTimeRange(self.config.ingest.max_event_age, self.config.ingest.max_event_lead)

    def _tracker(self, model: str, model_config: ModelConfig) -> ModelTracker:
        tracker = self._trackers.get(model)
        if tracker is None or tracker.size != model_config.window:
            tracker = ModelTracker(size=model_config.window, model=model, event_range=self._event_range())
            self._trackers[model] = tracker
        return tracker

    def _tick_model(self, model: str, model_config: ModelConfig, now: datetime, report: TickReport) -> None:
        try:
            self._compute_model(model, model_config, now, report)
        finally:
            self._compare_saved(model_config)

    def _compute_model(self, model: str, model_config: ModelConfig, now: datetime, report: TickReport) -> None:
        tracker = self._tracker(model, model_config)
        since = None if tracker.scanned_until is None else tracker.scanned_until - SCAN_OVERLAP
        tracker.absorb(scan_activity(self.engine, model=model, size=model_config.window, ingested_after=since))
        candidates = tracker.candidates(now)
        if not candidates:
            return
        states = read_window_states(self.engine, model=model, since=candidates[0][1].start, include_partial=True)
        for version, window in _with_stale_partials(candidates, states, now):
            if self._stop.is_set():
                return
            newest = tracker.newest(version, window)
            trigger = due_trigger(window, states.get((version, window.start)), newest, now)
            if trigger is None:
                tracker.resolve(version, window, newest)
                continue
            key = WindowKey(model, version, window.start, window.end)
            outcome = self._run(WindowJob(key, trigger, not window.is_complete(now)), model_config, now,
                                newest=newest, report=report)
            if outcome is not None and outcome.status != "failed":
                tracker.resolve(version, window, newest)
        tracker.settle(read_window_states(self.engine, model=model, since=candidates[0][1].start), now)

    def _run(
        self, job: WindowJob, model_config: ModelConfig, now: datetime, *, newest: datetime | None,
        report: TickReport, force: bool = False,
    ) -> WindowOutcome | None:
        """Claim, re-check, compute, release; None when the window needs nothing from us."""
        key = job.key
        claimed = claim_window(self.engine, key, worker=self.worker, now=self.clock(), lease=self.lease,
                               process=self.process, process_gone=process_gone)
        if claimed is None:
            report.busy.append(key)
            holder = read_claim(self.engine, key)
            if holder is not None and holder.claimed_by is not None:
                report.holders[key] = holder
            return None
        self.leases.hold(key)
        try:
            return self._compute(job, claimed, model_config, now, newest=newest, report=report, force=force)
        except BaseException:  # stopped mid-window (SystemExit, KeyboardInterrupt): give the claim back
            self.leases.release_all()
            raise
        finally:
            self.leases.drop(key)

    def _compute(
        self, job: WindowJob, claimed: WindowState, model_config: ModelConfig, now: datetime, *,
        newest: datetime | None, report: TickReport, force: bool,
    ) -> WindowOutcome | None:
        key = job.key
        window = Window(key.start, key.end)
        if not force and claimed.computed_at is not None and due_trigger(window, claimed, newest, now) is None:
            release_window(self.engine, key, worker=self.worker)  # computed meanwhile by another scheduler
            return None
        started = self.clock()
        try:
            outcome = compute_window(self.engine, job, model_config=model_config, references=self.references,
                                     worker=self.worker, now=now, clock=self.clock)
        except Exception as exc:  # recorded in job_runs; the next tick retries
            log.exception("window failed", extra=fields(model=key.model, version=key.model_version,
                                                         window=iso_utc(key.start)))
            release_window(self.engine, key, worker=self.worker)
            error = f"{type(exc).__name__}: {exc}"
            self._record_failure(JobRun(model=key.model, model_version=key.model_version, window_start=key.start,
                                        window_end=key.end, trigger=job.trigger, started_at=started,
                                        finished_at=self.clock(), status="failed", error=error, worker=self.worker))
            outcome = WindowOutcome(job=job, status="failed", error=error)
            report.outcomes.append(outcome)
            return outcome
        report.outcomes.append(outcome)
        self._saved.append(job)
        return outcome

    def _compare_saved(self, model_config: ModelConfig) -> None:
        """Compare the versions of each window saved since the last call, then notify every saved window."""
        saved, self._saved = self._saved, []
        for model, start, end in sorted({(job.key.model, job.key.start, job.key.end) for job in saved}):
            started = self.clock()
            try:
                compare_window(self.engine, model=model, model_config=model_config, start=start, end=end,
                               now=self.clock())
            except Exception as exc:  # the windows themselves are saved; the next change compares again
                log.exception("comparing versions failed", extra=fields(model=model, window=start.isoformat()))
                self._record_failure(JobRun(model=model, window_start=start, window_end=end, trigger="compare",
                                            started_at=started, finished_at=self.clock(), status="failed",
                                            error=f"comparing versions: {type(exc).__name__}: {exc}",
                                            worker=self.worker))
        for job in saved:
            self._notify(job)

    def _notify(self, job: WindowJob) -> None:
        if self.on_window_computed is None:
            return
        key = job.key
        try:
            self.on_window_computed(key.model, key.model_version, key.start, key.end, job.is_partial)
        except Exception:  # a hook failure must not stop the other windows (logged)
            log.exception("on_window_computed hook failed", extra=fields(model=key.model, version=key.model_version,
                                                                          window=iso_utc(key.start)))

    def _record_failure(self, run: JobRun) -> None:
        try:
            with self.engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
                record_job_run(connection, run)
        except Exception:  # the store itself may be down; the log keeps the failure
            log.exception("cannot record the failed job run", extra=fields(model=run.model))

    # -- backfill ----------------------------------------------------------------------

    def backfill(
        self,
        model: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        now: datetime | None = None,
        on_plan: Callable[[int], None] | None = None,
        on_window: Callable[[WindowOutcome | None, WindowKey], None] | None = None,
    ) -> TickReport:
        """Compute (or recompute) every window of ``model`` with data in ``[start, end)``.

        Without bounds, every window the model has data in. Windows between a
        version's first and last data window are included even when empty.
        ``on_plan`` gets the number of windows first, ``on_window`` each result
        (None when another scheduler held the window).
        """
        model_config = self.config.model(model)
        now = now or self.clock()
        report = TickReport(now=now)
        activity = scan_activity(self.engine, model=model, size=model_config.window, event_from=start,
                                 event_to=end)
        tracker = ModelTracker(size=model_config.window, model=model, event_range=self._event_range())
        tracker.absorb(activity)
        jobs = [WindowJob(WindowKey(model, version, window.start, window.end), "backfill", not window.is_complete(now))
                for version, window in tracker.backfill_windows(now, start, end)]
        if on_plan is not None:
            on_plan(len(jobs))
        with self._lock:
            self.references.refresh()
            self._merge(now)
            try:
                for job in jobs:
                    if self._stop.is_set():
                        break
                    outcome = self._run(job, model_config, now, newest=None, report=report, force=True)
                    if on_window is not None:
                        on_window(outcome, job.key)
            finally:
                self._compare_saved(model_config)
        return report

    # -- running -----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask a running tick to stop after its current window."""
        self._stop.set()

    def release_claims(self) -> None:
        """Give back every claim still held (a stop that cannot wait for the window)."""
        self.leases.release_all()


def _with_stale_partials(
    candidates: Sequence[tuple[str, Window]], states: Mapping[tuple[str, datetime], WindowState], now: datetime
) -> list[tuple[str, Window]]:
    """Add windows computed as partial that have completed since (whatever the candidates)."""
    chosen = {(version, window.start): (version, window) for version, window in candidates}
    for (version, start), state in states.items():
        if state.is_partial and (version, start) not in chosen and state.key.end <= now:
            chosen[(version, start)] = (version, Window(start, state.key.end))
    return sorted(chosen.values(), key=lambda item: (item[1].start, item[0]))


def run_schedule(
    config: DriftwatchConfig,
    engine: Engine | None,
    stop_event: threading.Event,
    on_window_computed: WindowComputedHook | None = None,
) -> WindowScheduler:
    """Run ticks every ``schedule.interval`` (the first one at once) until ``stop_event`` is set.

    This is ``driftwatch schedule``; ``driftwatch run`` calls it with its alert hook.
    """
    engine = engine or create_store_engine(config.store)
    scheduler = WindowScheduler(config=config, engine=engine, on_window_computed=on_window_computed)
    background = BackgroundScheduler(timezone=UTC)
    background.add_job(
        scheduler.tick, "interval", seconds=config.schedule.interval.total_seconds(), id="driftwatch-windows",
        next_run_time=utc_now(), max_instances=1, coalesce=True,
        misfire_grace_time=max(1, int(config.schedule.interval.total_seconds())),
    )
    log.info("scheduler started", extra=fields(worker=scheduler.worker, models=len(config.models),
                                                interval=config.schedule.interval.total_seconds()))
    background.start()
    try:
        while not stop_event.wait(1.0):  # short waits: a signal is never left unnoticed
            pass
    finally:
        scheduler.stop()
        try:
            background.shutdown(wait=True)
        finally:  # also when a second signal cut the wait short: the claims go back now
            scheduler.release_claims()
        log.info("scheduler stopped", extra=fields(worker=scheduler.worker))
    return scheduler
