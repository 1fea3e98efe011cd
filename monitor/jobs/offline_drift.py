"""The offline drift check of two data files (``driftwatch drift REFERENCE CURRENT``).

No store and no config: both files are read (parquet or CSV), every column is a
feature, and each column's type is inferred from its dtype — bool, string and
category columns are categorical, numbers numeric — unless the caller names it
categorical or numerical. The drift statistics are the scheduler's own
(:func:`monitor.metrics.drift.compute_dataset_drift`, Evidently's methods and
automatic choice).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from monitor.errors import InputFileError, MetricError
from monitor.jobs.data_files import read_data_file
from monitor.metrics.drift import (
    DEFAULT_DRIFT_SHARE,
    DatasetDriftResult,
    FeatureType,
    compute_dataset_drift,
    infer_feature_type,
)

__all__ = ["OfflineDriftReport", "check_drift_files", "resolve_feature_types"]


@dataclass(frozen=True, slots=True)
class OfflineDriftReport:
    """The dataset verdict and each feature's test."""

    result: DatasetDriftResult

    @property
    def dataset_drift(self) -> bool:
        return self.result.dataset_drift

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document: strict JSON (a NaN score is null)."""
        return {
            "dataset_drift": bool(self.result.dataset_drift),
            "drift_share": float(self.result.drift_share),
            "features": [
                {
                    "feature": feature.feature,
                    "type": feature.feature_type,
                    "method": feature.method,
                    "score": None if math.isnan(feature.score) else float(feature.score),
                    "threshold": float(feature.threshold),
                    "drifted": bool(feature.drifted),
                }
                for feature in self.result.features
            ],
        }


def _all_missing(column: pd.Series[Any]) -> bool:
    return bool(column.isna().all())


def resolve_feature_types(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    categorical: Sequence[str] = (),
    numerical: Sequence[str] = (),
    reference_name: str = "REFERENCE",
    current_name: str = "CURRENT",
) -> dict[str, FeatureType]:
    """Each shared column's feature type: named by the caller, else inferred.

    Both files must have the same columns. A column inferred differently in the two
    files (numbers in one, strings in the other) must be named explicitly.
    """
    only_reference = [name for name in reference.columns if name not in current.columns]
    only_current = [name for name in current.columns if name not in reference.columns]
    if only_reference or only_current:
        parts = []
        if only_reference:
            parts.append(f"{current_name} lacks {only_reference}")
        if only_current:
            parts.append(f"{reference_name} lacks {only_current}")
        raise InputFileError(f"the files have different columns: {'; '.join(parts)}; compare files with the same "
                             "columns")
    if len(reference.columns) == 0:
        raise InputFileError(f"{reference_name} has no columns; nothing to compare")
    both = sorted(set(categorical) & set(numerical))
    if both:
        raise InputFileError(f"{both} named both --categorical and --numerical; pick one")
    unknown = sorted((set(categorical) | set(numerical)) - set(reference.columns))
    if unknown:
        raise InputFileError(f"--categorical/--numerical name {unknown}, which are not columns of the files "
                             f"(columns: {list(reference.columns)})")
    types: dict[str, FeatureType] = {}
    for name in reference.columns:
        if name in categorical:
            types[name] = "categorical"
            continue
        if name in numerical:
            types[name] = "numeric"
            continue
        inferred = {
            which: infer_feature_type(frame[name], feature=name)
            for which, frame in ((reference_name, reference), (current_name, current))
            if not _all_missing(frame[name])
        }
        kinds = set(inferred.values())
        if len(kinds) > 1:
            raise InputFileError(
                f"column {name!r} looks {inferred[reference_name]} in {reference_name} but "
                f"{inferred[current_name]} in {current_name}; name its type with --categorical or --numerical"
            )
        if not kinds:
            kinds = {infer_feature_type(reference[name], feature=name)}
        types[name] = kinds.pop()
    return types


def check_drift_files(
    reference_path: Path,
    current_path: Path,
    *,
    method: str = "auto",
    threshold: float | None = None,
    categorical: Sequence[str] = (),
    numerical: Sequence[str] = (),
    drift_share: float = DEFAULT_DRIFT_SHARE,
) -> OfflineDriftReport:
    """Read both files and test every column (see the module docstring).

    Raises :class:`~monitor.errors.InputFileError` or
    :class:`~monitor.errors.MetricError` on bad input.
    """
    reference = read_data_file(reference_path)
    current = read_data_file(current_path)
    if len(reference) == 0:
        raise InputFileError(f"{reference_path} has no rows; a reference needs data")
    types = resolve_feature_types(reference, current, categorical=categorical, numerical=numerical,
                                  reference_name=str(reference_path), current_name=str(current_path))
    if threshold is not None and (not math.isfinite(threshold) or threshold < 0):
        raise MetricError(f"--threshold must be a finite number >= 0, got {threshold}")
    result = compute_dataset_drift(reference, current, feature_types=types, method=method, threshold=threshold,
                                   drift_share=drift_share)
    return OfflineDriftReport(result)
