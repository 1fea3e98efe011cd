"""Vega-Lite chart specs of the dashboard: pure functions from frames to specs.

Specs are plain dicts with their DataFrames under ``datasets`` (drawn with
``st.vega_lite_chart``, which ships them to the browser as Arrow). Building them
by hand instead of with Altair keeps a page with eight charts well under a second:
Altair validates every spec against the JSON schema, which cost about 0.3 s a chart.

Every time axis and tooltip is UTC. Time series share the same overlays: a dashed
red line at the metric's threshold, vertical rules where alerts started, fired and
resolved, and a yellow band over the window an alert link points at.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeAlias

import pandas as pd

from dashboard.drift_strength import AT_THRESHOLD, KIND_NOTES, score_kind

__all__ = [
    "MARKER_COLOURS",
    "Spec",
    "alert_timeline_chart",
    "axis_format",
    "tick_step",
    "time_axis",
    "distribution_chart",
    "drift_heatmap_chart",
    "estimate_chart",
    "legend_columns",
    "time_series_chart",
]

Spec: TypeAlias = dict[str, Any]

MARKER_COLOURS = {"alert started": "#fb8c00", "alert fired": "#c62828", "alert resolved": "#2e7d32",
                  "concept drift": "#6a1b9a"}
SEVERITY_COLOURS = {"critical": "#c62828", "warning": "#fb8c00", "info": "#1e88e5"}
STRENGTH_DOMAIN = [0.0, 0.3, AT_THRESHOLD, 1.0]
STRENGTH_COLOURS = ["#e8f5e9", "#aed581", "#ffca28", "#b71c1c"]
SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
TICKS = 5  # y ticks a time series asks for; axis_format picks its precision for the same count
_UTC_MINUTES = "utcyearmonthdatehoursminutes"
# Room for a top legend: a half-width chart on a 1000 px wide window, past its y axis.
LEGEND_WIDTH = 250
_TIME_FORMAT = "%Y-%m-%d %H:%M"


# Tick steps of a time axis, finest first: (Vega time unit, step, seconds). Vega names the
# units "minutes" and "hours" (plural): "minute" is no unit to it and the chart stays blank.
_TIME_STEPS: tuple[tuple[str, int, int], ...] = (
    *(("minutes", n, 60 * n) for n in (1, 2, 5, 10, 15, 30)),
    *(("hours", n, 3600 * n) for n in (1, 2, 3, 6, 12)),
    *(("day", n, 86400 * n) for n in (1, 2, 7, 14)),
    *(("month", n, 30 * 86400 * n) for n in (1, 3, 6, 12)),
)
TIME_TICKS = 6  # at most this many time ticks: a half-width chart on a 1000 px window reads them all
_DAY = 86400


def time_axis(times: Iterable[datetime | pd.Timestamp | None], ticks: int = TIME_TICKS) -> Spec:
    """A time axis for ``times`` (UTC) with one label format and ticks a whole step apart.

    The step is the finest of 1, 2, 5, 10, 15, 30 minutes, 1, 2, 3, 6, 12 hours, 1, 2, 7,
    14 days or 1, 3, 6, 12 months that gives at most ``ticks`` ticks; never under a minute,
    as no window is shorter (sub-minute ticks read "12:05 12:05 12:05"). The format follows
    the span: ``%H:%M`` within one day, ``%b %d %H:%M`` across days, ``%b %d`` for day
    steps and ``%b %Y`` for month steps — never Vega's mix of "12:05" and "01 AM".

    >>> def axis(*stamps):
    ...     found = time_axis(pd.to_datetime(list(stamps), utc=True))
    ...     return found["format"], found["tickCount"]
    >>> axis("2026-01-15 12:03", "2026-01-15 12:07")
    ('%H:%M', {'interval': 'minutes', 'step': 1})
    >>> axis("2026-01-15 12:00", "2026-01-15 13:00")
    ('%H:%M', {'interval': 'minutes', 'step': 10})
    >>> axis("2026-01-14 12:00", "2026-01-15 12:00")
    ('%b %d %H:%M', {'interval': 'hours', 'step': 6})
    >>> axis("2026-01-01", "2026-01-31"), axis("2025-01-01", "2026-01-01")
    (('%b %d', {'interval': 'day', 'step': 7}), ('%b %Y', {'interval': 'month', 'step': 3}))
    >>> axis()
    ('%b %d %H:%M', {'interval': 'hours', 'step': 1})
    """
    stamps = [pd.Timestamp(t) for t in times if t is not None and not pd.isna(t)]
    stamps = [t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC") for t in stamps]
    if not stamps:
        return {"format": "%b %d %H:%M", "tickCount": {"interval": "hours", "step": 1}}
    low, high = min(stamps), max(stamps)
    span = (high - low).total_seconds()
    interval, step, seconds = next((s for s in _TIME_STEPS if span / s[2] <= ticks), _TIME_STEPS[-1])
    if seconds >= 30 * _DAY:
        time_format = "%b %Y"
    elif seconds >= _DAY:
        time_format = "%b %d"
    elif low.date() == high.date() and span < _DAY:
        time_format = "%H:%M"
    else:
        time_format = "%b %d %H:%M"
    return {"format": time_format, "tickCount": {"interval": interval, "step": step}}


def _time_x(field: str = "window_start", axis: Spec | None = None) -> Spec:
    """A UTC time x encoding; ``axis`` from :func:`time_axis` (a layer without one shares its chart's axis)."""
    return {"field": field, "type": "temporal", "scale": {"type": "utc", "nice": False},
            "axis": {"labelAngle": 0, "title": None, "labelOverlap": True, "labelFlush": True,
                     **(axis or time_axis([]))}}


def _time_tip(field: str, title: str) -> Spec:
    return {"field": field, "type": "temporal", "timeUnit": _UTC_MINUTES, "format": _TIME_FORMAT, "title": title}


def tick_step(low: float, high: float, ticks: int = TICKS) -> float:
    """The step between about ``ticks`` ticks on ``[low, high]``: 1, 2 or 5 × 10^k,
    as Vega (d3) picks it. A flat range gets a tenth of its magnitude.

    >>> tick_step(114.2, 114.66), tick_step(0, 0.0004), tick_step(500, 730), tick_step(114.0, 114.0)
    (0.1, 0.0001, 50.0, 10.0)
    """
    span = high - low
    if not math.isfinite(span) or span <= 0:
        magnitude = max(abs(low), abs(high)) if math.isfinite(low) and math.isfinite(high) else 0.0
        return 10.0 ** (math.floor(math.log10(magnitude)) - 1) if magnitude > 0 else 1.0
    raw = span / max(ticks, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    error = raw / power
    factor = 10 if error >= math.sqrt(50) else 5 if error >= math.sqrt(10) else 2 if error >= math.sqrt(2) else 1
    return float(round(factor * power, 12))


def axis_format(values: Iterable[float | None], *, percent: bool = False, zero: bool = False,
                ticks: int = TICKS) -> str:
    """A d3 format with the decimals the ticks of ``values`` need to differ.

    ``percent`` formats shares (0.0002 → 0.02%); ``zero`` puts zero in the range, as
    a zero-based axis does.

    >>> axis_format([114.2, 114.5, 114.66]), axis_format([500, 730])
    (',.1f', ',.0f')
    >>> axis_format([0.0002, 0.0004], percent=True, zero=True), axis_format([0.01, 0.05], percent=True, zero=True)
    ('.2%', '.0%')
    >>> axis_format([], percent=True), axis_format([0.85, 0.92])
    ('.1%', ',.2f')
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return ".1%" if percent else ",.2f"
    low, high = min(finite), max(finite)
    if zero:
        low, high = min(low, 0.0), max(high, 0.0)
    step = tick_step(low, high, ticks) * (100 if percent else 1)
    decimals = min(max(0, -math.floor(math.log10(step) + 1e-9)), 8)
    return f".{decimals}%" if percent else f",.{decimals}f"


def _finer(value_format: str) -> str:
    """One more decimal, for tooltips: ``,.1f`` → ``,.2f``."""
    head, _, tail = value_format.rpartition(".")
    digits = "".join(ch for ch in tail if ch.isdigit())
    if not digits:
        return value_format
    return f"{head}.{int(digits) + 1}{tail[len(digits):]}"


def _spec(datasets: dict[str, pd.DataFrame], **body: Any) -> Spec:
    return {"$schema": SCHEMA, "datasets": datasets, **body}


def legend_columns(labels: Iterable[str], width: int = LEGEND_WIDTH) -> int:
    """Columns of a top legend so every entry reads whole within ``width`` pixels:
    0 (one row) when the entries fit side by side, else as many as fit (at least 1).

    An entry is about 30 px (symbol, gaps) plus 6.5 px a character; Vega clips a
    legend wider than its chart instead of wrapping it.

    >>> legend_columns(["Positive rate", "Score mean"])
    0
    >>> legend_columns(["Latency p50", "Latency p95", "Latency p99"])
    2
    >>> legend_columns(["a very long series name indeed, longer than the chart", "b"])
    1
    """
    entries = [30 + 6.5 * len(label) for label in labels]
    if not entries or sum(entries) <= width:
        return 0
    return max(1, int(width // max(entries)))


def _top_legend(labels: Iterable[str]) -> Spec:
    return {"orient": "top", "columns": legend_columns(labels)}


def time_series_chart(
    frame: pd.DataFrame,
    *,
    y_title: str,
    value_format: str | None = None,
    threshold: float | None = None,
    markers: pd.DataFrame | None = None,
    highlight: tuple[datetime, datetime] | None = None,
    height: int = 220,
    counts: bool = False,
    percent: bool = False,
    zero: bool | None = None,
) -> Spec:
    """Lines of ``value`` over ``window_start``, one per ``series``, with the overlays.

    ``counts`` keeps the y axis on whole numbers from zero (no "1, 1, 2, 2" ticks);
    ``percent`` reads values as shares, on an axis from zero (so a move of 0.02% stays
    a small move). Without a ``value_format`` the ticks get the decimals they need to
    differ (see :func:`axis_format`); ``zero`` forces (or drops) zero in the range.
    """
    series_count = frame["series"].nunique() if "series" in frame else 1
    from_zero = (counts or percent) if zero is None else zero
    if value_format is None:
        scale_values = [*frame["value"], *([threshold] if threshold is not None else [])]
        value_format = ",.0f" if counts else axis_format(scale_values, percent=percent, zero=from_zero)
    tip_format = value_format if counts else _finer(value_format)
    datasets = {"series": frame[["window_start", "value", "series"]]}
    shown = [*frame["window_start"], *(highlight or ())]
    if markers is not None and not markers.empty:
        shown += list(markers["time"])
    axis = time_axis(shown)
    encoding = {
        "x": _time_x(axis=axis),
        "y": {"field": "value", "type": "quantitative", "title": y_title, "scale": {"zero": from_zero},
              "axis": {"format": value_format, "tickCount": TICKS, **({"tickMinStep": 1} if counts else {})}},
        "color": {"field": "series", "type": "nominal", "title": None,
                  "legend": _top_legend(frame["series"].unique()) if series_count > 1 else None},
        "tooltip": [_time_tip("window_start", "window (UTC)"), {"field": "series", "type": "nominal"},
                    {"field": "value", "type": "quantitative", "format": tip_format}],
    }
    layers: list[Spec] = []
    if highlight is not None:
        datasets["band"] = pd.DataFrame({"start": [highlight[0]], "end": [highlight[1]]})
        layers.append({"data": {"name": "band"}, "mark": {"type": "rect", "color": "#ffd54f", "opacity": 0.35},
                       "encoding": {"x": _time_x("start", axis), "x2": {"field": "end"}}})
    layers.append({"data": {"name": "series"}, "mark": {"type": "line", "strokeWidth": 2}, "encoding": encoding})
    layers.append({"data": {"name": "series"}, "mark": {"type": "circle", "size": 14, "opacity": 0.5},
                   "encoding": encoding})
    if threshold is not None:
        datasets["threshold"] = pd.DataFrame({"threshold": [threshold]})
        layers.append({"data": {"name": "threshold"}, "mark": {"type": "rule", "color": "#c62828",
                                                               "strokeDash": [6, 4]},
                       "encoding": {"y": {"field": "threshold", "type": "quantitative"},
                                    "tooltip": [{"field": "threshold", "type": "quantitative",
                                                 "format": tip_format}]}})
    if markers is not None and not markers.empty:
        # One layer per event with a fixed colour, so the series legend stays the only legend.
        for index, (event, colour) in enumerate(MARKER_COLOURS.items()):
            subset = markers[markers["event"] == event]
            if subset.empty:
                continue
            name = f"markers_{index}"
            datasets[name] = subset[["time", "event", "rule", "severity"]]
            layers.append({
                "data": {"name": name},
                "mark": {"type": "rule", "color": colour, "strokeWidth": 2, "opacity": 0.8},
                "encoding": {"x": _time_x("time", axis),
                             "tooltip": [{"field": "event", "type": "nominal"}, {"field": "rule", "type": "nominal"},
                                         {"field": "severity", "type": "nominal"}, _time_tip("time", "time (UTC)")]},
            })
    return _spec(datasets, layer=layers, height=height)


ESTIMATE_COLOURS = {"estimate": "#1e88e5", "realized": "#2e7d32"}


def _window_thresholds(frame: pd.DataFrame) -> pd.DataFrame:
    """Each window's learned thresholds (``lower_threshold`` / ``upper_threshold`` columns) as rows
    of (window_start, bound, threshold); a bound no window has is left out."""
    parts = [pd.DataFrame({"window_start": frame["window_start"], "bound": bound, "threshold": frame[column]})
             for column, bound in (("lower_threshold", "lower threshold"), ("upper_threshold", "upper threshold"))
             if column in frame]
    if not parts:
        return pd.DataFrame(columns=["window_start", "bound", "threshold"])
    rows = pd.concat(parts, ignore_index=True)
    rows["threshold"] = pd.to_numeric(rows["threshold"], errors="coerce")
    finite = rows["threshold"].map(lambda value: pd.notna(value) and math.isfinite(value))
    return rows[finite].reset_index(drop=True)


def estimate_chart(frame: pd.DataFrame, *, y_title: str, markers: pd.DataFrame | None = None,
                   highlight: tuple[datetime, datetime] | None = None, height: int = 220) -> Spec:
    """An estimate over ``window_start`` inside its shaded band (``lower_band`` ..
    ``upper_band``), the realized value as a second line where ``realized`` is known,
    and each window's learned thresholds (they follow its rows) as dashed red steps; with
    the usual overlays."""
    threshold_rows = _window_thresholds(frame)
    thresholds = list(threshold_rows["threshold"])
    lines = pd.concat([
        pd.DataFrame({"window_start": frame["window_start"], "value": frame["value"], "series": "estimate"}),
        pd.DataFrame({"window_start": frame["window_start"], "value": frame["realized"], "series": "realized"}),
    ], ignore_index=True).dropna(subset=["value"])
    value_format = axis_format([*lines["value"], *frame["lower_band"].dropna(), *frame["upper_band"].dropna(),
                                *thresholds])
    tip_format = _finer(value_format)
    # A plain line chart first: it carries the series, thresholds and alert overlays.
    spec = time_series_chart(lines, y_title=y_title, value_format=value_format, markers=markers,
                             highlight=highlight, height=height, zero=False)
    layers: list[Spec] = spec["layer"]
    colour = {"field": "series", "type": "nominal", "title": None, "legend": _top_legend(lines["series"].unique()),
              "scale": {"domain": [name for name in ESTIMATE_COLOURS if name in set(lines["series"])],
                        "range": [c for name, c in ESTIMATE_COLOURS.items() if name in set(lines["series"])]}}
    for layer in layers:
        if layer["data"]["name"] == "series":
            layer["encoding"] = {**layer["encoding"], "color": colour}
    bands = frame[["window_start", "lower_band", "upper_band"]].dropna()
    spec["datasets"]["estimate_band"] = bands
    first_line = next(i for i, layer in enumerate(layers) if layer["data"]["name"] == "series")
    layers.insert(first_line, {
        "data": {"name": "estimate_band"}, "mark": {"type": "area", "color": ESTIMATE_COLOURS["estimate"],
                                                     "opacity": 0.18},
        "encoding": {"x": layers[first_line]["encoding"]["x"],
                     "y": {"field": "lower_band", "type": "quantitative", "title": y_title,
                                           "scale": {"zero": False},
                                           "axis": {"format": value_format, "tickCount": TICKS}},
                     "y2": {"field": "upper_band"},
                     "tooltip": [_time_tip("window_start", "window (UTC)"),
                                 {"field": "lower_band", "type": "quantitative", "format": tip_format,
                                  "title": "band from"},
                                 {"field": "upper_band", "type": "quantitative", "format": tip_format,
                                  "title": "band to"}]},
    })
    if thresholds:
        spec["datasets"]["threshold"] = threshold_rows
        # Each window's value holds until the next window starts (the window it judges).
        layers.append({"data": {"name": "threshold"},
                       "mark": {"type": "line", "color": "#c62828", "strokeDash": [6, 4], "interpolate": "step-after",
                                "point": {"size": 12, "color": "#c62828"}},
                       "encoding": {"x": layers[first_line]["encoding"]["x"],
                                    "y": {"field": "threshold", "type": "quantitative"},
                                    "detail": {"field": "bound", "type": "nominal"},
                                    "tooltip": [_time_tip("window_start", "window (UTC)"),
                                                {"field": "bound", "type": "nominal"},
                                                {"field": "threshold", "type": "quantitative",
                                                 "format": tip_format}]}})
    return spec


def drift_heatmap_chart(frame: pd.DataFrame, feature_order: list[str]) -> Spec:
    """Feature × window cells coloured by drift strength (0.5 = at the threshold)."""
    data = frame.assign(score_text=frame["score"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.4g}"))
    drifted = data["drifted"].map(lambda d: "yes" if d is not None and pd.notna(d) and bool(d) else "no")
    kind = data["method"].map(lambda m: KIND_NOTES[score_kind(m)] if isinstance(m, str) and m else "")
    data = data[["window_start", "window_end", "feature", "method", "score_text", "threshold", "strength"]].assign(
        drifted=drifted, kind=kind)
    return _spec(
        {"cells": data},
        data={"name": "cells"},
        mark={"type": "rect", "stroke": "white", "strokeWidth": 0.5},
        encoding={
            "x": _time_x(axis=time_axis([*frame["window_start"], *frame["window_end"]])),
            "x2": {"field": "window_end"},
            "y": {"field": "feature", "type": "nominal", "sort": feature_order, "title": None,
                  "axis": {"labelOverlap": False, "labelLimit": 220}},
            "color": {"field": "strength", "type": "quantitative", "title": "drift strength",
                      "scale": {"domain": STRENGTH_DOMAIN, "range": STRENGTH_COLOURS, "clamp": True},
                      "legend": {"orient": "right", "values": [0, 0.25, 0.5, 0.75, 1]}},
            "tooltip": [
                {"field": "feature", "type": "nominal"}, _time_tip("window_start", "window (UTC)"),
                {"field": "method", "type": "nominal"}, {"field": "score_text", "type": "nominal", "title": "score"},
                {"field": "kind", "type": "nominal", "title": "score is"},
                {"field": "threshold", "type": "quantitative", "format": ".4g"},
                {"field": "strength", "type": "quantitative", "format": ".2f"},
                {"field": "drifted", "type": "nominal"},
            ],
        },
        height={"step": 24},
    )


def distribution_chart(frame: pd.DataFrame, kind: str) -> Spec:
    """Reference and current overlaid: a shared-bin histogram (numeric) or grouped bars."""
    colour = {"field": "sample", "type": "nominal", "title": None, "legend": {"orient": "top"},
              "scale": {"domain": ["reference", "current"], "range": ["#90a4ae", "#e53935"]}}
    share = {"field": "share", "type": "quantitative", "title": "share of sample", "axis": {"format": "%"},
             "stack": None}
    tip_share = {"field": "share", "type": "quantitative", "format": ".1%"}
    if kind == "numeric":
        return _spec(
            {"bins": frame}, data={"name": "bins"}, height=260,
            mark={"type": "bar", "opacity": 0.55, "binSpacing": 0},
            encoding={"x": {"field": "bin_start", "type": "quantitative", "title": "value"},
                      "x2": {"field": "bin_end"}, "y": share, "y2": {"datum": 0}, "color": colour,
                      "tooltip": [{"field": "sample", "type": "nominal"},
                                  {"field": "bin_start", "type": "quantitative", "format": ".3g", "title": "from"},
                                  {"field": "bin_end", "type": "quantitative", "format": ".3g", "title": "to"},
                                  tip_share, {"field": "count", "type": "quantitative"}]},
        )
    return _spec(
        {"categories": frame}, data={"name": "categories"}, height=260, mark={"type": "bar"},
        encoding={"x": {"field": "category", "type": "nominal", "title": None, "axis": {"labelAngle": 0}},
                  "xOffset": {"field": "sample", "sort": ["reference", "current"]}, "y": share, "color": colour,
                  "tooltip": [{"field": "sample", "type": "nominal"}, {"field": "category", "type": "nominal"},
                              tip_share, {"field": "count", "type": "quantitative"}]},
    )


def alert_timeline_chart(alerts: pd.DataFrame, now: datetime) -> Spec:
    """One bar per alert from its first breach to its resolution (or now)."""
    data = pd.DataFrame({
        "label": alerts["model"] + " · " + alerts["rule"],
        "rule": alerts["rule"], "model": alerts["model"], "feature": alerts["feature"], "state": alerts["state"],
        "severity": alerts["severity"], "started_at": alerts["started_at"], "resolved_at": alerts["resolved_at"],
        "end": alerts["resolved_at"].fillna(pd.Timestamp(now)),
    })
    return _spec(
        {"alerts": data}, data={"name": "alerts"}, height={"step": 26},
        mark={"type": "bar", "cornerRadius": 3, "height": 14},
        encoding={
            "x": _time_x("started_at", time_axis([*data["started_at"], *data["end"]])),
            "x2": {"field": "end"},
            "y": {"field": "label", "type": "nominal", "title": None,
                  "axis": {"labelLimit": 360, "labelOverlap": False}},
            "color": {"field": "severity", "type": "nominal", "legend": {"orient": "top"},
                      "scale": {"domain": list(SEVERITY_COLOURS), "range": list(SEVERITY_COLOURS.values())}},
            "opacity": {"condition": {"test": "datum.state === 'resolved'", "value": 0.45}, "value": 1.0},
            "tooltip": [{"field": "rule", "type": "nominal"}, {"field": "model", "type": "nominal"},
                        {"field": "feature", "type": "nominal"}, {"field": "state", "type": "nominal"},
                        {"field": "severity", "type": "nominal"}, _time_tip("started_at", "first breach (UTC)"),
                        _time_tip("resolved_at", "resolved (UTC)")],
        },
    )
