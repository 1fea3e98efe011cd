"""Agreement with NannyML 0.13.1 on its own car-loan dataset (golden files from scripts/nannyml_golden.py).

CBPE and PCA values within 1e-6 relative, bands and thresholds within 1e-6, identical
alerts chunk by chunk. NannyML itself is not installed: the golden files hold its output.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from monitor.metrics.estimation import EstimationReport, fit_cbpe, fit_reconstruction
from monitor.metrics.estimation.calibration import needs_calibration
from monitor.metrics.estimation.cbpe_multiclass import MULTICLASS_METRICS, fit_multiclass_cbpe
from monitor.metrics.estimation.classifier import fit_domain_classifier
from monitor.metrics.estimation.dle import fit_dle

GOLDEN = Path(__file__).parent / "golden"
REL, ABS = 1e-6, 1e-6
# our field name -> NannyML's
FIELDS = {"value": "value", "realized": "realized", "sampling_error": "sampling_error",
          "lower_band": "lower_confidence_boundary", "upper_band": "upper_confidence_boundary",
          "lower_threshold": "lower_threshold", "upper_threshold": "upper_threshold"}


def _golden(name: str) -> dict[str, Any]:
    return dict(json.loads((GOLDEN / name).read_text()))


@pytest.fixture(scope="module")
def car_loan() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pd.read_parquet(GOLDEN / "car_loan_reference.parquet"),
            pd.read_parquet(GOLDEN / "car_loan_analysis.parquet"))


def _close(ours: float | None, theirs: float | None, rel: float) -> bool:
    if ours is None or theirs is None or math.isnan(ours) or math.isnan(theirs):
        return (ours is None or math.isnan(ours)) and (theirs is None or math.isnan(theirs))
    return ours == pytest.approx(theirs, rel=rel, abs=ABS if rel == REL else 0)


def _compare(report: EstimationReport, golden: dict[str, Any], metrics: list[str], rel: float = REL) -> None:
    assert len(report.chunks) == len(golden["chunks"])
    mismatches = []
    for chunk, expected in zip(report.chunks, golden["chunks"], strict=True):
        assert (chunk.start_row, chunk.end_row) == (expected["start_index"], expected["end_index"])
        for metric in metrics:
            ours, theirs = chunk.metrics[metric], expected[metric]
            for field, their_field in FIELDS.items():
                if their_field not in theirs:
                    continue
                if not _close(getattr(ours, field), theirs[their_field], rel):
                    mismatches.append((chunk.index, metric, field, getattr(ours, field), theirs[their_field]))
            if ours.alert != theirs["alert"]:
                mismatches.append((chunk.index, metric, "alert", ours.alert, theirs["alert"]))
    assert not mismatches, mismatches[:10]


def test_cbpe_binary_agrees_with_nannyml(car_loan):
    reference, analysis = car_loan
    golden = _golden("car_loan_cbpe.json")
    fitted = fit_cbpe(reference["repaid"].to_numpy(), reference["y_pred_proba"].to_numpy(),
                      reference["y_pred"].to_numpy(), chunk_size=golden["chunk_size"])
    assert fitted.calibrated == golden["needs_calibration"]
    report = fitted.estimate(analysis["y_pred_proba"].to_numpy(), analysis["y_pred"].to_numpy(),
                             analysis["repaid"].to_numpy(dtype=float))
    _compare(report, golden, golden["metrics"])
    assert report.alert  # the car-loan analysis period has a real performance drop


def test_calibration_decision_matches_nannyml(car_loan):
    reference, _ = car_loan
    decision = needs_calibration(reference["repaid"].to_numpy(), reference["y_pred_proba"].to_numpy())
    assert decision == _golden("car_loan_cbpe.json")["needs_calibration"]


def test_pca_reconstruction_agrees_with_nannyml(car_loan):
    reference, analysis = car_loan
    golden = _golden("car_loan_pca.json")
    fitted = fit_reconstruction(reference, golden["features"], chunk_size=golden["chunk_size"])
    report = fitted.estimate(analysis)
    _compare(report, golden, ["reconstruction_error"])
    assert report.alert


def test_cbpe_multiclass_agrees_with_nannyml():
    golden = _golden("multiclass_cbpe.json")
    reference = pd.read_parquet(GOLDEN / "multiclass_reference.parquet")
    analysis = pd.read_parquet(GOLDEN / "multiclass_analysis.parquet")
    classes = golden["classes"]
    columns = [f"y_pred_proba_{name}" for name in sorted(classes)]
    # Every scalar metric and the confusion matrix's nine cells (true_<a>_pred_<b>, counts).
    fitted = fit_multiclass_cbpe(reference["y_true"].to_numpy(), reference[columns].to_numpy(),
                                 reference["y_pred"].to_numpy(), classes, chunk_size=golden["chunk_size"],
                                 metrics=[*MULTICLASS_METRICS, "confusion_matrix"])
    assert list(fitted.metrics) == golden["metrics"] and len(golden["metrics"]) == 6 + 9
    assert {name: calibrator is not None for name, calibrator in zip(fitted.classes, fitted.calibrators,
                                                                      strict=True)} == golden["calibrated"]
    report = fitted.estimate(analysis[columns].to_numpy(), analysis["y_pred"].to_numpy(),
                             analysis["y_true"].to_numpy())
    _compare(report, golden, golden["metrics"])


@pytest.mark.slow
def test_dle_regression_agrees_with_nannyml():
    """LightGBM's training is not bit-for-bit portable: 1e-3 relative, identical alerts."""
    golden = _golden("car_price_dle.json")
    reference = pd.read_parquet(GOLDEN / "car_price_reference.parquet")
    analysis = pd.read_parquet(GOLDEN / "car_price_analysis.parquet")
    fitted = fit_dle(reference, golden["features"], "y_pred", "y_true", metrics=golden["metrics"],
                     chunk_size=golden["chunk_size"])
    report = fitted.estimate(analysis, analysis["y_true"].to_numpy(dtype=float))
    _compare(report, golden, golden["metrics"], rel=1e-3)
    assert report.alert


@pytest.mark.slow
def test_domain_classifier_agrees_with_nannyml(car_loan):
    """Five LightGBM fits per chunk: 1e-3 relative, identical alerts."""
    golden = _golden("car_loan_domain_classifier.json")
    reference, analysis = car_loan
    start = golden["analysis_start"]
    fitted = fit_domain_classifier(reference.iloc[:golden["reference_rows"]], golden["features"],
                                   chunk_size=golden["chunk_size"])
    report = fitted.estimate(analysis.iloc[start:start + golden["analysis_rows"]].reset_index(drop=True))
    renamed = {"chunks": [{**chunk, "auroc": chunk["domain_classifier_auroc"]} for chunk in golden["chunks"]]}
    _compare(report, renamed, ["auroc"], rel=1e-3)
    assert report.alert
