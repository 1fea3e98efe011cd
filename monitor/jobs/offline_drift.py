"""The offline drift check of two data files (``driftwatch drift REFERENCE CURRENT``).

No store and no config: both files are read (parquet or CSV), every column is a
feature, and each column's type is inferred from its dtype — bool, string and
category columns are categorical, numbers numeric — unless the caller names it
categorical or numerical. The drift statistics are the scheduler's own
(:func:`monitor.metrics.drift.compute_dataset_drift`, Evidently's methods and
automatic choice).

Degenerate input never passes the gate: a file without rows or with a single row,
and a reference column without any value, are refused (exit 2, naming the file and
the column). A feature whose test gives no score (e.g. a column entirely missing in
CURRENT) is *not judged*; the dataset verdict stands only when it does not depend
on the unjudged features (see :func:`monitor.metrics.drift.dataset_verdict`),
otherwise the check ends with exit 2 naming each unjudged column.
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
    AUTO,
    DEFAULT_DRIFT_SHARE,
    DatasetDriftResult,
    FeatureDriftResult,
    FeatureType,
    compute_dataset_drift,
    get_method,
    infer_feature_type,
)
from monitor.metrics.drift.learned import (
    DEFAULT_STD_MULTIPLIER,
    MIN_CHUNKS,
    REFERENCE,
    ThresholdLearning,
    min_reference_rows,
)

__all__ = [
    "OfflineDriftReport",
    "check_drift_files",
    "parse_feature_options",
    "resolve_feature_types",
]

_MIN_ROWS = 2
# A method for each type, suggested when --method does not apply to a column.
_SUGGESTED_METHOD: dict[str, str] = {"numeric": "ks", "categorical": "chisquare"}


@dataclass(frozen=True, slots=True)
class OfflineDriftReport:
    """The dataset verdict and each feature's test; ``dataset_drift`` None means not judged."""

    result: DatasetDriftResult
    reference_name: str = "REFERENCE"
    current_name: str = "CURRENT"

    @property
    def dataset_drift(self) -> bool | None:
        return self.result.dataset_drift

    @property
    def exit_code(self) -> int:
        """1 drift, 0 no drift, 2 not judged."""
        if self.result.dataset_drift is None:
            return 2
        return 1 if self.result.dataset_drift else 0

    def not_judged_lines(self) -> list[str]:
        """One ``FILE column 'x': reason`` per feature that could not be judged."""
        return [f"{self._file_of(feature)} column {feature.feature!r}: {feature.not_judged_reason}"
                for feature in self.result.not_judged]

    def _file_of(self, feature: FeatureDriftResult) -> str:
        if feature.details.get("n_reference") == 0:
            return self.reference_name
        if feature.details.get("n_current") == 0:
            return self.current_name
        return f"{self.reference_name} vs {self.current_name}"

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document: strict JSON (a NaN score is null; not judged is null)."""
        verdict = self.result.dataset_drift
        return {
            "dataset_drift": None if verdict is None else bool(verdict),
            "drift_share": None if math.isnan(self.result.drift_share) else float(self.result.drift_share),
            "features": [
                {
                    "feature": feature.feature,
                    "type": feature.feature_type,
                    "method": feature.method,
                    "score": float(feature.score) if feature.judged else None,
                    "threshold": float(feature.threshold),
                    "threshold_source": feature.details.get("threshold_source", "fixed"),
                    "learned": feature.details.get("learned"),
                    "drifted": bool(feature.drifted) if feature.judged else None,
                    "not_judged": feature.not_judged_reason,
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


def parse_feature_options(
    methods: Sequence[str], thresholds: Sequence[str], columns: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """``--feature-method COLUMN=METHOD`` / ``--feature-threshold COLUMN=NUMBER|reference`` as per-feature options.

    >>> parse_feature_options(["country=chisquare"], ["country=0.1", "age=reference"], ["age", "country"])
    {'country': {'method': 'chisquare', 'threshold': 0.1}, 'age': {'threshold': 'reference'}}
    """
    options: dict[str, dict[str, Any]] = {}
    for flag, items, key in (("--feature-method", methods, "method"), ("--feature-threshold", thresholds,
                                                                        "threshold")):
        for item in items:
            name, sep, raw = item.partition("=")
            name, raw = name.strip(), raw.strip()
            if not sep or not name or not raw:
                example = "country=chisquare" if key == "method" else "country=0.1"
                raise InputFileError(f"{flag} {item!r} must be COLUMN={key.upper()}, e.g. {flag} {example}")
            if name not in columns:
                raise InputFileError(f"{flag} names {name!r}, which is not a column of the files "
                                     f"(columns: {list(columns)})")
            if key in options.get(name, {}):
                raise InputFileError(f"{flag} is given twice for column {name!r}; give it once")
            value: Any = raw
            if key == "threshold" and raw != REFERENCE:
                try:
                    value = float(raw)
                except ValueError:
                    raise InputFileError(f"{flag} {item!r}: {raw!r} is neither a number nor 'reference'; write "
                                         f"e.g. {flag} {name}=0.1 or {flag} {name}=reference") from None
                if not math.isfinite(value) or value < 0:
                    raise InputFileError(f"{flag} {item!r}: the threshold must be a finite number >= 0")
            options.setdefault(name, {})[key] = value
    return options


def _check_rows(frame: pd.DataFrame, path: Path) -> None:
    if len(frame) == 0:
        raise InputFileError(f"{path} has no rows (a header only?); there is no data to judge, so there is no "
                             "verdict; check what wrote the file")
    if len(frame) < _MIN_ROWS:
        raise InputFileError(f"{path} has only {len(frame)} row; one row is not a distribution, so drift cannot be "
                             f"judged; compare at least {_MIN_ROWS} rows")


def _check_reference_values(reference: pd.DataFrame, types: dict[str, FeatureType], path: Path) -> None:
    for name in types:
        if _all_missing(reference[name]):
            raise InputFileError(f"{path} column {name!r} has no values (every value is missing): there is nothing "
                                 "to compare with, so its drift cannot be judged; fix the file or drop the column "
                                 "from both files")


def _check_methods(types: dict[str, FeatureType], method: str, per_feature: dict[str, dict[str, Any]]) -> None:
    """A method that cannot test a column's type: name the column and the option that fixes it."""
    for name, feature_type in types.items():
        own = per_feature.get(name, {}).get("method")
        chosen = own or method
        if chosen == AUTO:
            continue
        drift_method = get_method(chosen)
        if feature_type in drift_method.feature_types:
            continue
        kinds = " and ".join(drift_method.feature_types)
        where = f"--feature-method {name}={chosen}" if own else f"--method {chosen}"
        raise InputFileError(
            f"{where} applies to {kinds} features only, but column {name!r} is {feature_type}; test it with "
            f"--feature-method {name}={_SUGGESTED_METHOD[feature_type]} (or {name}=auto)"
        )


def check_drift_files(
    reference_path: Path,
    current_path: Path,
    *,
    method: str = "auto",
    threshold: float | str | None = None,
    threshold_std: float = DEFAULT_STD_MULTIPLIER,
    categorical: Sequence[str] = (),
    numerical: Sequence[str] = (),
    drift_share: float = DEFAULT_DRIFT_SHARE,
    feature_methods: Sequence[str] = (),
    feature_thresholds: Sequence[str] = (),
) -> OfflineDriftReport:
    """Read both files and test every column (see the module docstring).

    ``feature_methods`` / ``feature_thresholds`` are ``COLUMN=VALUE`` texts that
    override ``method`` / ``threshold`` for one column. A threshold ``"reference"``
    is learned from chunks of REFERENCE as large as CURRENT (``mean + threshold_std · std``
    of the chunks' scores; see :mod:`monitor.metrics.drift.learned`). Raises
    :class:`~monitor.errors.InputFileError` or :class:`~monitor.errors.MetricError`
    on bad input.
    """
    reference = read_data_file(reference_path)
    current = read_data_file(current_path)
    _check_rows(reference, reference_path)
    _check_rows(current, current_path)
    types = resolve_feature_types(reference, current, categorical=categorical, numerical=numerical,
                                  reference_name=str(reference_path), current_name=str(current_path))
    _check_reference_values(reference, types, reference_path)
    threshold = _parse_threshold(threshold)
    per_feature = parse_feature_options(feature_methods, feature_thresholds, list(types))
    learning = None
    if threshold == REFERENCE or any(options.get("threshold") == REFERENCE for options in per_feature.values()):
        learning = _learning(reference, current, threshold_std, reference_path, current_path)
    if method != AUTO:
        get_method(method)
    for options in per_feature.values():
        if options.get("method", AUTO) != AUTO:
            get_method(options["method"])
    _check_methods(types, method, per_feature)
    result = compute_dataset_drift(reference, current, feature_types=types, method=method, threshold=threshold,
                                   per_feature=per_feature, drift_share=drift_share, learning=learning)
    return OfflineDriftReport(result, reference_name=str(reference_path), current_name=str(current_path))


def _parse_threshold(threshold: float | str | None) -> float | str | None:
    """``--threshold`` as a number, ``"reference"`` or None (each method's default).

    >>> _parse_threshold("0.1"), _parse_threshold("reference"), _parse_threshold(None)
    (0.1, 'reference', None)
    """
    if threshold is None or threshold == REFERENCE:
        return threshold
    try:
        number = float(threshold)
    except ValueError:
        raise InputFileError(f"--threshold {threshold!r} is neither a number nor 'reference'; write e.g. "
                             "--threshold 0.1, or --threshold reference to learn it from the reference") from None
    if not math.isfinite(number) or number < 0:
        raise MetricError(f"--threshold must be a finite number >= 0 or 'reference', got {threshold}")
    return number


def _learning(reference: pd.DataFrame, current: pd.DataFrame, threshold_std: float, reference_path: Path,
              current_path: Path) -> ThresholdLearning:
    """Chunks of CURRENT's size; REFERENCE must hold enough of them."""
    if isinstance(threshold_std, bool) or not math.isfinite(threshold_std) or threshold_std <= 0:
        raise InputFileError(f"--threshold-std must be a number > 0 (how many standard deviations from the mean "
                             f"flags drift; 3 by default), got {threshold_std}")
    needed = min_reference_rows(len(current))
    if len(reference) < needed:
        raise InputFileError(
            f"--threshold reference splits {reference_path} into chunks of {len(current)} rows (the rows of "
            f"{current_path}) and needs at least {MIN_CHUNKS} of them, so at least {needed} rows, but it has "
            f"{len(reference)}; "
            "use a bigger reference, compare a smaller current file, or give a fixed --threshold"
        )
    return ThresholdLearning(chunk_size=len(current), multiplier=float(threshold_std))
