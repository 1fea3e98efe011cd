"""How numbers and times read on the dashboard: units, percentages, UTC, ages."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from datetime import datetime

import pandas as pd

from dashboard.drift_strength import KIND_NOTES, ScoreKind

__all__ = ["METRIC_LABELS", "blank_missing", "breach_mark", "cell_style", "format_age", "format_time", "format_value",
           "threshold_text",
           "is_share", "markdown_safe", "metric_label", "score_label"]

METRIC_LABELS: dict[str, str] = {
    "prediction_count": "Predictions",
    "latency_p50_ms": "Latency p50",
    "latency_p95_ms": "Latency p95",
    "latency_p99_ms": "Latency p99",
    "latency_mean_ms": "Latency mean",
    "latency_max_ms": "Latency max",
    "error_rate": "Error rate",
    "missing_share": "Missing",
    "out_of_range_share": "Out of range",
    "unseen_category_share": "Unseen category",
    "type_mismatch_share": "Type mismatch",
    "dead_letter_count": "Dead letters",
    "feature_drift_score": "Drift score",
    "feature_drift": "Drifted",
    "dataset_drift_share": "Drift share",
    "dataset_drift": "Dataset drift",
    "prediction_drift_score": "Prediction drift",
    "positive_rate": "Positive rate",
    "class_share": "Class share",
    "prediction_mean": "Prediction mean",
    "score_mean": "Score mean",
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "mae": "MAE",
    "mse": "MSE",
    "rmse": "RMSE",
    "mape": "MAPE",
    "r2": "R²",
    "specificity": "Specificity",
    "label_count": "Labels",
    "label_coverage": "Label coverage",
    "label_drift_score": "Label drift",
    "performance_drop": "Performance drop",
    "concept_drift": "Concept drift",
    "multivariate_drift": "Multivariate drift",
    "true_positive": "True positives",
    "true_negative": "True negatives",
    "false_positive": "False positives",
    "false_negative": "False negatives",
    "confusion_cell": "Confusion cell",
}
_SHARES = {"error_rate", "missing_share", "out_of_range_share", "unseen_category_share", "type_mismatch_share",
           "dataset_drift_share", "positive_rate", "class_share", "label_coverage"}
_COUNTS = {"prediction_count", "label_count", "dead_letter_count"}


def metric_label(metric: str) -> str:
    """>>> metric_label("latency_p95_ms"), metric_label("my_custom_metric"), metric_label("estimated_roc_auc")
    ('Latency p95', 'my_custom_metric', 'ROC AUC (estimated)')
    """
    if metric.startswith("estimated_") and metric not in METRIC_LABELS:
        return f"{metric_label(metric.removeprefix('estimated_'))} (estimated)"
    return METRIC_LABELS.get(metric, metric)


def score_label(metric: str, kind: ScoreKind | None) -> str:
    """A drift score's label saying what its number is.

    >>> score_label("label_drift_score", "p_value"), score_label("accuracy", None)
    ('Label drift (p-value, lower = drift)', 'Accuracy')
    """
    return metric_label(metric) + (f" ({KIND_NOTES[kind]})" if kind is not None else "")


def is_share(metric: str) -> bool:
    return metric in _SHARES


def format_value(metric: str, value: float | None) -> str:
    """A metric value with its unit.

    >>> format_value("error_rate", 0.0123), format_value("latency_p95_ms", 312.4)
    ('1.23%', '312 ms')
    >>> format_value("prediction_count", 1234.0), format_value("accuracy", 0.9171), format_value("f1", None)
    ('1,234', '0.917', '—')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if metric in _SHARES:
        return f"{value:.2%}"
    if metric.endswith("_ms"):
        return f"{value:,.0f} ms"
    if metric in _COUNTS:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_time(value: datetime | pd.Timestamp | None) -> str:
    """>>> format_time(pd.Timestamp("2026-01-15T10:00Z"))
    '2026-01-15 10:00 UTC'
    """
    if value is None or pd.isna(value):
        return "—"
    return str(pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC"))


def format_age(value: datetime | pd.Timestamp | None, now: datetime) -> str:
    """How long ago, roughly.

    >>> now = pd.Timestamp("2026-01-15T12:00Z").to_pydatetime()
    >>> format_age(pd.Timestamp("2026-01-15T11:58Z"), now), format_age(pd.Timestamp("2026-01-15T09:00Z"), now)
    ('2 min ago', '3 h ago')
    >>> format_age(pd.Timestamp("2026-01-10T12:00Z"), now)
    '5 days ago'
    """
    if value is None or pd.isna(value):
        return "never"
    seconds = (pd.Timestamp(now) - pd.Timestamp(value)).total_seconds()
    if seconds < 0:
        return "in the future"
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{round(seconds / 60)} min ago"
    if seconds < 2 * 86400:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} days ago"


def _known(value: object) -> bool:
    return value is not None and not pd.isna(value)


def threshold_text(metric: str, value: float | None, threshold: float | None, lower: float | None = None,
                   upper: float | None = None) -> str:
    """The threshold cell of a window's metric: for a metric with learned lower and upper
    thresholds (estimated performance, multivariate drift) the one its value crossed,
    else both as a range; otherwise its one threshold.

    >>> threshold_text("estimated_specificity", 0.70, 0.95, 0.80, 0.95)
    'lower 0.8'
    >>> threshold_text("estimated_specificity", 0.97, 0.95, 0.80, 0.95)
    'upper 0.95'
    >>> threshold_text("multivariate_drift", 1.1, 1.25, 0.75, 1.25)
    '0.75 – 1.25'
    >>> threshold_text("estimated_accuracy", 0.9, 0.84, 0.84, None), threshold_text("error_rate", 0.1, 0.05)
    ('lower 0.84', '5.00%')
    >>> threshold_text("accuracy", 0.9, None)
    ''
    """
    if _known(lower) or _known(upper):
        crossed_lower = _known(value) and _known(lower) and value < lower  # type: ignore[operator]
        crossed_upper = _known(value) and _known(upper) and value > upper  # type: ignore[operator]
        if crossed_lower or not _known(upper):
            return f"lower {format_value(metric, lower)}"
        if crossed_upper or not _known(lower):
            return f"upper {format_value(metric, upper)}"
        return f"{format_value(metric, lower)} – {format_value(metric, upper)}"
    return format_value(metric, threshold) if _known(threshold) else ""


def breach_mark(value: object) -> str:
    """The table cell of an ``is_breach`` value (True, False, None, numpy bool).

    >>> breach_mark(True), breach_mark(None), breach_mark(False)
    ('yes', '', '')
    """
    return "yes" if value is not None and not pd.isna(value) and bool(value) else ""


_CELL_COLOURS = {
    "red": ("#ffebee", "#b71c1c"),
    "critical": ("#ffebee", "#b71c1c"),
    "firing": ("#ffebee", "#b71c1c"),
    "failed": ("#ffebee", "#b71c1c"),
    "yes": ("#ffebee", "#b71c1c"),
    "amber": ("#fff3e0", "#e65100"),
    "warning": ("#fff3e0", "#e65100"),
    "pending": ("#fff3e0", "#e65100"),
    "green": ("#e8f5e9", "#1b5e20"),
    "delivered": ("#e8f5e9", "#1b5e20"),
    "resolved": ("#e8f5e9", "#1b5e20"),
    "info": ("#e3f2fd", "#0d47a1"),
    "silenced": ("#eceff1", "#455a64"),
}


def cell_style(value: object) -> str:
    """CSS for a status word in a table cell (health, severity, state, delivery, breach).

    Colours instead of emoji: they read at a glance and need no emoji font.

    >>> cell_style("critical")
    'background-color: #ffebee; color: #b71c1c; font-weight: 600'
    >>> cell_style("firing (silenced)"), cell_style(3.5)
    ('background-color: #eceff1; color: #455a64; font-weight: 600', '')
    """
    if not isinstance(value, str) or not value:
        return ""
    word = "silenced" if "silenced" in value else value.split()[0].lower()
    colours = _CELL_COLOURS.get(word)
    return "" if colours is None else f"background-color: {colours[0]}; color: {colours[1]}; font-weight: 600"


TABLE_TIME = "%Y-%m-%d %H:%M"


def blank_missing(frame: pd.DataFrame, *, numbers: Mapping[str, str] | None = None,
                  time_format: str = TABLE_TIME) -> pd.DataFrame:
    """A table ready for ``st.dataframe`` without the grid's literal "None" cells.

    The data grid draws every missing value as "None". Text and time columns with a
    gap become text with a blank cell (times as ``time_format``, UTC); number columns
    named in ``numbers`` (column → ``str.format`` pattern) become text with "—".

    >>> table = pd.DataFrame({"rule": ["r", None], "fired": pd.to_datetime(["2026-01-15 10:00", None], utc=True),
    ...                       "value": [0.5, None]})
    >>> blank_missing(table, numbers={"value": "{:.4g}"}).to_dict("list")
    {'rule': ['r', ''], 'fired': ['2026-01-15 10:00', ''], 'value': ['0.5', '—']}
    """
    result = frame.copy()
    for column in result.columns:
        values = result[column]
        if column in (numbers or {}):
            pattern = (numbers or {})[column]
            result[column] = [("—" if v is None or pd.isna(v) else pattern.format(v)) for v in values]
        elif pd.api.types.is_datetime64_any_dtype(values):
            times = values.dt.tz_convert("UTC") if values.dt.tz is not None else values
            result[column] = [("" if pd.isna(v) else v.strftime(time_format)) for v in times]
        elif values.dtype == object and values.isna().any():
            result[column] = ["" if v is None or (not isinstance(v, str | bool | tuple | list | dict) and pd.isna(v))
                              else v for v in values]
    return result


# What makes Markdown read a cell as a block: a quote, a heading, a list item.
_BLOCK_START = re.compile(r"^(?:>|(?:#{1,6}|[-+*])(?=\s|$)|\d{1,9}[.)](?=\s|$))")


def _escape_block(text: str) -> str:
    match = _BLOCK_START.match(text)
    if match is None:
        return text
    end = match.end()
    return text[:end - 1] + "\\" + text[end - 1:]  # escape the marker's last character (punctuation)


def markdown_safe(frame: pd.DataFrame, *, markdown: Collection[str] = ()) -> pd.DataFrame:
    """Text cells of a ``st.table`` (which reads cells as Markdown) that read as typed:
    a condition "> 0.3" is not a quote, "- x" not a list item. ``markdown`` columns
    (links) are left as they are.

    >>> cells = markdown_safe(pd.DataFrame({"c": ["> 0.3", "- x", "1. y", "0.00%", "-0.5", "a > b"]}))
    >>> [len(c) for c in cells["c"]], list(cells["c"][3:])
    ([6, 4, 5, 5, 4, 5], ['0.00%', '-0.5', 'a > b'])
    """
    result = frame.copy()
    for column in result.columns:
        if column in markdown or result[column].dtype != object:
            continue
        result[column] = [_escape_block(v) if isinstance(v, str) else v for v in result[column]]
    return result
