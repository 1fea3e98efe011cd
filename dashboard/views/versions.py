"""Versions page: a challenger (canary, shadow, A/B) side by side with the champion, same window."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard import versions
from dashboard.charts import time_series_chart
from dashboard.controls import deep_link, keep_link, store_url_or_stop
from dashboard.formatting import blank_missing, format_time

_NONE_YET = (
    "No window had two versions of a model serving at once yet. When a canary, shadow or A/B version "
    "sends predictions in the same window as the current one, driftwatch compares them here: latency, error "
    "rate, performance and drift of the challenger against the champion (models.<name>.champion in the "
    "config, else the version that started first)."
)


def _pick(label: str, options: list[str], key: str, override: str | None = None) -> str:
    if override in options:
        st.session_state[key] = override
    elif st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    return str(st.selectbox(label, options, key=key))


def _headline(points: pd.DataFrame, champion: str, challenger: str) -> None:
    error = points[(points["metric"] == "compare_error_rate_diff") & points["feature"].isna()]
    details = error["details"].iloc[0] if len(error) and isinstance(error["details"].iloc[0], dict) else {}
    n_champion, n_challenger = details.get("n_champion"), details.get("n_challenger")
    columns = st.columns(3)
    columns[0].metric("Champion", champion, help="models.<name>.champion, else the version that started first.")
    columns[1].metric("Challenger", challenger)
    if isinstance(n_champion, int) and isinstance(n_challenger, int) and n_champion + n_challenger > 0:
        share = n_challenger / (n_champion + n_challenger)
        columns[2].metric("Challenger's traffic", f"{share:.1%}",
                          help=f"{n_challenger} of {n_champion + n_challenger} predictions in the window.")
    else:
        columns[2].metric("Challenger's traffic", "—")


def _drift(points: pd.DataFrame, champion: str, challenger: str) -> None:
    st.subheader(f"Drift of {challenger} against {champion}")
    share = points[(points["metric"] == "compare_dataset_drift_share") & points["feature"].isna()]
    verdict = points[(points["metric"] == "compare_dataset_drift") & points["feature"].isna()]
    output = points[(points["metric"] == "compare_prediction_drift_score") & points["feature"].isna()]
    table = versions.drift_rows(points)
    value = float(share["value"].iloc[0]) if len(share) and pd.notna(share["value"].iloc[0]) else math.nan
    drifts = bool(verdict["value"].iloc[0] >= 1) if len(verdict) and pd.notna(verdict["value"].iloc[0]) else None
    if math.isnan(value):
        st.info("The inputs could not be compared in this window (see the notes per feature).")
    else:
        drifted = int(table["Drifts"].fillna(False).astype(bool).sum()) if len(table) else 0
        st.markdown(
            f"The inputs {challenger} received differ from {champion}'s in **{drifted} of {len(table)}** features "
            f"(drift share {value:.0%}): {'**the dataset drifts**' if drifts else 'no dataset drift'}. "
            "Both served in the same window, so a difference here means they saw different traffic "
            "(a routing bias), not a change over time.")
    if len(output):
        score, threshold, details = output["value"].iloc[0], output["threshold"].iloc[0], output["details"].iloc[0]
        details = details if isinstance(details, dict) else {}
        method = details.get("method") or "—"
        if pd.isna(score):
            text = f"not compared ({details.get('reason') or 'no value'})."
        else:
            limit = "" if pd.isna(threshold) else f", threshold {threshold:.3g}"
            differ = bool(output["is_breach"].iloc[0] is True)
            text = (f"score {score:.3g} ({method} test{limit}) — "
                    + ("**the predictions differ**." if differ else "no difference in the predictions."))
        st.markdown(f"Output distribution of {challenger} against {champion}: {text}")
    if len(table):
        st.dataframe(blank_missing(table, numbers={"Score": "{:.4g}", "Threshold": "{:.4g}"}), hide_index=True,
                     width="stretch",
                     column_config={"Drifts": st.column_config.CheckboxColumn(
                         help="The challenger's values of this feature differ from the champion's.")})


def _history(url: str, model: str, champion: str, challenger: str) -> None:
    history = versions.comparison_history(url, model, challenger)
    if history["window_start"].nunique() < 2:
        return
    st.subheader("Differences over time")
    lines = pd.DataFrame({"window_start": history["window_start"], "value": history["value"] * 100,
                          "series": history["metric"].map(lambda metric: versions.VITALS[metric].label)})
    # Our own time axis (one format for the span shown), not st.line_chart's "12:05" next to "01 AM".
    st.vega_lite_chart(spec=time_series_chart(lines.dropna(subset=["value"]), y_title="challenger − champion (pp)",
                                              zero=True), width="stretch")
    st.caption(f"Error rate and accuracy of {challenger} minus {champion}'s, per complete window, in percentage "
               "points: above 0, the challenger fails more often (error rate) or is right more often (accuracy).")


def render() -> None:
    url = store_url_or_stop()
    st.title("Versions side by side")
    compared = versions.comparisons(url)
    if compared.empty:
        st.info(_NONE_YET, icon=":material/compare:")
        return
    link = deep_link("versions")  # ?model=M&version=<challenger>&window=ISO, as alert notifications link
    wanted_model, wanted_version = link.override
    left, middle, right = st.columns(3)
    with left:
        model = _pick("Model", sorted(compared["model"].unique()), "versions.model", wanted_model)
    of_model = compared[compared["model"] == model]
    with middle:
        challenger = _pick("Challenger", sorted(of_model["model_version"].unique()), "versions.challenger",
                           wanted_version)
    rows = of_model[of_model["model_version"] == challenger].sort_values("window_start", ascending=False)
    starts = list(rows["window_start"])
    complete = rows[~rows["is_partial"].astype(bool)]
    default = complete["window_start"].iloc[0] if len(complete) else starts[0]
    linked = pd.to_datetime(link.window, utc=True, errors="coerce") if link.new and link.window else None
    with right:
        if linked is not None and linked in starts:
            st.session_state["versions.window"] = linked
        elif st.session_state.get("versions.window") not in starts:
            st.session_state["versions.window"] = default
        start = st.selectbox("Window", starts, key="versions.window",
                             format_func=lambda moment: format_time(moment)
                             + (" (open)" if bool(rows.loc[rows["window_start"] == moment, "is_partial"].iloc[0])
                                else ""))
    window = rows[rows["window_start"] == start].iloc[0]
    keep_link("versions", model, challenger, start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    champion = str(window["compare"]).removeprefix("champion=")
    points = versions.comparison_points(url, model, challenger, start.to_pydatetime())
    st.caption(f"{model}: {challenger} (challenger) against {champion} (champion) on the same traffic window, "
               f"{format_time(window['window_start'])} → {format_time(window['window_end'])}. Differences are "
               "challenger minus champion; a p-value below 0.05 means the gap is unlikely to be chance.")
    if bool(window["is_partial"]):
        st.warning("This window is still open: the numbers will change as predictions and labels arrive.")
    _headline(points, champion, challenger)
    st.subheader("Serving and performance")
    table = versions.side_by_side(points, challenger)
    st.table(table.rename(columns={"Champion": f"Champion ({champion})",
                                   "Challenger": f"Challenger ({challenger})"}).set_index("Vital"))
    st.caption("Tests: error rate and accuracy — two-proportion z-test; latency — Mann-Whitney U test; "
               "ROC AUC — DeLong's test; MAE — Welch's t-test on the absolute errors. Performance needs labels "
               "of both versions in the window.")
    _drift(points, champion, challenger)
    _history(url, model, champion, challenger)


render()
