"""The job that computes one window: load → compute → save.

The caller (the scheduler, or ``driftwatch compute``) holds the window's claim.
The job reads the window's predictions, labels and dead letters, gets the model
version's baseline and the estimators learned from it (fitted and stored the first
time, see :mod:`monitor.jobs.estimation`), computes every metric group, ranks the
features against the recent performance (:mod:`monitor.jobs.feature_ranking`), and saves
the rows, the window's state and the job run in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Engine

from monitor.blas import one_blas_thread
from monitor.clock import iso_utc, utc_now
from monitor.config.models import ModelConfig
from monitor.jobs.estimation import load_or_fit
from monitor.jobs.feature_ranking import with_ranking
from monitor.jobs.reference import ReferenceProvider
from monitor.jobs.segment_metrics import compute_segmented_metrics
from monitor.jobs.window_drift import feature_specs
from monitor.jobs.window_input import WindowInput
from monitor.jobs.window_metrics import StartedDrift, start_data_drift
from monitor.logs import fields
from monitor.store.metric_writer import JobRun, save_window_result
from monitor.store.reference_store import ReferenceSetInfo
from monitor.store.stored_rows import StoredRows
from monitor.store.window_reader import load_window
from monitor.store.window_state import WindowKey

__all__ = ["Trigger", "WindowJob", "WindowOutcome", "compute_window", "TRIGGERS"]

log = logging.getLogger(__name__)

Trigger = str
TRIGGERS = ("schedule", "late-data", "partial", "backfill")


@dataclass(frozen=True, slots=True)
class WindowJob:
    """A window to compute and why: a window that is due (``schedule``), whose data
    changed (``late-data``), the current incomplete window (``partial``), or one
    asked for on the command line (``backfill``)."""

    key: WindowKey
    trigger: Trigger
    is_partial: bool


@dataclass(frozen=True, slots=True)
class WindowOutcome:
    """How a window job ended; ``status`` as recorded in ``job_runs``."""

    job: WindowJob
    status: str  # succeeded | degraded | failed
    metrics_written: int = 0
    notes: tuple[str, ...] = ()
    error: str | None = None
    seconds: float = 0.0


def _reference_key(engine: Engine, info: ReferenceSetInfo) -> tuple[str, int, str, int, str]:
    """Names one stored reference in this process (thresholds learned from it are cached under it)."""
    return (str(engine.url), info.id, info.source, info.row_count, info.created_at.isoformat())


def compute_window(
    engine: Engine,
    job: WindowJob,
    *,
    model_config: ModelConfig,
    references: ReferenceProvider,
    worker: str,
    now: datetime,
    clock: Callable[[], datetime] = utc_now,
) -> WindowOutcome:
    """Compute and save one claimed window; raises on store errors (the caller records them)."""
    started_at, started = clock(), time.perf_counter()
    key = job.key

    lookup = references.get(key.model, model_config, key.model_version, now=now)
    inputs = WindowInput(
        model=key.model, model_version=key.model_version, config=model_config, rows=StoredRows.empty(),
        dead_letter_count=0, reference=lookup.reference.rows if lookup.reference is not None else None,
        reference_reason=lookup.reason, reference_unusable=lookup.problem,
        reference_key=_reference_key(engine, lookup.reference.info) if lookup.reference is not None else None,
    )
    estimation_note: str | None = None
    # One BLAS thread: its idle worker would spin on the core the drift tests use (monitor.blas).
    with one_blas_thread(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-drift") as pool:
        # The fit needs the baseline only: before the window is read, so that the two never
        # take memory at the same time (the first window of a baseline fits, the others load).
        if lookup.reference is not None and model_config.estimation.enabled is not False:
            try:
                specs, _ = feature_specs(inputs)
                info = lookup.reference.info
                fit = load_or_fit(engine, model_config, reference_set_id=info.id,
                                  reference_created_at=info.created_at, reference=lookup.reference.rows, specs=specs,
                                  now=clock())
                inputs = replace(inputs, estimators=fit.estimators)
            except Exception as exc:  # the window is still computed; its estimated metrics say why they are missing
                log.exception("estimation fit failed", extra=fields(model=key.model, version=key.model_version))
                estimation_note = f"estimation fit failed: {type(exc).__name__}: {exc}"
                inputs = replace(inputs, estimation_reason=estimation_note)
        # The drift tests need the features only: they are queued on the second core as soon as
        # the features are read, while the labels are read and matched in.
        drift: list[StartedDrift] = []
        data = load_window(engine, model=key.model, model_version=key.model_version, start=key.start, end=key.end,
                           features_read=lambda rows: drift.append(start_data_drift(replace(inputs, rows=rows), pool)))
        inputs = replace(inputs, rows=data.rows, dead_letter_count=data.dead_letter_count)
        # The whole model, then each segment.
        metrics = compute_segmented_metrics(inputs, second_core=pool, drift=next(iter(drift), None))
    notes = list(metrics.notes)
    points = list(metrics.points)
    try:
        points = with_ranking(engine, key, model_config, points)
    except Exception as exc:  # the window is still saved, without its feature ranking
        log.exception("feature ranking failed", extra=fields(model=key.model, version=key.model_version))
        notes.append(f"feature ranking failed: {type(exc).__name__}: {exc}")
    if estimation_note is not None:
        notes.append(estimation_note)
    if lookup.problem and lookup.reason:
        notes.insert(0, lookup.reason)
    status = "degraded" if notes else "succeeded"

    finished_at = clock()
    written = save_window_result(
        engine, key, points, worker=worker, is_partial=job.is_partial, watermark=data.watermark,
        computed_at=finished_at,
        run=JobRun(model=key.model, model_version=key.model_version, window_start=key.start, window_end=key.end,
                   trigger=job.trigger, started_at=started_at, finished_at=finished_at, status=status,
                   error="; ".join(notes) or None, worker=worker),
    )
    seconds = time.perf_counter() - started
    log.info("window computed", extra=fields(model=key.model, version=key.model_version,
                                              window=iso_utc(key.start), trigger=job.trigger, rows=len(data.rows),
                                              metrics=written, status=status, seconds=round(seconds, 3)))
    return WindowOutcome(job=job, status=status, metrics_written=written, notes=tuple(notes), seconds=seconds)
