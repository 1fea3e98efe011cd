"""The segment picker and the "which segment drifts" table.

A model configured with ``segments`` has its vitals per segment too (``country=DE``).
Pages that show one model's vitals offer a picker (default: the whole model); the drift
page ranks the segments by how much they drift in the selected range.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.formatting import blank_missing

__all__ = ["WHOLE_MODEL", "pick_segment", "rank_segments", "segment_table"]

WHOLE_MODEL = "Whole model"


def pick_segment(url: str, model: str, version: str, *, key: str) -> str | None:
    """The segment selector; None is the whole model. A model without segments has no
    picker (None)."""
    names = queries.segment_names(url, model, version)
    if not names:
        return None
    options = [WHOLE_MODEL, *names]
    linked = st.query_params.get("segment")
    sticky = f"dw.segment.{model}"
    if linked in names and st.session_state.get(f"{key}.linked") != linked:
        st.session_state[key] = linked  # a notification's link opens its segment, once
        st.session_state[f"{key}.linked"] = linked
    elif st.session_state.get(key) not in options:
        preferred = st.session_state.get(sticky)
        st.session_state[key] = preferred if preferred in options else WHOLE_MODEL
    chosen = st.selectbox("Segment", options, key=key,
                          help="Vitals of one segment (models.<name>.segments in the config), or of the whole "
                               "model.")
    st.session_state[sticky] = chosen
    return None if chosen == WHOLE_MODEL else str(chosen)


def rank_segments(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per segment, the most drifting first: its drift share in the newest window
    of the range (``now``), the mean and max over the range, the windows with dataset
    drift, and the breaching metric rows. A share that could not be judged is NaN.

    >>> rows = pd.DataFrame({"segment": ["country=DE", "country=DE", "country=FR", "country=FR"],
    ...                      "window_start": pd.to_datetime(["2026-01-01 00:00", "2026-01-01 01:00"] * 2),
    ...                      "drift_share": [0.2, 0.6, 0.0, None], "dataset_drift": [0, 1, 0, None],
    ...                      "breaches": [1, 4, 0, 0]})
    >>> ranked = rank_segments(rows)
    >>> ranked[["segment", "now", "mean", "drifted_windows", "windows", "breaches"]].values.tolist()
    [['country=DE', 0.6, 0.4, 1, 2, 5], ['country=FR', nan, 0.0, 0, 2, 0]]
    """
    columns = ["segment", "now", "mean", "max", "drifted_windows", "windows", "breaches"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    ordered = rows.sort_values("window_start")
    grouped = ordered.groupby("segment", sort=False)
    table = pd.DataFrame({
        "mean": grouped["drift_share"].mean(),
        "max": grouped["drift_share"].max(),
        "drifted_windows": grouped["dataset_drift"].apply(lambda values: int((values >= 1).sum())),
        "windows": grouped["window_start"].nunique(),
        "breaches": grouped["breaches"].sum().astype(int),
    })
    # The newest window's share, NaN when not judged (or when the segment has no row in it).
    newest = ordered[ordered["window_start"] == ordered["window_start"].max()].set_index("segment")["drift_share"]
    table.insert(0, "now", newest.reindex(table.index).astype(float))
    table = table.reset_index().sort_values(["now", "mean", "breaches", "segment"],
                                            ascending=[False, False, False, True], na_position="last")
    return table[columns].reset_index(drop=True)


def segment_table(url: str, model: str, version: str, span_start: datetime | None, span_end: datetime | None) -> None:
    """The "which segment drifts" table of the drift page (nothing for a model without segments)."""
    rows = queries.segment_drift(url, model, version, span_start, span_end)
    if rows.empty:
        return
    ranked = rank_segments(rows)
    st.subheader("Which segment drifts")
    st.caption("Segments of the model ranked by their drift share in the newest complete window of the range, "
               "then over the range. Pick one above to see its drift.")
    table = ranked.assign(drifted=[f"{d} of {n}" for d, n in zip(ranked["drifted_windows"], ranked["windows"],
                                                                  strict=True)])
    table = table[["segment", "now", "mean", "max", "drifted", "breaches"]].rename(columns={
        "segment": "Segment", "now": "Share now", "mean": "Mean share", "max": "Max share",
        "drifted": "Dataset drift", "breaches": "Breaches"})
    st.dataframe(
        blank_missing(table, numbers={"Mean share": "{:.2f}", "Max share": "{:.2f}"}),
        hide_index=True, width="stretch",
        column_config={
            "Share now": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f", width="small",
                                                         help="Share of drifting features, newest window."),
            "Dataset drift": st.column_config.TextColumn(help="Windows of the range with a dataset drift verdict "
                                                              "(drift share at or over the drift_share setting)."),
            "Breaches": st.column_config.NumberColumn(help="Metric rows past their threshold in the range."),
        },
    )
