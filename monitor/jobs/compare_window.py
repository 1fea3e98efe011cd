"""The job that compares the versions serving in one window: load → compare → save.

The scheduler runs it for every window it computed, once every version's window is
saved (a canary, shadow or A/B test has two or more versions in one window). The
champion is ``models.<m>.champion`` when set, else the version whose first prediction
is the earliest (ties: the smaller name). Every other version with predictions in the
window is a challenger and gets its ``compare_*`` rows (see
:mod:`monitor.jobs.compare_versions`). When the configured champion served nothing in
the window, the challengers' comparison rows are NaN with the reason, so a rule on
them never reads "all clear" from missing data.

A challenger's comparison is recomputed only when one of its two windows was computed
since it was stored (or the champion changed): the other challengers of a window one
version's late labels recomputed are left as they are, and their rows are not read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from monitor.config.models import ModelConfig
from monitor.jobs.compare_versions import VersionSample, compare_versions
from monitor.logs import fields
from monitor.metrics.names import COMPARE_FEATURE_METRICS, COMPARE_METRICS
from monitor.metrics.point import MetricPoint
from monitor.store.comparison_store import (
    ServingVersion,
    StoredComparison,
    clear_comparisons,
    compare_label,
    first_prediction_times,
    read_estimates,
    save_comparison,
    serving_versions,
    stored_comparisons,
)
from monitor.store.window_reader import load_window

__all__ = ["ComparisonOutcome", "choose_champion", "compare_window"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ComparisonOutcome:
    """What one window's comparison did: the champion (None: fewer than two versions),
    the challengers compared (``unchanged``: those whose stored comparison was up to date,
    left as they were), rows written and notes for the operator."""

    champion: str | None
    challengers: tuple[str, ...] = ()
    rows_written: int = 0
    notes: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


def choose_champion(configured: str | None, first_seen: dict[str, datetime], versions: Sequence[str]) -> str:
    """The configured champion, else the version first seen earliest (ties and unknown: by name).

    >>> from datetime import UTC, datetime
    >>> choose_champion(None, {"v2": datetime(2026, 1, 1, tzinfo=UTC), "v1": datetime(2026, 2, 1, tzinfo=UTC)},
    ...                 ["v1", "v2"])
    'v2'
    >>> choose_champion("v1", {}, ["v1", "v2"])
    'v1'
    """
    if configured is not None:
        return configured
    far = datetime.max.replace(tzinfo=None)
    return min(versions, key=lambda version: (
        first_seen[version].replace(tzinfo=None) if version in first_seen else far, version))


def _missing_champion(champion: str, challenger: str) -> list[MetricPoint]:
    reason = (f"the champion {champion!r} (models.<model>.champion) served no prediction in this window; "
              "nothing to compare with")
    details = {"reason": reason, "champion": champion, "challenger": challenger}
    return [MetricPoint(metric, math.nan, details=details)
            for metric in sorted(COMPARE_METRICS - COMPARE_FEATURE_METRICS)
            if not metric.startswith("compare_estimated_")]


def compare_window(
    engine: Engine, *, model: str, model_config: ModelConfig, start: datetime, end: datetime, now: datetime,
) -> ComparisonOutcome:
    """Compare the versions serving in ``[start, end)`` and save the challengers' rows that are due."""
    serving = {item.version: item for item in serving_versions(engine, model=model, start=start, end=end)}
    configured = model_config.champion
    if len(serving) < 2:  # nothing side by side
        clear_comparisons(engine, model=model, start=start, end=end)
        return ComparisonOutcome(champion=None)
    champion = choose_champion(configured, first_prediction_times(engine, model=model, versions=sorted(serving)),
                               sorted(serving))
    challengers = [version for version in sorted(serving) if version != champion]
    clear_comparisons(engine, model=model, start=start, end=end, keep=challengers)
    stored = stored_comparisons(engine, model=model, start=start, end=end)
    inputs = {challenger: _inputs_computed_at(serving.get(champion), serving[challenger], now)
              for challenger in challengers}
    due = [challenger for challenger in challengers
           if not _up_to_date(stored.get(challenger), compare_label(champion), inputs[challenger])]
    unchanged = tuple(challenger for challenger in challengers if challenger not in due)
    if champion not in serving:
        written = sum(save_comparison(engine, model=model, challenger=challenger, champion=champion, start=start,
                                      end=end, points=_missing_champion(champion, challenger),
                                      is_partial=serving[challenger].is_partial, computed_at=inputs[challenger])
                      for challenger in due)
        return ComparisonOutcome(champion=champion, challengers=tuple(challengers), rows_written=written,
                                 notes=(f"champion {champion!r} served nothing in the window",), unchanged=unchanged)
    written, notes = 0, []
    if due:
        reference = _sample(engine, model, serving[champion], start, end)
        for challenger in due:
            sample = _sample(engine, model, serving[challenger], start, end)
            points, group_notes = compare_versions(model, model_config, reference, sample)
            notes.extend(group_notes)
            written += save_comparison(engine, model=model, challenger=challenger, champion=champion, start=start,
                                       end=end, points=points, computed_at=inputs[challenger],
                                       is_partial=serving[champion].is_partial or serving[challenger].is_partial)
    log.info("versions compared", extra=fields(model=model, window=start.isoformat(), champion=champion,
                                               challengers=",".join(due), unchanged=",".join(unchanged),
                                               metrics=written))
    return ComparisonOutcome(champion=champion, challengers=tuple(challengers), rows_written=written,
                             notes=tuple(notes), unchanged=unchanged)


def _inputs_computed_at(champion: ServingVersion | None, challenger: ServingVersion, now: datetime) -> datetime:
    """When the newer of the comparison's two windows was computed: the ``computed_at`` of its rows."""
    times = [item.computed_at for item in (champion, challenger) if item is not None and item.computed_at is not None]
    return max(times) if times else now


def _up_to_date(stored: StoredComparison | None, label: str, inputs_computed_at: datetime) -> bool:
    """Is the stored comparison the one of these two windows as they are now?

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 3, 2, 1, tzinfo=UTC)
    >>> _up_to_date(StoredComparison("champion=v1", at), "champion=v1", at)
    True
    >>> _up_to_date(StoredComparison("champion=v1", at), "champion=v3", at), _up_to_date(None, "champion=v1", at)
    (False, False)
    >>> _up_to_date(StoredComparison("champion=v1", at), "champion=v1", at.replace(hour=2))  # a window recomputed
    False
    """
    return stored is not None and stored.compare == label and stored.computed_at == inputs_computed_at


def _sample(engine: Engine, model: str, serving: ServingVersion, start: datetime, end: datetime) -> VersionSample:
    data = load_window(engine, model=model, model_version=serving.version, start=start, end=end)
    estimates = read_estimates(engine, model=model, version=serving.version, start=start, end=end)
    return VersionSample(version=serving.version, rows=data.rows, estimates=estimates)
