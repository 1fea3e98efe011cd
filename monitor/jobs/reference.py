"""The baseline each window is compared with: built once, stored, then read back.

``models.<name>.reference`` picks one of three sources:

- ``file``: a parquet/CSV file. Columns ``prediction``, ``score``, ``label``,
  ``latency_ms`` and ``status`` are the model's outputs, true outcomes and serving
  (all optional); every other column is a
  feature (only the configured ones when the model lists features), except the
  per-class probability columns ``reference.probabilities`` names (multiclass). One
  baseline serves every model version.
- ``window: {start, end}``: the stored predictions of the model (all versions) with
  event time in the window, taken once the window has closed.
- ``first: N``: the first N predictions (by event time) of each model version,
  taken as soon as the version has N; so a new version gets its own baseline.

The baseline is copied into ``reference_sets``/``reference_data`` the first time it
is needed, so every window — on every scheduler, after every restart — compares
with the same data. Labels of copied predictions are joined when the baseline is
read, so late labels still reach concept drift.

When the baseline cannot be had (file missing, window not closed, too few
predictions yet) :meth:`ReferenceProvider.get` says why instead of raising; the
window is computed without drift metrics, which record that reason.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from monitor.clock import iso_utc
from monitor.config.models import ModelConfig, ReferenceConfig
from monitor.errors import DriftwatchError, ReferenceDataError
from monitor.jobs.data_files import read_data_file
from monitor.logs import fields
from monitor.metrics.categories import category_key
from monitor.store.reference_store import (
    ALL_VERSIONS,
    ReferenceRecord,
    ReferenceSetInfo,
    count_version_predictions,
    find_reference_set,
    load_reference_rows,
    save_reference_from_predictions,
    save_reference_records,
)
from monitor.store.stored_rows import StoredRows

__all__ = [
    "OUTPUT_COLUMNS_IN_FILES",
    "Reference",
    "ReferenceLookup",
    "ReferenceProvider",
    "feature_types_of",
    "records_from_frame",
    "reference_source",
]

log = logging.getLogger(__name__)

OUTPUT_COLUMNS_IN_FILES = ("prediction", "score", "label", "latency_ms", "status")


@dataclass(frozen=True, slots=True)
class Reference:
    """A stored baseline and its columns."""

    info: ReferenceSetInfo
    rows: StoredRows


@dataclass(frozen=True, slots=True)
class ReferenceLookup:
    """The baseline for a model version, or the reason there is none (yet)."""

    reference: Reference | None
    reason: str | None = None
    problem: bool = False  # True when an operator must fix something (not just "not yet")


def reference_source(config: ReferenceConfig) -> tuple[str, bool]:
    """The ``source`` text stored with the baseline, and whether it is per version."""
    if config.file is not None:
        if config.probabilities is not None:  # other probability columns: another baseline
            columns = ",".join(f"{name}={column}" for name, column in sorted(config.probabilities.items()))
            return f"file:{config.file};probabilities={columns}", False
        return f"file:{config.file}", False
    if config.window is not None:
        # Stored with the baseline and compared on every run: keep this exact text
        # (``+00:00``, not the ``Z`` of monitor.clock.iso_utc) so stored baselines still match.
        start = config.window.start.astimezone(UTC).isoformat()
        end = config.window.end.astimezone(UTC).isoformat()
        return f"window:{start}/{end}", False
    return f"first:{config.first}", True


def _value_text(value: Any) -> tuple[str | None, float | None]:
    """A prediction or label as the store keeps it: canonical text, plus its number."""
    key = category_key(value)
    if key is None:
        return None, None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        return key, number if math.isfinite(number) else None
    return key, None


def _optional_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def records_from_frame(frame: pd.DataFrame, model_config: ModelConfig) -> list[ReferenceRecord]:
    """Turn a reference file's rows into stored records (see the module docstring)."""
    mapping = model_config.reference.probabilities if model_config.reference is not None else None
    probability_columns = _probability_columns(frame, mapping or {})
    if model_config.features:
        feature_columns = [name for name in model_config.features if name in frame.columns]
    else:
        feature_columns = [name for name in frame.columns
                           if name not in OUTPUT_COLUMNS_IN_FILES and name not in probability_columns.values()]
    if not feature_columns and not any(name in frame.columns for name in OUTPUT_COLUMNS_IN_FILES):
        raise ReferenceDataError(
            f"the reference file has none of the model's features {sorted(model_config.features)} "
            "nor a prediction/label column; check the file or the feature names"
        )
    raw = frame[feature_columns].astype(object).where(frame[feature_columns].notna(), None)
    feature_rows = raw.to_dict("records")
    outputs = {
        name: (frame[name].astype(object).where(frame[name].notna(), None).tolist() if name in frame.columns
               else [None] * len(frame))
        for name in OUTPUT_COLUMNS_IN_FILES
    }
    statuses = _statuses(frame)
    probability_values = {str(name): frame[column].to_numpy(dtype=float)
                          for name, column in probability_columns.items()}
    records = []
    for index, features in enumerate(feature_rows):
        prediction, prediction_numeric = _value_text(outputs["prediction"][index])
        label, label_numeric = _value_text(outputs["label"][index])
        records.append(ReferenceRecord(
            features=features, prediction=prediction, prediction_numeric=prediction_numeric,
            score=_optional_float(outputs["score"][index]), label=label, label_numeric=label_numeric,
            probabilities=_row_probabilities(probability_values, index),
            latency_ms=_optional_float(outputs["latency_ms"][index]), status=statuses[index],
        ))
    return records


def _statuses(frame: pd.DataFrame) -> list[str | None]:
    """A file's ``status`` column ("ok" where empty, as ingestion); None per row without the column."""
    if "status" not in frame.columns:
        return [None] * len(frame)
    values = ["ok" if value is None else str(value).strip().lower()
              for value in frame["status"].astype(object).where(frame["status"].notna(), None)]
    wrong = sorted(set(values) - {"ok", "error"})
    if wrong:
        raise ReferenceDataError(f"the reference file's status column has {', '.join(map(repr, wrong[:5]))}; "
                                 "use ok or error (empty: ok)")
    checked: list[str | None] = list(values)
    return checked


def _probability_columns(frame: pd.DataFrame, mapping: dict[str, str]) -> dict[str, str]:
    """``reference.probabilities`` checked against the file: every column present and numeric."""
    missing = sorted(column for column in mapping.values() if column not in frame.columns)
    if missing:
        raise ReferenceDataError(f"the reference file has no column(s) {', '.join(map(repr, missing))} that "
                                 "reference.probabilities names; fix the mapping or the file")
    for name, column in mapping.items():
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise ReferenceDataError(f"reference file column {column!r} (probability of class {name!r}) holds "
                                     f"{values.dtype} values; it needs probabilities between 0 and 1")
    return mapping


def _row_probabilities(values: dict[str, Any], index: int) -> dict[str, float] | None:
    """One row's {class: probability} (a missing value left out; None when the file maps no class)."""
    row = {name: float(column[index]) for name, column in values.items() if math.isfinite(column[index])}
    return row or None


def feature_types_of(model_config: ModelConfig) -> dict[str, str]:
    return {name: feature.type for name, feature in model_config.features.items()}


class ReferenceProvider:
    """Finds, builds and caches each model version's baseline.

    Cached baselines live until :meth:`refresh` (the scheduler calls it once per
    tick, so labels that reached a copied baseline are seen on the next tick).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[tuple[str, str, str], Reference] = {}

    def refresh(self) -> None:
        self._cache.clear()

    def get(self, model: str, model_config: ModelConfig, model_version: str, *, now: datetime) -> ReferenceLookup:
        config = model_config.reference
        if config is None:
            return ReferenceLookup(
                None, f"no reference configured for model {model!r}; set models.{model}.reference "
                      "(file, window or first) to compute drift", problem=True,
            )
        source, per_version = reference_source(config)
        version_key = model_version if per_version else ALL_VERSIONS
        cache_key = (model, version_key, source)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return ReferenceLookup(cached)
        try:
            info = self._stored_or_built(model, model_config, config, source, version_key, model_version, now)
        except DriftwatchError as exc:
            log.warning("reference unavailable", extra=fields(model=model, version=model_version, reason=str(exc)))
            return ReferenceLookup(None, f"reference unavailable: {exc}", problem=True)
        if isinstance(info, str):
            return ReferenceLookup(None, info)
        rows = load_reference_rows(self.engine, info, feature_types_of(model_config))
        reference = Reference(info=info, rows=rows)
        self._cache[cache_key] = reference
        return ReferenceLookup(reference)

    def _stored_or_built(
        self, model: str, model_config: ModelConfig, config: ReferenceConfig, source: str, version_key: str,
        model_version: str, now: datetime,
    ) -> ReferenceSetInfo | str:
        with self.engine.connect() as connection:
            stored = find_reference_set(connection, model=model, model_version=version_key)
        if stored is not None and stored.source == source:
            return stored
        if config.file is not None:
            records = records_from_frame(read_data_file(config.file), model_config)
            if not records:
                raise ReferenceDataError(f"the reference file {config.file} has no rows")
            info = save_reference_records(self.engine, model=model, model_version=version_key, source=source,
                                          records=records, created_at=now)
        elif config.window is not None:
            if now < config.window.end:
                return (f"the reference window ends at {iso_utc(config.window.end)}; "
                        "drift is computed once it has closed")
            built = save_reference_from_predictions(
                self.engine, model=model, model_version=version_key, source=source, created_at=now,
                start=config.window.start, end=config.window.end,
            )
            if built is None:
                raise ReferenceDataError(
                    f"no stored predictions of model {model!r} in the reference window "
                    f"{iso_utc(config.window.start)} – {iso_utc(config.window.end)}; pick a window with traffic"
                )
            info = built
        else:
            assert config.first is not None
            have = count_version_predictions(self.engine, model=model, model_version=model_version,
                                             at_most=config.first)
            if have < config.first:
                return (f"waiting for the first {config.first} predictions of version {model_version!r} "
                        f"to build its reference ({have} so far)")
            built = save_reference_from_predictions(
                self.engine, model=model, model_version=version_key, source=source, created_at=now,
                version_filter=model_version, limit=config.first,
            )
            if built is None:  # pragma: no cover - counted just above
                return f"version {model_version!r} has no predictions yet"
            info = built
        log.info("reference stored", extra=fields(model=model, version=version_key, source=source,
                                                  rows=info.row_count))
        return info
