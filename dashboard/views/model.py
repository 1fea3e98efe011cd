"""Model page (``/model?model=M&version=V&window=ISO``): one model's vitals over time.

Alert notifications link here; the ``window`` parameter selects the range around
that window and highlights it on every chart.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.charts import estimate_chart, time_series_chart
from dashboard.controls import (
    deep_link,
    health_banner,
    keep_link,
    models_or_stop,
    now_utc,
    pick_scope,
    show_error,
    store_url_or_stop,
)
from dashboard.drift_strength import score_kind_of
from dashboard.formatting import (
    METRIC_LABELS,
    blank_missing,
    breach_mark,
    cell_style,
    format_age,
    format_time,
    format_value,
    markdown_safe,
    metric_label,
    score_label,
    threshold_text,
)
from dashboard.frames import (
    alert_markers,
    confusion_matrix,
    flagged_windows,
    headline_metric,
    latest_threshold,
    metric_frame,
)
from dashboard.health import assess_models
from dashboard.segments import pick_segment
from dashboard.settings import AUTO_REFRESH
from dashboard.time_ranges import AROUND_WINDOW, TimeRange, parse_window, resolve_range
from monitor.errors import DriftwatchError
from monitor.metrics.names import ESTIMATED_CELL_METRICS, ESTIMATED_METRICS

OUTPUT = ("positive_rate", "class_share", "prediction_mean", "score_mean")
PERFORMANCE = ("accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse", "mape", "r2")
METRICS = (
    "prediction_count", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate", *OUTPUT,
    "prediction_drift_score", "dataset_drift_share", *PERFORMANCE, "label_count", "label_coverage",
    "performance_drop", "concept_drift",
)
ALERT_ROWS = 20
# "performance" stands for the model's headline metric: accuracy, or MAE for regression.
HEADLINE = ("prediction_count", "latency_p95_ms", "error_rate", "dataset_drift_share", "performance", "label_coverage")


def chart(series: pd.DataFrame, metrics: tuple[str, ...], title: str, *, y_title: str,
          markers: pd.DataFrame, highlight: tuple[datetime, datetime] | None, threshold_of: str | None = None,
          empty: str = "No values in this range.", percent: bool = False, zero: bool | None = None,
          value_format: str | None = None) -> None:
    st.markdown(f"**{title}**")
    frame = metric_frame(series, metrics, labels=METRIC_LABELS)
    if frame.empty:
        st.caption(empty)
        return
    threshold = latest_threshold(series, threshold_of) if threshold_of else None
    spec = time_series_chart(frame, y_title=y_title, value_format=value_format, threshold=threshold, markers=markers,
                             highlight=highlight, percent=percent, zero=zero)
    st.vega_lite_chart(spec=spec, width="stretch")


def headline(points: pd.DataFrame, previous: pd.DataFrame, performance: str) -> None:
    columns = st.columns(len(HEADLINE))
    shown = [performance if metric == "performance" else metric for metric in HEADLINE]
    for column, metric in zip(columns, shown, strict=True):
        now = points.loc[points["metric"] == metric, "value"]
        before = previous.loc[previous["metric"] == metric, "value"]
        value = float(now.iloc[0]) if len(now) and pd.notna(now.iloc[0]) else None
        delta = None
        if value is not None and len(before) and pd.notna(before.iloc[0]) and value != float(before.iloc[0]):
            delta = format_value(metric, value - float(before.iloc[0]))
        higher_is_worse = metric not in ("accuracy", "precision", "recall", "f1", "roc_auc", "r2")
        column.metric(metric_label(metric), format_value(metric, value), delta=delta,
                      delta_color="off" if metric in ("prediction_count", "label_coverage")
                      else "inverse" if higher_is_worse else "normal")


def window_table(points: pd.DataFrame) -> pd.DataFrame:
    """Model-level values of one window, breaches first; drift scores say whether
    they are p-values (lower = drift) or distances (higher = drift)."""
    model_level = points[points["feature"].isna()].assign(
        breach_first=lambda f: ~f["is_breach"].eq(True)).sort_values(["breach_first", "metric"])

    def optional(column: str) -> pd.Series:
        return model_level[column] if column in model_level else pd.Series(None, index=model_level.index)

    methods, p_values = optional("method"), optional("p_value")
    labels = [
        score_label(row.metric, score_kind_of(row.metric, method, p_value, row.value, row.threshold, row.is_breach))
        for row, method, p_value in zip(model_level.itertuples(), methods, p_values, strict=True)
    ]
    return pd.DataFrame(
        {
            "Metric": labels,
            "Value": [format_value(m, v) for m, v in zip(model_level["metric"], model_level["value"], strict=True)],
            "Threshold": [threshold_text(m, v, t, lower, upper) for m, v, t, lower, upper in
                          zip(model_level["metric"], model_level["value"], model_level["threshold"],
                              optional("lower_threshold"), optional("upper_threshold"), strict=True)],
            "Breach": model_level["is_breach"].map(breach_mark),
        }
    ).reset_index(drop=True)


def health_section(url: str, windows: pd.DataFrame, model: str, alerts: pd.DataFrame) -> None:
    """The model's health over all its versions: open alerts and its newest complete window."""
    newest = windows[windows["model"] == model]["last_complete_window"].max()
    points = (queries.latest_points(url, queries.pairs([model], [newest])) if pd.notna(newest)
              else pd.DataFrame(columns=["model", "metric", "feature", "value", "is_breach"]))
    open_alerts = alerts[alerts["state"].isin(["pending", "firing"])]
    health_banner(model, assess_models([model], open_alerts, points)[model])


def window_points(url: str, model: str, version: str, start: pd.Timestamp,
                  segment: str | None = None) -> pd.DataFrame:
    points = queries.latest_points(url, queries.pairs([model], [start]), segment)
    return points[(points["model_version"] == version) & points["feature"].isna()]


def headline_section(url: str, model: str, version: str, info: pd.Series, focus: pd.Timestamp, linked: bool,
                     series: pd.DataFrame, segment: str | None = None) -> pd.DataFrame:
    """Headline values of the focused window with deltas; returns that window's points."""
    empty = pd.DataFrame(columns=["model_version", "metric", "feature", "value", "threshold", "is_breach"])
    width = info["last_window_end"] - info["last_window"]
    focus_points = window_points(url, model, version, focus, segment) if pd.notna(focus) else empty
    previous = window_points(url, model, version, focus - width, segment) if pd.notna(focus) else empty
    label = "linked window" if linked else "newest complete window"
    of = f"segment {segment}, " if segment else ""
    st.caption(f"Headline: {of}{label} {format_time(focus)} ({format_age(focus, now_utc())}); deltas against the "
               "window before. Times in UTC.")
    available = set(points_metrics(focus_points)) | set(series["metric"])
    headline(focus_points, previous, headline_metric(available))
    if info["last_window"] != info["last_complete_window"]:
        partial = series[(series["metric"] == "prediction_count") & series["is_partial"].eq(True)]
        so_far = (f": {format_value('prediction_count', partial['value'].iloc[-1])} predictions so far"
                  if len(partial) else "")
        st.caption(f"Current window {format_time(info['last_window'])} is still filling{so_far}; charts show "
                   "complete windows.")
    return focus_points


def points_metrics(points: pd.DataFrame) -> list[str]:
    return [str(m) for m in points["metric"].unique()] if len(points) else []


def chart_grid(series: pd.DataFrame, markers: pd.DataFrame, highlight: tuple[datetime, datetime] | None,
               span: TimeRange) -> None:
    shown = f"{format_time(span.start)} to {format_time(span.end)}" if span.start is not None else (
        f"everything to {format_time(span.end)}")
    st.caption(f"Charts: {shown}. On every chart: dashed red = the metric's threshold; vertical lines = alerts "
               "of this version (orange: first breach, red: fired, green: resolved); yellow band = the linked "
               "window.")
    overlays = {"markers": markers, "highlight": highlight}
    left, right = st.columns(2)
    with left:
        chart(series, ("prediction_count",), "Traffic", y_title="predictions / window", **overlays)
        chart(series, ("error_rate",), "Serving error rate", y_title="error rate", percent=True,
              threshold_of="error_rate", **overlays)
        chart(series, ("prediction_drift_score", "dataset_drift_share"), "Prediction drift and dataset drift share",
              y_title="score / share", zero=True, threshold_of="dataset_drift_share", **overlays)
    with right:
        chart(series, ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"), "Latency", y_title="ms",
              threshold_of="latency_p95_ms", **overlays)
        regression = series["metric"].eq("prediction_mean").any()
        # Shares and scores of a classifier read from zero; a regression's mean reads at its own level.
        chart(series, OUTPUT, "Output", y_title="mean prediction" if regression else "share / mean",
              zero=not regression, **overlays)
        has_labels = metric_frame(series, PERFORMANCE).shape[0] > 0
        if has_labels:
            concept = flagged_windows(series, "concept_drift", "concept drift")
            chart(series, PERFORMANCE, "Performance (purple: concept drift)", y_title="score",
                  markers=pd.concat([markers, concept], ignore_index=True), highlight=highlight)
        else:
            st.markdown("**Performance**")
            st.info("No labels for this model in this range, so no performance metrics yet. They appear once "
                    "labels arrive on the labels topic.", icon=":material/label_off:")
    if has_labels:
        left, right = st.columns(2)
        with left:
            chart(series, ("label_coverage",), "Label coverage", y_title="share labelled", percent=True,
                  **overlays)
        with right:
            chart(series, ("performance_drop",), "Performance drop against the reference", y_title="drop",
                  zero=True, threshold_of="performance_drop", **overlays)


# Every estimable metric once, in the catalogue's order (roc_auc, f1, ..., mae, mse, ...); the confusion
# cells are counts of one window: drawn as a matrix (confusion_section), not as lines.
ESTIMATED = tuple(dict.fromkeys(f"estimated_{name}" for names in ESTIMATED_METRICS.values() for name in names
                                if f"estimated_{name}" not in ESTIMATED_CELL_METRICS))
MULTIVARIATE = "multivariate_drift"


def estimate_section(url: str, model: str, version: str, span: TimeRange, markers: pd.DataFrame,
                     highlight: tuple[datetime, datetime] | None, segment: str | None = None) -> None:
    """Estimated performance of one version (before its labels arrive) and its
    multivariate drift, each inside its band with the thresholds learned on the reference."""
    st.subheader("Estimated performance (before labels)")
    rows = queries.estimation_series(url, model, version, span.start, span.end, segment)
    rows = rows[rows["is_partial"].ne(True)]
    if rows.empty:
        st.caption(f"No performance estimates for {model} {version} in this range. Estimation needs a reference "
                   f"with labels and scores: configure it under `models.{model}.estimation`.")
        return
    st.caption("Shaded: the estimate's band of sampling error; dashed red: the lower and upper thresholds learned "
               "on the reference, drawn for each window's row count; green: the realized value once labels arrived.")
    shown = [m for m in (*ESTIMATED, MULTIVARIATE) if m in set(rows["metric"])]
    columns = st.columns(2)
    for index, metric in enumerate(shown):
        frame = rows[rows["metric"] == metric].sort_values("window_start")
        title = ("Multivariate drift (PCA reconstruction error)" if metric == MULTIVARIATE
                 else metric_label(metric))
        with columns[index % 2]:
            st.markdown(f"**{title}**")
            spec = estimate_chart(frame, y_title="reconstruction error" if metric == MULTIVARIATE else "estimate",
                                  markers=markers, highlight=highlight)
            st.vega_lite_chart(spec=spec, width="stretch")


def _count(value: float) -> str:
    return "" if pd.isna(value) else f"{value:,.1f}"


def confusion_section(url: str, model: str, version: str, focus: pd.Timestamp | None,
                      segment: str | None = None) -> None:
    """The estimated confusion matrix of the focus window (expected counts with their band), red where a
    cell left the thresholds learned on the reference, and the realized counts once every row is labelled."""
    if focus is None or pd.isna(focus):
        return
    cells = queries.confusion_cells(url, model, version, focus.to_pydatetime(), segment)
    if cells.empty:
        return
    st.markdown(f"**Estimated confusion matrix, window {format_time(focus)}**")
    if cells["value"].isna().all():
        reasons = cells["not_estimated"].dropna()
        st.caption(f"Not estimated: {reasons.iloc[0] if len(reasons) else 'no value'}.")
        return
    estimated = [f"{_count(v)} ({lo:,.0f}–{hi:,.0f})" if not (pd.isna(lo) or pd.isna(hi)) else _count(v)
                 for v, lo, hi in zip(cells["value"], cells["lower_band"], cells["upper_band"], strict=True)]
    table = confusion_matrix(cells, pd.Series(estimated))
    breach = confusion_matrix(cells, cells["is_breach"].astype(object).eq(True).map({True: "red", False: ""}))
    # One above the other, each the page's width: side by side, a matrix of many classes is cut at 1000 px.
    st.caption("Estimated: the expected count (its band of ± 3 sampling errors); red: outside the thresholds "
               "learned on the reference")
    st.table(table.style.apply(lambda _: breach.map(cell_style), axis=None))
    realized = cells["realized"]
    if realized.notna().all():
        st.caption("Realized: the count from the labels (every row of the window is labelled)")
        st.table(confusion_matrix(cells, realized.map(lambda v: f"{v:,.0f}")))
    else:
        labelled, rows = cells["labelled_rows"].max(), cells["rows"].max()
        so_far = ("no labels yet" if pd.isna(labelled) or labelled == 0
                  else f"{labelled:,.0f} of {rows:,.0f} rows labelled so far")
        st.caption(f"Realized: shown once every row of the window has its label ({so_far}).")


def vitals(url: str, model: str, version: str, range_label: str, window: datetime | None,
           segment: str | None = None) -> None:
    windows = queries.model_windows(url)
    info = windows[(windows["model"] == model) & (windows["model_version"] == version)].iloc[0]
    # Resolved here, not once per page: each auto-refresh moves "Last 24 hours" on to
    # the newest window in the store.
    span = resolve_range(range_label, latest_end=info["last_window_end"].to_pydatetime(), window=window)
    series = queries.metric_series(url, (model,), METRICS, span.start, span.end, version, segment)
    alerts = queries.alert_list(url, model)
    health_section(url, windows, model, alerts)
    focus = pd.Timestamp(window) if window is not None else info["last_complete_window"]
    focus_points = headline_section(url, model, version, info, focus, window is not None, series, segment)
    markers = alert_markers(alerts[alerts["model_version"].isna() | (alerts["model_version"] == version)],
                            span.start, span.end)
    highlight = (window, window + (info["last_window_end"] - info["last_window"])) if window is not None else None
    chart_grid(series, markers, highlight, span)
    estimate_section(url, model, version, span, markers, highlight, segment)
    confusion_section(url, model, version, focus, segment)

    st.subheader(f"Window {format_time(focus)}")
    if focus_points.empty:
        st.caption("No metrics for this window.")
    else:
        st.dataframe(window_table(focus_points).style.map(cell_style, subset=["Breach"]), hide_index=True,
                     width="stretch")
    st.subheader("Alerts of this model")
    if alerts.empty:
        st.caption("No alerts.")
    else:
        table = pd.DataFrame({
            "State": alerts["state"], "Severity": alerts["severity"], "Rule": alerts["rule"],
            "Condition": [f"{metric}{'' if pd.isna(feature) else f' · {feature}'}"
                          f"{'' if pd.isna(segment) else f' · {segment}'} {condition}"
                          for metric, feature, segment, condition in zip(alerts["metric"], alerts["feature"],
                                                                          alerts["segment"], alerts["condition"],
                                                                          strict=True)],
            "Last value": alerts["last_value"], "First breach": alerts["started_at"], "Fired": alerts["fired_at"],
            "Resolved": alerts["resolved_at"],
        }).reset_index(drop=True)
        shown = blank_missing(table.head(ALERT_ROWS), numbers={"Last value": "{:.4g}"})
        st.table(markdown_safe(shown).style.map(cell_style, subset=["Severity", "State"]), hide_index=True)
        if len(table) > ALERT_ROWS:
            st.caption(f"The {ALERT_ROWS} most recently active of {len(table)} alerts; the Alerts page lists all.")


def render() -> None:
    url = store_url_or_stop()
    windows, models = models_or_stop(url)
    link = deep_link("model")
    linked_window = parse_window(link.window)

    st.title("Model vitals")
    scope, _ = pick_scope(url, windows, models, key="model_page", override=link.override,
                          window=lambda model: linked_window if link.model in (None, model) else None)
    model, version, window = scope.model, scope.version, scope.window
    # A row of their own: in the scope row the toggle's label read "Auto-refr…" at 1000 px.
    left, right, _ = st.columns([2, 2, 3], vertical_alignment="bottom")
    with left:
        segment = pick_segment(url, model, version, key=f"model_page.segment.{model}")
    with right:
        auto = st.toggle("Auto-refresh", key="model_page.auto",
                         help=f"Redraw the charts every {int(AUTO_REFRESH.total_seconds())} s.")
    if scope.range_label != AROUND_WINDOW:
        window = None
    # Keep the URL a shareable link to what is shown, and remember it as applied so the
    # next run does not mistake our own parameters for a new deep link.
    keep_link("model", model, version, link.window if window is not None else None)

    @st.fragment(run_every=AUTO_REFRESH if auto else None)
    def live() -> None:
        # A refresh reruns only this fragment, outside the page's error handler: a store
        # that went down since shows the same clear message, not a traceback.
        try:
            vitals(url, model, version, scope.range_label, window, segment)
        except DriftwatchError as exc:
            show_error(exc)

    live()


render()
