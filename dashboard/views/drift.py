"""Drift page: which features drift, since when, and how their distribution moved."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.charts import distribution_chart, drift_heatmap_chart
from dashboard.controls import deep_link, keep_link, models_or_stop, pick_scope, store_url_or_stop
from dashboard.distributions import compare_distributions
from dashboard.drift_strength import DRIFT_SCORES, KIND_NOTES, STRENGTH_RULE, score_kind_of
from dashboard.formatting import (
    blank_missing,
    breach_mark,
    cell_style,
    format_time,
    format_value,
    markdown_safe,
    metric_label,
)
from dashboard.frames import drift_heatmap, drift_verdict, rank_features
from dashboard.segments import pick_segment, segment_table

QUALITY = ("missing_share", "out_of_range_share", "unseen_category_share", "type_mismatch_share")


KIND_WORDS = {"p_value": "p-value ↓", "distance": "distance ↑"}
DRIFT_ALERT_METRICS = DRIFT_SCORES | {"dataset_drift_share", "dataset_drift", "feature_drift"}


def summary(url: str, model: str, version: str, ranking: pd.DataFrame, newest: pd.Timestamp,
            segment: str | None = None) -> None:
    points = queries.latest_points(url, queries.pairs([model], [newest]), segment)
    points = points[(points["model_version"] == version) & points["feature"].isna()]
    share_rows = points.loc[points["metric"] == "dataset_drift_share"]
    drifted = points.loc[points["metric"] == "dataset_drift", "value"]
    share = float(share_rows["value"].iloc[0]) if len(share_rows) and pd.notna(share_rows["value"].iloc[0]) else None
    setting = (float(share_rows["threshold"].iloc[0])
               if len(share_rows) and pd.notna(share_rows["threshold"].iloc[0]) else None)
    verdict = bool(drifted.iloc[0] >= 1) if len(drifted) and pd.notna(drifted.iloc[0]) else None
    columns = st.columns(4)
    columns[0].metric("Dataset drift", "—" if verdict is None else "yes" if verdict else "no",
                      help="The model's own verdict: the share of drifting features reached its drift_share "
                           "setting. Alert rules have thresholds of their own (below).")
    columns[1].metric("Drift share", format_value("dataset_drift_share", share),
                      help="Share of features that drift in the newest complete window.")
    columns[2].metric("Drifting features", f"{int(ranking['drifted'].sum())} of {len(ranking)}")
    top = ranking.iloc[0] if len(ranking) else None
    columns[3].metric("Strongest", "—" if top is None else str(top["feature"]),
                      help="Feature with the highest drift strength in the newest complete window.")
    st.markdown(f"**Dataset drift verdict** ({format_time(newest)}): {drift_verdict(share, setting, verdict)}.")
    drift_alerts(url, model, version, verdict, segment)


def drift_alerts(url: str, model: str, version: str, verdict: bool | None, segment: str | None = None) -> None:
    """Open alerts of the model on drift metrics: they may disagree with the verdict, so say why."""
    alerts = queries.alert_list(url, model)
    if alerts.empty:
        open_ = alerts
    else:
        open_ = alerts[alerts["state"].isin(["firing", "pending"]) & alerts["metric"].isin(DRIFT_ALERT_METRICS)
                       & (alerts["model_version"].isna() | (alerts["model_version"] == version))
                       & (alerts["segment"].isna() if segment is None else alerts["segment"] == segment)]
    if open_.empty:
        st.caption(f"No open alerts on drift metrics for this version{f' in {segment}' if segment else ''}.")
        return
    for alert in open_.itertuples():
        target = (str(alert.metric) + ("" if pd.isna(alert.feature) else f" · {alert.feature}")
                  + ("" if pd.isna(alert.segment) else f" · {alert.segment}"))
        value = "" if pd.isna(alert.last_value) else f", last value {alert.last_value:.4g}"
        text = (f"**Alert {alert.rule} is {alert.state}** ({alert.severity}): `{target} {alert.condition}`{value}. ")
        if alert.metric == "dataset_drift_share" and verdict is False:
            text += ("Its threshold is the alert rule's own, lower than the drift_share setting the verdict uses, "
                     "so the alert fires while the verdict says no.")
        else:
            text += "Alert rules set their own thresholds, apart from the drift_share setting of the verdict."
        if alert.state == "firing" and alert.severity == "critical":
            st.error(text, icon=":material/notifications_active:")
        else:
            st.warning(text, icon=":material/notifications_active:")


def ranking_table(ranking: pd.DataFrame) -> None:
    kinds = [score_kind_of("feature_drift_score", method, None, score, threshold, drifted)
             for method, score, threshold, drifted in zip(ranking["method"], ranking["score"], ranking["threshold"],
                                                          ranking["drifted"], strict=True)]
    table = ranking.assign(
        kind=[KIND_WORDS[k] if k is not None else "" for k in kinds],
        drifted_windows=[f"{d} of {n}" for d, n in zip(ranking["windows_drifted"], ranking["windows"], strict=True)],
        threshold=[("—" if pd.isna(t) else f"{t:.4g}") + (" learned" if source == "reference" else "")
                   for t, source in zip(ranking["threshold"], ranking["threshold_source"], strict=True)],
    )[["feature", "method", "kind", "score", "threshold", "strength", "drifted", "drifted_windows", "max_strength"]]
    st.dataframe(
        blank_missing(table.rename(columns={
            "feature": "Feature", "method": "Test", "kind": "Score is", "score": "Score", "threshold": "Threshold",
            "strength": "Strength", "drifted": "Now", "drifted_windows": "Drifted",
            "max_strength": "Max strength"}), numbers={"Score": "{:.4g}"}),
        hide_index=True,
        width="stretch",
        column_config={
            "Score is": st.column_config.TextColumn(help="p-value: lower = drift; distance: higher = drift."),
            "Threshold": st.column_config.TextColumn(
                help="The method's default or the configured number; \"learned\": learned from reference chunks "
                     "of the window's size (threshold: reference)."),
            "Strength": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f", width="small",
                                                        help="0.5 = at the threshold"),
            "Now": st.column_config.CheckboxColumn(help="Drifting in the newest complete window."),
            "Drifted": st.column_config.TextColumn(help="Windows of the range in which the feature drifted."),
            "Max strength": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f",
                                                            width="small"),
        },
    )


def learned_note(learned: dict[str, Any]) -> str:
    """How a drift threshold was learned from the reference, in one sentence."""
    scale = " of −log10 p" if learned.get("scale") == "-log10(p_value)" else ""
    try:
        return (f"Threshold learned from the reference: {learned['chunks']} chunks of {learned['chunk_size']} rows "
                f"(the window's size), mean {float(learned['mean']):.4g} + {float(learned['std_multiplier']):g} × "
                f"std {float(learned['std']):.4g}{scale}.")
    except (KeyError, TypeError, ValueError):
        return "Threshold learned from the reference."


def look_first(url: str, model: str, version: str, newest: pd.Timestamp) -> None:
    """Which feature to look at first: the ranking by how drift tracks the performance drop."""
    st.subheader("Which feature to look at first")
    ranking = queries.feature_ranking(url, model, version, newest.to_pydatetime())
    rows = (ranking or {}).get("features") or []
    if not ranking or not rows:
        reason = (ranking or {}).get("reason") or "the newest window has no ranking"
        st.caption(f"No ranking yet: {_plain(str(reason))}.")
        return
    metric = str(ranking.get("performance_metric"))
    windows = ranking.get("windows")
    top = rows[0]
    if ranking.get("look_first"):
        st.info(f"**Look at `{top['feature']}` first**: its drift tracks the drop of {metric_label(metric)} "
                f"(correlation {top['correlation']:.2f} over {windows} windows).", icon=":material/search:")
    else:
        st.caption(f"No clear suspect: no feature's drift tracks the drop of {metric_label(metric)} closely "
                   f"(best: `{top['feature']}`, correlation {top['correlation']:.2f} over {windows} windows).")
    st.dataframe(
        pd.DataFrame({"Rank": [row["rank"] for row in rows], "Feature": [row["feature"] for row in rows],
                      "Correlation": [row["correlation"] for row in rows]}),
        hide_index=True, width="content",
        column_config={"Correlation": st.column_config.NumberColumn(
            format="%.2f", help=f"Pearson correlation of the feature's drift score with the drop of {metric} "
                                "over the recent windows; 1 = moves exactly with it. Correlation, not cause.")},
    )


def feature_detail(url: str, model: str, version: str, heat: pd.DataFrame, ranking: pd.DataFrame,
                   segment: str | None = None) -> None:
    st.subheader("Feature detail")
    left, right = st.columns(2)
    features = list(ranking["feature"])
    with left:
        feature = st.selectbox("Feature", features, key="drift.feature",
                               help="Features ranked by drift, strongest first.")
    rows = heat[heat["feature"] == feature].sort_values("window_start", ascending=False)
    with right:
        start = st.selectbox("Window", list(rows["window_start"]), key=f"drift.window.{feature}",
                             format_func=format_time)
    window = rows[rows["window_start"] == start].iloc[0]
    points = queries.feature_points(url, model, version, start.to_pydatetime(), feature, segment)
    score_row = points[points["metric"] == "feature_drift_score"]
    details = score_row["details"].iloc[0] if len(score_row) and isinstance(score_row["details"].iloc[0], dict) else {}
    p_value = details.get("p_value")
    columns = st.columns(5)
    columns[0].metric("Test", str(details.get("method") or window["method"] or "—"))
    kind = score_kind_of("feature_drift_score", details.get("method") or window["method"], p_value,
                         window["score"], window["threshold"], window["drifted"])
    columns[1].metric("Score" if kind is None else f"Score ({KIND_NOTES[kind]})",
                      "n/a" if pd.isna(window["score"]) else f"{window['score']:.4g}")
    learned = details.get("learned") if details.get("threshold_source") == "reference" else None
    columns[2].metric("Threshold (learned)" if learned else "Threshold",
                      "—" if pd.isna(window["threshold"]) else f"{window['threshold']:.4g}",
                      help=learned_note(learned) if isinstance(learned, dict) else None)
    columns[3].metric("p-value", "—" if p_value is None else f"{p_value:.4g}")
    columns[4].metric("Drifted", "yes" if breach_mark(window["drifted"]) else "no",
                      help=f"Drift strength {window['strength']:.2f} (0.5 = at the threshold)"
                      if pd.notna(window["strength"]) else None)
    if details.get("reason"):
        st.warning(f"Score not computable: {details['reason']}")
    counts = ", ".join(f"{key}: {details[key]}" for key in ("n_reference", "n_current", "feature_type")
                       if key in details)
    if counts:
        st.caption(counts)
    if isinstance(learned, dict):
        st.caption(learned_note(learned))

    chart_column, quality_column = st.columns(2)
    with chart_column:
        st.markdown(f"**{feature}: reference vs current window**")
        source, reference = queries.reference_values(url, model, version, feature)
        current = queries.current_values(url, model, version, start.to_pydatetime(),
                                         window["window_end"].to_pydatetime(), feature)
        distribution = compare_distributions(reference, current)
        if distribution.kind == "empty":
            st.info("No reference rows and no stored predictions for this window, so no distribution to show.")
        else:
            st.vega_lite_chart(spec=distribution_chart(distribution.frame, distribution.kind), width="stretch")
            st.caption(
                f"Reference: {distribution.n_reference} values ({source or 'no reference set'}); current: "
                f"{distribution.n_current} values sampled from the window's predictions. Missing: "
                f"{distribution.missing_reference} / {distribution.missing_current}."
                + (" The distributions are the whole model's; the test above is the segment's." if segment else "")
            )
    with quality_column:
        st.markdown(f"**{feature}: data quality in this window**")
        quality = points[points["metric"].isin(QUALITY)].sort_values("metric", key=lambda m: m.map(QUALITY.index))
        if quality.empty:
            st.caption("No data-quality metrics for this feature and window.")
        else:
            st.table(
                markdown_safe(pd.DataFrame({
                    "Check": [metric_label(m) for m in quality["metric"]],
                    "Share": [format_value(m, v) for m, v in zip(quality["metric"], quality["value"], strict=True)],
                    "Threshold": [format_value(m, t) if pd.notna(t) else "" for m, t in
                                  zip(quality["metric"], quality["threshold"], strict=True)],
                    "Breach": quality["is_breach"].map(breach_mark),
                })).style.map(cell_style, subset=["Breach"]),
                hide_index=True,
            )


def _plain(text: str) -> str:
    """Text shown as it is inside Markdown (no LaTeX from '$', no emphasis from '*' or '_')."""
    return text.replace("$", "\\$").replace("*", "\\*").replace("_", "\\_")


def reference_warning(url: str, model: str, version: str) -> None:
    """A reference that blinds features is said first: their drift is not judged at all."""
    problems = queries.reference_problems(url, model, version)
    if problems.empty:
        return
    lines = "\n".join(f"- `{row.feature}`: {_plain(str(row.reason))}" for row in problems.itertuples())
    st.error(f"**The reference of {model} {version} cannot judge {len(problems)} feature(s)** "
             f"(`reference_problem` in the newest window); their drift is not judged until it is fixed:\n{lines}",
             icon=":material/report:")


def render() -> None:
    url = store_url_or_stop()
    windows, models = models_or_stop(url)
    link = deep_link("drift")
    st.title("Data drift")
    scope, extra = pick_scope(url, windows, models, key="drift", default_range="Last 24 hours",
                              override=link.override, extra_columns=1)
    model, version, span = scope.model, scope.version, scope.span
    with extra[0]:
        segment = pick_segment(url, model, version, key=f"drift.segment.{model}")
    keep_link("drift", model, version)
    reference_warning(url, model, version)
    heat = drift_heatmap(queries.drift_scores(url, model, version, span.start, span.end, segment))
    heat = heat[heat["is_partial"].ne(True)] if len(heat) else heat
    if heat.empty:
        st.info(f"No drift scores for {model} {version}{f' {segment}' if segment else ''} in this range. Drift "
                "needs a reference set for the model (models.<name>.reference in the config) and at least one "
                "computed window.")
        segment_table(url, model, version, span.start, span.end)
        return
    ranking = rank_features(heat)
    summary(url, model, version, ranking, heat["window_start"].max(), segment)
    if segment is None:  # the ranking is the whole model's
        look_first(url, model, version, heat["window_start"].max())
    segment_table(url, model, version, span.start, span.end)

    st.subheader("Drift strength by feature and window")
    st.caption(STRENGTH_RULE)
    st.vega_lite_chart(spec=drift_heatmap_chart(heat, list(ranking["feature"])), width="stretch")
    st.subheader("Features ranked by drift")
    ranking_table(ranking)
    if ranking["threshold_source"].eq("reference").any():
        st.caption("Learned thresholds: drift beyond mean + k·std of the score over reference chunks of the "
                   "window's size (threshold: reference); the feature detail below says how each was learned.")

    feature_detail(url, model, version, heat, ranking, segment)


render()
