"""Each reference set's fit, stored once in ``reference_models`` and loaded by every window.

:func:`load_or_fit` returns the stored fit of a reference set and the model's settings, or
fits it (:func:`monitor.jobs.estimation_fit.fit_estimators`) and stores it, pickled with the
library versions that fitted it. A stored fit is used while the settings it depends on
(:func:`config_key`), the reference rows it read (:func:`fingerprint`) and the library
versions are unchanged; otherwise it is refitted. A fit that cannot be unpickled (stored by
an older driftwatch) is refitted too. Fits read in this process are remembered, so a
window whose stored fit is unchanged does not unpickle it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
import platform
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from monitor.config.models import ModelConfig
from monitor.jobs.estimation_fit import FittedEstimators, fit_estimators, service_metrics
from monitor.logs import fields
from monitor.metrics.categories import category_key
from monitor.metrics.features import FeatureSpec
from monitor.store.stored_rows import StoredRows
from monitor.store.tables import reference_models

__all__ = ["StoredFit", "config_key", "fingerprint", "library_versions", "load_or_fit"]

log = logging.getLogger(__name__)

_LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy", "lightgbm")
_MEMO_SIZE = 64
# Fits read from the store in this process, by (store, reference set, settings): a window
# whose stored fit is unchanged (same row, same fit time) skips unpickling it again.
_LOADED: dict[tuple[str, int, str], tuple[tuple[int, datetime], FittedEstimators]] = {}


@dataclass(frozen=True, slots=True)
class StoredFit:
    """A stored fit and whether this call made it."""

    estimators: FittedEstimators
    fitted_at: datetime
    refitted: bool


# --- what a fit depends on ----------------------------------------------------------------------------------------

def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def config_key(config: ModelConfig, specs: dict[str, FeatureSpec]) -> str:
    """A hash of every setting a fit depends on."""
    settings: dict[str, Any] = {
        "task": config.task, "positive_label": category_key(config.positive_label),
        "estimation": config.estimation.model_dump(mode="json"),
        "features": {name: spec.type for name, spec in sorted(specs.items())},
    }
    if config.task == "multiclass_classification":
        settings["fit"] = "per-class probabilities"  # fits stored before the service estimated multiclass: refit
    # The metrics resolved: a fit stored before the default set grew (the confusion cells) is refitted.
    settings["metrics"] = list(service_metrics(config.task, config.estimation.metrics))
    if config.segments is not None:  # each segment's thresholds are part of the fit
        settings["segments"] = config.segments.model_dump(mode="json")
    # Fits stored before each metric's chunk spread was kept (to scale its thresholds to a window): refit.
    settings["thresholds"] = "scaled to the window's rows"
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:32]


def fingerprint(rows: StoredRows, created_at: datetime) -> str:
    """The reference rows a fit used: when the set was stored, how many rows, with a label, with a score."""
    outputs = rows.outputs
    text = (f"{created_at.isoformat()};rows={len(rows)};labels={int(outputs['label'].notna().sum())};"
            f"scores={int(outputs['score'].notna().sum())}")
    if rows.probabilities is not None and rows.probabilities.null_count < len(rows.probabilities):
        text += f";probabilities={len(rows.probabilities) - rows.probabilities.null_count}"
    return text


def load_or_fit(engine: Engine, config: ModelConfig, *, reference_set_id: int, reference_created_at: datetime,
                reference: StoredRows, specs: dict[str, FeatureSpec], now: datetime) -> StoredFit:
    """The stored fit of this reference set and settings; fitted and stored when absent or stale
    (other reference rows or library versions)."""
    key = config_key(config, specs)
    print_ = fingerprint(reference, reference_created_at)
    versions = library_versions()
    where = (reference_models.c.reference_set_id == reference_set_id, reference_models.c.config_key == key)
    with engine.connect() as connection:
        row = connection.execute(select(reference_models.c.id, reference_models.c.fingerprint,
                                        reference_models.c.library_versions, reference_models.c.fitted_at)
                                 .where(*where)).first()
        current = row is not None and row.fingerprint == print_ and row.library_versions == versions
        memo = (engine.url.render_as_string(hide_password=True), reference_set_id, key)
        if row is not None and current:
            cached = _LOADED.get(memo)
            if cached is not None and cached[0] == (row.id, row.fitted_at):
                return StoredFit(cached[1], row.fitted_at, refitted=False)
            blob = connection.execute(select(reference_models.c.fitted).where(reference_models.c.id == row.id)
                                      ).scalar_one_or_none()
            try:
                stored = pickle.loads(blob) if blob is not None else None
            except Exception:  # noqa: BLE001 - an unreadable fit is refitted
                log.warning("stored estimators unreadable; refitting", extra=fields(reference_set=reference_set_id))
            else:
                if isinstance(stored, FittedEstimators):
                    if len(_LOADED) >= _MEMO_SIZE:
                        _LOADED.clear()
                    _LOADED[memo] = ((row.id, row.fitted_at), stored)
                    return StoredFit(stored, row.fitted_at, refitted=False)
    estimators = fit_estimators(config, reference, specs)
    try:
        with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
            connection.execute(delete(reference_models).where(
                reference_models.c.reference_set_id == reference_set_id, reference_models.c.config_key == key))
            connection.execute(insert(reference_models).values(
                reference_set_id=reference_set_id, config_key=key, fingerprint=print_, library_versions=versions,
                chunk_size=estimators.chunk_size, thresholds=_json_ready(estimators.thresholds()),
                fitted=pickle.dumps(estimators, protocol=pickle.HIGHEST_PROTOCOL), fitted_at=now,
            ))
    except IntegrityError:
        # Another scheduler stored the same fit meanwhile (or the reference set was just replaced):
        # this window uses its own, identical fit; the next one loads the stored one.
        log.info("estimators stored by another scheduler", extra=fields(reference_set=reference_set_id))
        return StoredFit(estimators, now, refitted=True)
    log.info("estimators fitted", extra=fields(reference_set=reference_set_id, chunk_size=estimators.chunk_size,
                                               reason=estimators.performance_reason or estimators.multivariate_reason))
    return StoredFit(estimators, now, refitted=True)


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
