"""Data-quality page: dead letters by reason, and per-feature quality shares over time."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.charts import time_series_chart
from dashboard.controls import deep_link, keep_link, now_utc, pick_scope, store_url_or_stop
from dashboard.formatting import blank_missing, cell_style, format_age, format_time, metric_label
from dashboard.frames import current_models, group_reasons

QUALITY = ("missing_share", "out_of_range_share", "unseen_category_share", "type_mismatch_share")
TOP_FEATURES = 8


def dead_letters(url: str) -> None:
    st.subheader("Dead letters")
    exact = queries.dead_letter_reasons(url)
    if exact.empty:
        st.success("No dead letters: every message so far was valid.", icon=":material/check_circle:")
        return
    reasons = group_reasons(exact)
    columns = st.columns(3)
    columns[0].metric("Dead letters", f"{int(reasons['count'].sum()):,}")
    columns[1].metric("Kinds of reason", len(reasons),
                      help=f"Reasons that differ only in a position (line, column, byte) count as one kind; "
                           f"{len(exact)} distinct reason texts in all.")
    newest = reasons["last_seen"].max()
    columns[2].metric("Newest", format_age(newest, now_utc()), help=format_time(newest))
    st.markdown("**By kind of reason** (positions left out; each letter keeps its full reason, see the samples)")
    st.dataframe(
        blank_missing(reasons.rename(columns={
            "reason": "Reason", "topic": "Topic", "count": "Count", "variants": "Variants", "example": "Newest example",
            "last_seen": "Last seen", "first_seen": "First seen"})[
            ["Reason", "Count", "Variants", "Topic", "Last seen", "Newest example"]]),
        hide_index=True,
        width="stretch",
        column_config={"Variants": st.column_config.NumberColumn(help="Distinct full reason texts of this kind.")},
    )
    st.markdown("**Latest samples**")
    samples = queries.dead_letter_samples(url)
    st.dataframe(
        blank_missing(samples.rename(columns={
            "received_at": "Received", "topic": "Topic", "partition": "Partition", "offset": "Offset",
            "model": "Model", "reason": "Reason", "raw_size": "Bytes", "raw": "Message (start)"})[
            ["Received", "Model", "Reason", "Message (start)", "Bytes", "Topic", "Partition", "Offset"]]),
        hide_index=True,
        width="stretch",
        column_config={"Message (start)": st.column_config.TextColumn(width="medium")},
    )


def quality_rows(series: pd.DataFrame) -> pd.DataFrame:
    return series[series["metric"].isin(QUALITY) & series["is_partial"].ne(True) & series["feature"].notna()]


def latest_quality(rows: pd.DataFrame) -> pd.DataFrame:
    """Per feature, the quality shares of the newest complete window (and whether any breached)."""
    if rows.empty:
        return pd.DataFrame()
    newest = rows[rows["window_start"] == rows["window_start"].max()]
    table = newest.pivot_table(index="feature", columns="metric", values="value", aggfunc="max")
    table = table.reindex(columns=[m for m in QUALITY if m in table.columns])
    breached = newest.groupby("feature")["is_breach"].agg(lambda s: bool(s.eq(True).any()))
    table.insert(0, "breach", breached.map(lambda b: "yes" if b else ""))
    table = table.sort_values(by=[c for c in QUALITY if c in table.columns], ascending=False)
    return table.rename(columns={m: metric_label(m) for m in QUALITY}).reset_index().rename(
        columns={"feature": "Feature", "breach": "Breach"})


def quality_charts(rows: pd.DataFrame) -> None:
    shown = 0
    grid = st.columns(2)
    for metric in QUALITY:
        part = rows[rows["metric"] == metric].dropna(subset=["value"])
        peaks = part.groupby("feature")["value"].max()
        top = peaks[peaks > 0].sort_values(ascending=False).head(TOP_FEATURES).index
        if not len(top):
            continue
        frame = part[part["feature"].isin(top)].rename(columns={"feature": "series"})[
            ["window_start", "window_end", "value", "series"]]
        threshold = part["threshold"].dropna()
        with grid[shown % 2]:
            noun = "feature" if len(top) == 1 else "features"
            st.markdown(f"**{metric_label(metric)}** (share of rows; {len(top)} {noun} with any)")
            spec = time_series_chart(frame, y_title="share of rows", percent=True, height=200,
                                     threshold=float(threshold.iloc[-1]) if len(threshold) else None)
            st.vega_lite_chart(spec=spec, width="stretch")
        shown += 1
    if not shown:
        st.success("No missing, out-of-range, unseen or mistyped values in this range.", icon=":material/check_circle:")


def render() -> None:
    url = store_url_or_stop()
    st.title("Data quality")
    dead_letters(url)

    st.subheader("Feature quality")
    windows = queries.model_windows(url)
    if windows.empty:
        st.info("No computed windows yet: feature quality appears once the first window is computed.")
        return
    models = current_models(windows)
    link = deep_link("quality")
    scope, _ = pick_scope(url, windows, models, key="quality", override=link.override)
    model, version, span = scope.model, scope.version, scope.span
    keep_link("quality", model, version)
    series = queries.metric_series(url, (model,), (*QUALITY, "dead_letter_count"), span.start, span.end, version)
    rows = quality_rows(series)
    table = latest_quality(rows)
    if table.empty:
        st.info(f"No data-quality metrics for {model} {version} in this range.")
        return
    st.markdown(f"**Newest complete window** ({format_time(rows['window_start'].max())})")
    st.dataframe(
        table.style.map(cell_style, subset=["Breach"]),
        hide_index=True,
        width="stretch",
        column_config={metric_label(m): st.column_config.ProgressColumn(min_value=0.0, max_value=1.0,
                                                                        format="percent") for m in QUALITY},
    )
    quality_charts(rows)
    letters = series[(series["metric"] == "dead_letter_count") & series["is_partial"].ne(True)]
    if len(letters) and letters["value"].max() > 0:
        st.markdown(f"**Dead letters per window attributed to {model}**")
        frame = letters.assign(series="dead letters")[["window_start", "window_end", "value", "series"]]
        spec = time_series_chart(frame, y_title="messages", height=180, counts=True)
        st.vega_lite_chart(spec=spec, width="stretch")


render()
