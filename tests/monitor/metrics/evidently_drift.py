"""Evidently 0.7.23 itself, called as its ``DataDriftPreset`` calls it: the oracle for
``monitor.metrics.drift``.

* Column level: ``evidently.legacy.calculations.data_drift.get_one_column_drift`` is
  what ``ValueDrift`` (one per column in ``DataDriftPreset``) runs; it cleans the
  column (inf -> NaN, dropna), picks the test with ``get_stattest`` and returns the
  score and verdict that Evidently reports. The method key is ``get_stattest(...).name``
  on the same cleaned columns.
* Dataset level: a real ``Report([DataDriftPreset(...)], include_tests=True)`` run,
  read back from its snapshot.

``np.random.seed(0)`` precedes every run because Evidently's ``empirical_mmd`` draws
from numpy's global generator without seeding it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from evidently import DataDefinition, Dataset, Report
from evidently.legacy.calculations.data_drift import get_one_column_drift
from evidently.legacy.calculations.stattests import get_stattest
from evidently.legacy.core import ColumnType
from evidently.legacy.metric_results import DatasetColumns, DatasetUtilityColumns
from evidently.legacy.options.data_drift import DataDriftOptions
from evidently.presets import DataDriftPreset

__all__ = [
    "EvidentlyColumnDrift",
    "EvidentlyDatasetDrift",
    "assert_same_score",
    "evidently_column_drift",
    "evidently_dataset_drift",
]

_COLUMN_TYPES = {"numeric": ColumnType.Numerical, "categorical": ColumnType.Categorical}


@dataclass(frozen=True)
class EvidentlyColumnDrift:
    method: str  # Evidently's key, e.g. "ks"
    display_name: str  # what Evidently's report shows, e.g. "K-S p_value"
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class EvidentlyDatasetDrift:
    methods: dict[str, str]  # column -> method as the report shows it (display name, or the key given)
    scores: dict[str, float]
    thresholds: dict[str, float]
    drifted: dict[str, bool]
    number_of_drifted: int
    share: float
    dataset_drift: bool


def evidently_column_drift(
    reference: Any, current: Any, *, feature_type: str, method: str | None = None, threshold: float | None = None
) -> EvidentlyColumnDrift:
    """Evidently's verdict for one column; raises whatever Evidently raises."""
    column_type = _COLUMN_TYPES[feature_type]
    reference_frame = pd.DataFrame({"f": pd.Series(reference)})
    current_frame = pd.DataFrame({"f": pd.Series(current)})
    columns = DatasetColumns(
        utility_columns=DatasetUtilityColumns(date=None, id=None, target=None, prediction=None),
        target_type=None,
        task=None,
        num_feature_names=["f"] if feature_type == "numeric" else [],
        cat_feature_names=["f"] if feature_type == "categorical" else [],
        text_feature_names=[],
        datetime_feature_names=[],
        target_names=None,
    )
    options = DataDriftOptions(all_features_stattest=method, all_features_threshold=threshold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(0)
        result = get_one_column_drift(
            current_data=current_frame,
            reference_data=reference_frame,
            column_name="f",
            options=options,
            dataset_columns=columns,
            column_type=column_type,
            agg_data=True,
        )
        key = get_stattest(_clean(reference_frame.f), _clean(current_frame.f), column_type, method).name
    return EvidentlyColumnDrift(
        method=key,
        display_name=result.stattest_name,
        score=float(result.drift_score),
        threshold=float(result.stattest_threshold),
        drifted=bool(result.drift_detected),
    )


def evidently_dataset_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    feature_types: Mapping[str, str],
    drift_share: float = 0.5,
    **preset_options: Any,
) -> EvidentlyDatasetDrift:
    """Run ``DataDriftPreset`` (options as its keyword arguments) and read the snapshot."""
    definition = DataDefinition(
        numerical_columns=[name for name, kind in feature_types.items() if kind == "numeric"],
        categorical_columns=[name for name, kind in feature_types.items() if kind == "categorical"],
    )
    report = Report([DataDriftPreset(drift_share=drift_share, **preset_options)], include_tests=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(0)
        snapshot = report.run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        ).dict()
    methods, scores, thresholds, drifted = {}, {}, {}, {}
    count: dict[str, float] = {}
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            methods[config["column"]] = config["method"]
            thresholds[config["column"]] = config["threshold"]
            scores[config["column"]] = float(metric["value"])
        else:
            count = metric["value"]
    dataset_drift = None
    for test in snapshot["tests"]:
        if test["name"].startswith("Value Drift for column "):
            drifted[test["name"].removeprefix("Value Drift for column ")] = test["status"] == "FAIL"
        elif test["name"].startswith("Share of Drifted Columns"):
            dataset_drift = test["status"] == "FAIL"
    assert dataset_drift is not None and set(drifted) == set(scores)
    return EvidentlyDatasetDrift(
        methods=methods,
        scores=scores,
        thresholds=thresholds,
        drifted=drifted,
        number_of_drifted=int(count["count"]),
        share=float(count["share"]),
        dataset_drift=dataset_drift,
    )


def assert_same_score(ours: float, theirs: float) -> None:
    """Equal within 1e-9 relative; NaN only equals NaN."""
    if math.isnan(theirs):
        assert math.isnan(ours), f"Evidently's score is NaN, ours is {ours}"
    else:
        assert ours == pytest.approx(theirs, rel=1e-9, abs=0.0)


def _clean(column: pd.Series) -> pd.Series:
    return column.replace([-np.inf, np.inf], np.nan).dropna()
