"""Offline performance estimation (``estimate``) and multivariate drift (``multivariate``) of two files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from monitor.cli.common import app
from monitor.cli.tables import print_table
from monitor.errors import InputFileError

if TYPE_CHECKING:
    import pandas as pd

    from monitor.metrics.estimation import EstimationReport

# scikit-learn and pandas load inside the commands, so every other command starts fast.

out = Console()
TASKS = ("binary_classification", "multiclass_classification", "regression")


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _chunking(chunk_size: int | None, chunks: int | None) -> None:
    if chunk_size is not None and chunks is not None:
        raise InputFileError("give --chunk-size or --chunks, not both")
    for option, value in (("--chunk-size", chunk_size), ("--chunks", chunks)):
        if value is not None and value <= 0:
            raise InputFileError(f"{option} must be a positive number of rows, got {value}")


def _cell(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4g}"


def _print_report(report: EstimationReport, title: str) -> None:
    table = Table(title=title, header_style="bold")
    for column in ("chunk", "rows", "metric", "value", "band", "realized", "thresholds", "alert"):
        table.add_column(column)
    for chunk in report.chunks:
        for name, estimate in chunk.metrics.items():
            table.add_row(str(chunk.index), f"{chunk.start_row}-{chunk.end_row}", name, _cell(estimate.value),
                          f"{_cell(estimate.lower_band)} .. {_cell(estimate.upper_band)}", _cell(estimate.realized),
                          f"{_cell(estimate.lower_threshold)} .. {_cell(estimate.upper_threshold)}",
                          "[red]yes[/]" if estimate.alert else "no")
    print_table(out, table)
    alerts = sum(estimate.alert for chunk in report.chunks for estimate in chunk.metrics.values())
    out.print("[bold red]alert[/]: " if alerts else "[bold green]no alert[/]: ", end="")
    out.print(f"{alerts} metric value(s) outside the reference thresholds in {len(report.chunks)} chunks",
              highlight=False)


def _finish(report: EstimationReport, as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(report.to_json(), allow_nan=False))
    else:
        _print_report(report, title)
    raise typer.Exit(1 if report.alert else 0)


@app.command()
def estimate(
    reference: Annotated[Path, typer.Argument(help="Reference data with labels, scores and predictions.")],
    analysis: Annotated[Path, typer.Argument(help="Data to estimate on (labels optional: realized values).")],
    task: Annotated[str, typer.Option(help="binary_classification, multiclass_classification or regression.")],
    y_pred: Annotated[str, typer.Option("--y-pred", help="Column of predictions (binary: 0/1).")],
    y_true: Annotated[str, typer.Option("--y-true", help="Column of true values (binary: 0/1).")],
    y_pred_proba: Annotated[str | None, typer.Option("--y-pred-proba", help="Column of positive-class "
                                                      "probabilities; multiclass: class=column,... per class.")] = None,
    chunk_size: Annotated[int | None, typer.Option("--chunk-size", help="Rows per chunk.")] = None,
    chunks: Annotated[int | None, typer.Option("--chunks", help="Number of chunks (default 10).")] = None,
    metrics: Annotated[str | None, typer.Option(help="Comma-separated metrics (default: all).")] = None,
    features: Annotated[str | None, typer.Option(help="Regression: the loss model's inputs, comma-separated "
                                                       "(default: every other numeric or categorical column).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Estimate model performance without labels, chunk by chunk (CBPE; DLE for regression).

    Exits 1 when an estimate leaves the reference thresholds, 0 when none does, 2 on bad input.
    """
    from monitor.jobs.data_files import read_data_file
    from monitor.metrics.estimation import CBPE_METRICS, fit_cbpe
    from monitor.metrics.estimation.inputs import binary_column, check_enough_rows, score_column

    if task not in TASKS:
        raise InputFileError(f"--task {task!r} is unknown; use one of {', '.join(TASKS)}")
    _chunking(chunk_size, chunks)
    ref_frame, analysis_frame = read_data_file(reference), read_data_file(analysis)
    ref_name, analysis_name = str(reference), str(analysis)
    check_enough_rows(len(ref_frame), ref_name, chunk_size=chunk_size, chunks=chunks)
    check_enough_rows(len(analysis_frame), analysis_name, chunk_size=chunk_size, chunks=chunks)
    if task == "regression":
        report = _estimate_regression(ref_frame, analysis_frame, ref_name, analysis_name, y_pred, y_true,
                                      _names(features), _names(metrics), chunk_size, chunks)
        _finish(report, as_json, "Estimated performance (DLE)")
    if y_pred_proba is None:
        raise InputFileError(f"--task {task} needs --y-pred-proba (the model's scores)")
    if task == "multiclass_classification":
        report = _estimate_multiclass(ref_frame, analysis_frame, ref_name, analysis_name, y_pred_proba, y_pred,
                                      y_true, _names(metrics), chunk_size, chunks)
        _finish(report, as_json, "Estimated performance (CBPE, multiclass)")
    labels = binary_column(ref_frame, y_true, ref_name, both_classes=True)
    fitted = fit_cbpe(labels, score_column(ref_frame, y_pred_proba, ref_name),
                      binary_column(ref_frame, y_pred, ref_name),
                      metrics=_names(metrics) or CBPE_METRICS, chunk_size=chunk_size, chunks=chunks)
    analysis_labels = (binary_column(analysis_frame, y_true, analysis_name, allow_missing=True)
                       if y_true in analysis_frame.columns else None)
    report = fitted.estimate(score_column(analysis_frame, y_pred_proba, analysis_name),
                             binary_column(analysis_frame, y_pred, analysis_name), analysis_labels)
    _finish(report, as_json, "Estimated performance (CBPE" + (", calibrated)" if fitted.calibrated else ")"))


def _estimate_multiclass(ref_frame: pd.DataFrame, analysis_frame: pd.DataFrame, ref_name: str, analysis_name: str,
                         y_pred_proba: str, y_pred: str, y_true: str, metrics: list[str], chunk_size: int | None,
                         chunks: int | None) -> EstimationReport:
    import numpy as np

    from monitor.metrics.estimation.cbpe_multiclass import MULTICLASS_METRICS, fit_multiclass_cbpe
    from monitor.metrics.estimation.inputs import class_column, class_scores, score_column

    mapping = class_scores(y_pred_proba)
    classes = sorted(mapping)
    labels = class_column(ref_frame, y_true, ref_name, classes)
    absent = [name for name in classes if name not in set(labels.tolist())]
    if absent:
        raise InputFileError(f"{ref_name}: column {y_true!r} never has class(es) {', '.join(map(repr, absent))}; "
                             "the reference needs every class to learn from")

    def scores(frame: pd.DataFrame, source: str) -> np.ndarray:
        return np.column_stack([score_column(frame, mapping[name], source) for name in classes])

    predicted = class_column(ref_frame, y_pred, ref_name, classes)
    fitted = fit_multiclass_cbpe(labels, scores(ref_frame, ref_name), predicted, classes,
                                 metrics=metrics or (*MULTICLASS_METRICS, "confusion_matrix"), chunk_size=chunk_size,
                                 chunks=chunks)
    analysis_labels = (class_column(analysis_frame, y_true, analysis_name, classes, allow_missing=True)
                       if y_true in analysis_frame.columns else None)
    return fitted.estimate(scores(analysis_frame, analysis_name),
                           class_column(analysis_frame, y_pred, analysis_name, classes), analysis_labels)


def _estimate_regression(ref_frame: pd.DataFrame, analysis_frame: pd.DataFrame, ref_name: str, analysis_name: str,
                         y_pred: str, y_true: str, features: list[str], metrics: list[str], chunk_size: int | None,
                         chunks: int | None) -> EstimationReport:
    from monitor.metrics.estimation.dle import DLE_METRICS, fit_dle
    from monitor.metrics.estimation.inputs import feature_columns, number_column

    truth = number_column(ref_frame, y_true, ref_name)
    number_column(ref_frame, y_pred, ref_name)
    number_column(analysis_frame, y_pred, analysis_name)
    if not features:
        shared = feature_columns(ref_frame.drop(columns=[y_true, y_pred]), analysis_frame.drop(
            columns=[column for column in (y_true, y_pred) if column in analysis_frame.columns]), [], ref_name,
            analysis_name)
        features = shared
    else:
        features = feature_columns(ref_frame, analysis_frame, features, ref_name, analysis_name)
    if "mape" in (metrics or DLE_METRICS) and bool((truth == 0).any()):
        raise InputFileError(f"{ref_name}: column {y_true!r} has zeros, so MAPE is undefined; leave mape out of "
                             "--metrics")
    fitted = fit_dle(ref_frame, features, y_pred, y_true, metrics=metrics or DLE_METRICS, chunk_size=chunk_size,
                     chunks=chunks)
    analysis_truth = (number_column(analysis_frame, y_true, analysis_name, allow_missing=True)
                      if y_true in analysis_frame.columns else None)
    return fitted.estimate(analysis_frame, analysis_truth)


@app.command()
def multivariate(
    reference: Annotated[Path, typer.Argument(help="Reference data (parquet or csv).")],
    analysis: Annotated[Path, typer.Argument(help="Data to check (parquet or csv).")],
    features: Annotated[str | None, typer.Option(help="Comma-separated features (default: every numeric, "
                                                       "string or boolean column in both files).")] = None,
    chunk_size: Annotated[int | None, typer.Option("--chunk-size", help="Rows per chunk.")] = None,
    chunks: Annotated[int | None, typer.Option("--chunks", help="Number of chunks (default 10).")] = None,
    method: Annotated[str, typer.Option(help="pca (reconstruction error) or classifier (domain classifier "
                                              "AUROC, slower).")] = "pca",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Multivariate drift of each chunk: PCA reconstruction error, or a domain classifier's AUROC.

    Exits 1 when a chunk leaves the thresholds, 0 when none does, 2 on bad input.
    """
    from monitor.jobs.data_files import read_data_file
    from monitor.metrics.estimation import fit_reconstruction
    from monitor.metrics.estimation.inputs import check_enough_rows, feature_columns

    if method not in ("pca", "classifier"):
        raise InputFileError(f"--method {method!r} is unknown; use pca or classifier")
    _chunking(chunk_size, chunks)
    ref_frame, analysis_frame = read_data_file(reference), read_data_file(analysis)
    ref_name, analysis_name = str(reference), str(analysis)
    check_enough_rows(len(ref_frame), ref_name, chunk_size=chunk_size, chunks=chunks)
    check_enough_rows(len(analysis_frame), analysis_name, chunk_size=chunk_size, chunks=chunks)
    columns = feature_columns(ref_frame, analysis_frame, _names(features), ref_name, analysis_name)
    if method == "classifier":
        from monitor.metrics.estimation.classifier import fit_domain_classifier

        classifier = fit_domain_classifier(ref_frame, columns, chunk_size=chunk_size, chunks=chunks)
        _finish(classifier.estimate(analysis_frame), as_json, "Multivariate drift (domain classifier AUROC)")
    fitted = fit_reconstruction(ref_frame, columns, chunk_size=chunk_size, chunks=chunks)
    _finish(fitted.estimate(analysis_frame), as_json, "Multivariate drift (PCA reconstruction error)")
