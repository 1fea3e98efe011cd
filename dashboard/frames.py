"""Chart and table frames: pure reshaping of query results for the pages.

Nothing here reads the store or calls Streamlit; every function takes DataFrames
(as returned by :mod:`dashboard.queries`) and returns a DataFrame or plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from dashboard.drift_strength import strength_series

__all__ = [
    "MODEL_COLUMNS",
    "active_silence",
    "alert_markers",
    "current_models",
    "default_model",
    "drift_heatmap",
    "flagged_windows",
    "latest_threshold",
    "metric_frame",
    "rank_features",
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

    Columns: feature, method, score, threshold, strength, drifted (newest window),
    windows_drifted, windows, max_strength.
    """
    columns = ["feature", "method", "score", "threshold", "strength", "drifted", "windows_drifted", "windows",
               "max_strength"]
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


def default_model(models: Sequence[str], alerts: pd.DataFrame) -> str | None:
    """The model an on-call engineer most likely came for: the one with the most
    severe open alert (firing before pending, critical before warning), else the first.

    >>> alerts = pd.DataFrame({"model": ["a", "b"], "state": ["pending", "firing"], "severity": ["critical", "info"]})
    >>> default_model(["a", "b", "c"], alerts)
    'b'
    """
    if not len(models):
        return None
    if alerts.empty:
        return models[0]
    open_ = alerts[alerts["state"].isin(["firing", "pending"]) & alerts["model"].isin(models)]
    if open_.empty:
        return models[0]
    rank = (open_["state"] != "firing").astype(int) * 10 + open_["severity"].map(
        {"critical": 0, "warning": 1, "info": 2}).fillna(3)
    return str(open_.assign(rank=rank).sort_values(["rank", "model"])["model"].iloc[0])
