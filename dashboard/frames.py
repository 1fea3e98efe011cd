"""Chart and table frames: pure reshaping of query results for the pages.

Nothing here reads the store or calls Streamlit; every function takes DataFrames
(as returned by :mod:`dashboard.queries`) and returns a DataFrame or plain values.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import pandas as pd

from dashboard.drift_strength import strength_series
from dashboard.health import Health

__all__ = [
    "MODEL_COLUMNS",
    "confusion_matrix",
    "active_silence",
    "alert_markers",
    "current_models",
    "default_model",
    "drift_verdict",
    "drift_heatmap",
    "flagged_windows",
    "group_reasons",
    "headline_metric",
    "latest_threshold",
    "metric_frame",
    "rank_features",
    "reason_kind",
    "sparkline",
    "wide_latest",
]

MODEL_COLUMNS = ["model", "version", "versions", "last_window", "last_window_end", "last_complete_window"]


def current_models(windows: pd.DataFrame) -> pd.DataFrame:
    """One row per model: its current version (the one with the newest window), all
    versions, the newest window and the newest *complete* window.

    ``windows`` is :func:`dashboard.queries.model_windows`.
    """
    if windows.empty:
        return pd.DataFrame(columns=MODEL_COLUMNS)
    rows = []
    for model, group in windows.groupby("model", sort=True):
        newest = group.sort_values(["last_window", "model_version"]).iloc[-1]
        rows.append(
            {
                "model": model,
                "version": newest["model_version"],
                "versions": tuple(group.sort_values("last_window")["model_version"]),
                "last_window": group["last_window"].max(),
                "last_window_end": group["last_window_end"].max(),
                "last_complete_window": group["last_complete_window"].max(),
            }
        )
    return pd.DataFrame(rows, columns=MODEL_COLUMNS)


def wide_latest(points: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Model-level values of one window per model: index model, one column per metric.

    Several versions in the same window (a canary) are averaged, except
    ``prediction_count`` which adds up.
    """
    model_level = points[points["feature"].isna() & points["metric"].isin(metrics)]
    if model_level.empty:
        return pd.DataFrame(columns=list(metrics))
    table = model_level.pivot_table(index="model", columns="metric", values="value", aggfunc="mean")
    if "prediction_count" in table.columns:
        counts = model_level[model_level["metric"] == "prediction_count"].groupby("model")["value"].sum()
        table["prediction_count"] = counts
    return table.reindex(columns=list(metrics))


def sparkline(series: pd.DataFrame, model: str, version: str, metric: str, limit: int = 48) -> list[float]:
    """The last ``limit`` complete-window values of one metric, oldest first (NaN dropped)."""
    rows = series[
        (series["model"] == model)
        & (series["model_version"] == version)
        & (series["metric"] == metric)
        & series["feature"].isna()
        & series["is_partial"].ne(True)
    ].sort_values("window_start")
    return [float(v) for v in rows["value"].dropna().tail(limit)]


def active_silence(alerts: pd.DataFrame, silences: pd.DataFrame, now: datetime) -> pd.Series:
    """For each alert, the comment of a silence covering it now (None if none does).

    A silence covers an alert when its rule matches and its model and feature are
    empty or equal to the alert's, and ``starts_at <= now < ends_at``.
    """
    result = pd.Series([None] * len(alerts), index=alerts.index, dtype=object)
    if alerts.empty or silences.empty:
        return result
    active = silences[(silences["starts_at"] <= now) & (silences["ends_at"] > now)]
    for silence in active.itertuples():
        match = alerts["rule"] == silence.rule
        if silence.model is not None and not pd.isna(silence.model):
            match &= alerts["model"] == silence.model
        if silence.feature is not None and not pd.isna(silence.feature):
            match &= alerts["feature"] == silence.feature
        result[match & result.isna()] = str(silence.comment)
    return result


def alert_markers(alerts: pd.DataFrame, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    """Alert start / fire / resolve instants inside ``[start, end]`` for chart rules."""
    columns = ["time", "event", "rule", "severity"]
    if alerts.empty:
        return pd.DataFrame(columns=columns)
    parts = []
    for column, event in (("started_at", "alert started"), ("fired_at", "alert fired"),
                          ("resolved_at", "alert resolved")):
        part = alerts[["rule", "severity", column]].dropna(subset=[column]).rename(columns={column: "time"})
        part["event"] = event
        parts.append(part)
    markers = pd.concat(parts, ignore_index=True)
    if start is not None:
        markers = markers[markers["time"] >= pd.Timestamp(start)]
    if end is not None:
        markers = markers[markers["time"] <= pd.Timestamp(end)]
    return markers[columns].sort_values("time").reset_index(drop=True)


def drift_heatmap(scores: pd.DataFrame) -> pd.DataFrame:
    """:func:`dashboard.queries.drift_scores` plus the method-normalised ``strength``."""
    frame = scores.copy()
    frame["strength"] = strength_series(frame["score"], frame["threshold"], frame["method"]) if len(frame) else []
    return frame


def rank_features(heatmap: pd.DataFrame) -> pd.DataFrame:
    """Features, most drifting first: by the newest window's strength, then by how
    many windows of the range drifted.

    Columns: feature, method, score, threshold, threshold_source ("reference" when learned,
    else "fixed"), strength, drifted (newest window), windows_drifted, windows, max_strength.
    """
    columns = ["feature", "method", "score", "threshold", "threshold_source", "strength", "drifted",
               "windows_drifted", "windows", "max_strength"]
    complete = heatmap[heatmap["is_partial"].ne(True)] if len(heatmap) else heatmap
    if complete.empty:
        return pd.DataFrame(columns=columns)
    ordered = complete.sort_values("window_start")
    latest = ordered.groupby("feature").tail(1).set_index("feature")
    stats = ordered.groupby("feature").agg(
        windows_drifted=("drifted", lambda s: int(s.eq(True).sum())),
        windows=("window_start", "count"),
        max_strength=("strength", "max"),
    )
    table = latest[["method", "score", "threshold", "strength", "drifted"]].join(stats)
    table["drifted"] = table["drifted"].eq(True)
    # "reference": the newest window's threshold was learned from the reference (threshold: reference).
    table["threshold_source"] = (latest["threshold_source"].fillna("fixed") if "threshold_source" in latest.columns
                                 else "fixed")
    table = table.reset_index().sort_values(
        ["strength", "windows_drifted", "feature"], ascending=[False, False, True], na_position="last"
    )
    return table[columns].reset_index(drop=True)


def metric_frame(series: pd.DataFrame, metrics: Sequence[str], *, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Complete-window rows of ``metrics`` as (window_start, window_end, value, series).

    ``series`` names the line: the metric's label, or the class for ``class_share``.
    """
    rows = series[series["metric"].isin(metrics) & series["is_partial"].ne(True)]
    rows = rows.dropna(subset=["value"])
    names = labels or {}
    label = [
        str(feature) if metric == "class_share" and isinstance(feature, str) else names.get(metric, metric)
        for metric, feature in zip(rows["metric"], rows["feature"], strict=True)
    ]
    frame = pd.DataFrame(
        {"window_start": rows["window_start"], "window_end": rows["window_end"], "value": rows["value"].astype(float),
         "series": label}
    )
    return frame.sort_values(["series", "window_start"]).reset_index(drop=True)


def latest_threshold(series: pd.DataFrame, metric: str) -> float | None:
    """The threshold of the newest row of ``metric`` that has one."""
    rows = series[(series["metric"] == metric) & series["threshold"].notna()]
    if rows.empty:
        return None
    return float(rows.sort_values("window_start")["threshold"].iloc[-1])


def flagged_windows(series: pd.DataFrame, metric: str, event: str) -> pd.DataFrame:
    """Complete windows where a 0/1 ``metric`` is 1, as chart markers (time, event, rule, severity)."""
    rows = series[(series["metric"] == metric) & (series["value"] >= 1) & series["is_partial"].ne(True)]
    return pd.DataFrame({"time": rows["window_start"], "event": event, "rule": metric, "severity": ""}).reset_index(
        drop=True
    )


def default_model(models: Sequence[str], alerts: pd.DataFrame,
                  health: Mapping[str, Health] | None = None) -> str | None:
    """The model an on-call engineer most likely came for: the worst health (red,
    then amber), then the most severe open alert (firing before pending, critical
    before warning), then the name.

    >>> alerts = pd.DataFrame({"model": ["a", "b"], "state": ["pending", "firing"], "severity": ["critical", "info"]})
    >>> default_model(["a", "b", "c"], alerts)
    'b'
    >>> default_model(["a", "b", "c"], alerts, {"a": Health.AMBER, "b": Health.GREEN, "c": Health.RED})
    'c'
    """
    if not len(models):
        return None
    open_ = (alerts[alerts["state"].isin(["firing", "pending"]) & alerts["model"].isin(models)]
             if not alerts.empty else pd.DataFrame(columns=["model", "state", "severity"]))
    alert_rank = ((open_["state"] != "firing").astype(int) * 10 + open_["severity"].map(
        {"critical": 0, "warning": 1, "info": 2}).fillna(3)).groupby(open_["model"]).min()
    colour_rank = {Health.RED: 0, Health.AMBER: 1, Health.GREEN: 2}
    return min(models, key=lambda model: (colour_rank.get((health or {}).get(model, Health.GREEN), 2),
                                          float(alert_rank.get(model, 99)), str(model)))


# Metrics that tell a model's task when its performance metrics are missing.
_REGRESSION_HINTS = ("mae", "rmse", "mape", "r2", "prediction_mean")


def headline_metric(metrics: Collection[str]) -> str:
    """The performance metric a model is judged by: accuracy for classifiers, MAE
    for regression (told by the metrics it has).

    >>> headline_metric({"prediction_mean", "mae", "rmse"}), headline_metric({"positive_rate", "accuracy"})
    ('mae', 'accuracy')
    >>> headline_metric({"prediction_mean"}), headline_metric(set())
    ('mae', 'accuracy')
    """
    if "accuracy" in metrics:
        return "accuracy"
    if "mae" not in metrics and "rmse" in metrics:
        return "rmse"
    return "mae" if any(hint in metrics for hint in _REGRESSION_HINTS) else "accuracy"


# Positions inside a reason: JSON parse errors (" at line 1 column 5 (char 4)"), bytes.
_POSITIONS = re.compile(r":? (?:at )?line \d+ column \d+(?: \(char \d+\))?| \(char \d+\)| \(byte \d+[^)]*\)")


def reason_kind(reason: str) -> str:
    """A dead letter's reason without the positions in it, to group by.

    >>> reason_kind("not valid JSON: Expecting value at line 1 column 41 (char 40)")
    'not valid JSON: Expecting value'
    >>> reason_kind("not valid JSON: Unterminated string starting at line 3 column 2")
    'not valid JSON: Unterminated string starting'
    >>> reason_kind("message is not UTF-8 (byte 12: b'\\xff'); encode JSON as UTF-8")
    'message is not UTF-8; encode JSON as UTF-8'
    """
    return _POSITIONS.sub("", reason).strip()


def group_reasons(reasons: pd.DataFrame) -> pd.DataFrame:
    """Dead-letter counts per (reason kind, topic), most first.

    ``reasons`` is :func:`dashboard.queries.dead_letter_reasons` (one row per exact
    reason and topic). Columns: reason (the kind), topic, count, variants (distinct
    full reasons), example (the newest full reason), last_seen, first_seen.
    """
    columns = ["reason", "topic", "count", "variants", "example", "last_seen", "first_seen"]
    if reasons.empty:
        return pd.DataFrame(columns=columns)
    frame = reasons.assign(kind=reasons["reason"].astype(str).map(reason_kind)).sort_values("last_seen")
    grouped = frame.groupby(["kind", "topic"], sort=False, dropna=False).agg(
        count=("count", "sum"), variants=("reason", "nunique"), example=("reason", "last"),
        last_seen=("last_seen", "max"), first_seen=("first_seen", "min"))
    grouped = grouped.reset_index().rename(columns={"kind": "reason"})
    grouped["count"] = grouped["count"].astype(int)
    return grouped.sort_values(["count", "last_seen"], ascending=[False, False])[columns].reset_index(drop=True)


def drift_verdict(share: float | None, setting: float | None, drifted: bool | None) -> str:
    """Why the dataset-drift verdict is what it is: the share of drifting features
    against the model's ``drift_share`` setting.

    >>> drift_verdict(0.4, 0.5, False)
    "no: 40% of the features drift, under this model's drift_share setting of 50%"
    >>> drift_verdict(0.5, 0.5, True)
    "yes: 50% of the features drift, at or over this model's drift_share setting of 50%"
    >>> drift_verdict(None, None, None)
    'unknown: no dataset drift share in the newest complete window'
    """
    if share is None or pd.isna(share):
        return "unknown: no dataset drift share in the newest complete window"
    word = "yes" if drifted else "no"
    if setting is None or pd.isna(setting):
        return f"{word}: {share:.0%} of the features drift"
    side = "at or over" if drifted else "under"
    return f"{word}: {share:.0%} of the features drift, {side} this model's drift_share setting of {setting:.0%}"


# The binary cells' (true, predicted) classes; the table reads positive first, as NannyML's.
_BINARY_CELLS = {"estimated_true_positive": ("positive", "positive"),
                 "estimated_false_negative": ("positive", "negative"),
                 "estimated_false_positive": ("negative", "positive"),
                 "estimated_true_negative": ("negative", "negative")}


def confusion_matrix(cells: pd.DataFrame, values: pd.Series) -> pd.DataFrame:
    """``values`` (one per row of ``cells``, as :func:`dashboard.queries.confusion_cells` returns them)
    laid out as a confusion matrix: a row per true class, a column per predicted class.

    >>> cells = pd.DataFrame({"metric": ["estimated_confusion_cell"] * 4, "true_class": ["a", "a", "b", "b"],
    ...                       "predicted_class": ["a", "b", "a", "b"]})
    >>> confusion_matrix(cells, pd.Series([5, 1, 2, 7]))
    predicted → predicted a predicted b
    true ↓
    true a                5           1
    true b                2           7
    >>> binary = pd.DataFrame({"metric": ["estimated_false_negative", "estimated_true_positive"],
    ...                        "true_class": [None, None], "predicted_class": [None, None]})
    >>> list(confusion_matrix(binary, pd.Series(["3", "9"])).loc["true positive"])
    ['9', '3']
    """
    binary = cells["metric"].map(_BINARY_CELLS)
    true = [pair[0] if isinstance(pair, tuple) else name for pair, name in zip(binary, cells["true_class"],
                                                                              strict=True)]
    predicted = [pair[1] if isinstance(pair, tuple) else name for pair, name in zip(binary, cells["predicted_class"],
                                                                                   strict=True)]
    order = (["positive", "negative"] if binary.notna().all()
             else sorted({str(name) for name in (*true, *predicted)}))
    long = pd.DataFrame({"true": true, "predicted": predicted, "value": list(values)})
    table = long.pivot(index="true", columns="predicted", values="value")
    present = [name for name in order if name in table.index or name in table.columns]
    table = table.reindex(index=present, columns=present)
    table.index = pd.Index([f"true {name}" for name in present], name="true ↓")
    table.columns = pd.Index([f"predicted {name}" for name in present], name="predicted →")
    return table
