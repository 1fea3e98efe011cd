"""Overview: open alerts on top, then every model's health, latest vitals and trends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.controls import models_or_stop, now_utc, store_url_or_stop
from dashboard.formatting import (
    blank_missing,
    cell_style,
    format_age,
    format_time,
    format_value,
    markdown_safe,
    metric_label,
)
from dashboard.frames import active_silence, headline_metric, sparkline, wide_latest
from dashboard.health import HEALTH_RULE, Health, HealthStatus, assess_models
from dashboard.navigation import page_file
from dashboard.time_ranges import model_page_query

PERFORMANCE = ("accuracy", "mae", "rmse")  # the headline metric of a classifier, of a regression
VITALS = ("prediction_count", "latency_p95_ms", "error_rate", "dataset_drift_share", *PERFORMANCE, "label_coverage")
TRENDS = ("prediction_count", "latency_p95_ms", "error_rate", "dataset_drift_share", *PERFORMANCE)
# "performance" is the model's headline metric (headline_metric): accuracy, or MAE for regression.
CARD_METRICS = (("prediction_count", "Predictions"), ("latency_p95_ms", "p95 latency"), ("error_rate", "Error rate"),
                ("dataset_drift_share", "Drift share"), ("performance", ""))
SPARK_WINDOWS = 48
TABLE_NUMBERS = {"Predictions": "{:,.0f}", "p95 latency (ms)": "{:,.0f}", "Error rate": "{:.2%}",
                 "Drift share": "{:.2%}"}
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
BADGE = {Health.RED: ("red", ":material/error:"), Health.AMBER: ("orange", ":material/warning:"),
         Health.GREEN: ("green", ":material/check_circle:")}


def open_alerts_table(alerts: pd.DataFrame, silences: pd.DataFrame) -> pd.DataFrame:
    """Pending and firing alerts, firing and critical first, with a link to their window."""
    open_ = alerts[alerts["state"].isin(["pending", "firing"])].copy()
    if open_.empty:
        return pd.DataFrame()
    open_["silenced"] = active_silence(open_, silences, now_utc())
    open_["severity_rank"] = open_["severity"].map(SEVERITY_ORDER).fillna(3)
    open_["state_rank"] = (open_["state"] != "firing").astype(int)
    open_ = open_.sort_values(["state_rank", "severity_rank", "started_at"])
    return blank_missing(pd.DataFrame(
        {
            "Severity": open_["severity"],
            "State": [s if pd.isna(c) else f"{s} (silenced)" for s, c in zip(open_["state"], open_["silenced"],
                                                                               strict=True)],
            "Rule": open_["rule"],
            "Model": open_["model"],
            "Condition": [f"{metric}{'' if pd.isna(feature) else f' · {feature}'} {condition}"
                          for metric, feature, condition in zip(open_["metric"], open_["feature"],
                                                                 open_["condition"], strict=True)],
            "Last value": open_["last_value"],
            "Since (first breach)": open_["started_at"],
            "Window": [f"[open ↗](model?{model_page_query(row.model, row.model_version, row.last_window_start)})"
                       for row in open_.itertuples()],
        }
    ).reset_index(drop=True), numbers={"Last value": "{:.4g}"})


@dataclass(frozen=True, slots=True)
class ModelRow:
    model: str
    version: str
    last_window: pd.Timestamp
    health: HealthStatus
    values: dict[str, float | None]
    trends: dict[str, list[float]]
    coverage: float | None
    performance: str = "accuracy"  # the headline metric

    @property
    def labelled(self) -> bool:
        return self.coverage is not None and pd.notna(self.coverage) and self.coverage > 0


def model_rows(url: str, models: pd.DataFrame, alerts: pd.DataFrame) -> list[ModelRow]:
    """Per model: health, newest complete values and the trends, ordered red → green."""
    latest = models.dropna(subset=["last_complete_window"])
    points = queries.latest_points(url, queries.pairs(list(latest["model"]), list(latest["last_complete_window"])))
    health = assess_models(models["model"], alerts[alerts["state"].isin(["pending", "firing"])], points)
    values = wide_latest(points, VITALS)
    since = models["last_complete_window"].min() - timedelta(hours=SPARK_WINDOWS)
    series = queries.metric_series(url, tuple(models["model"]), TRENDS, since.to_pydatetime(), None)
    metrics_of = points.groupby("model")["metric"].agg(set).to_dict() if len(points) else {}
    rows = []
    for model in models.itertuples():
        vitals = values.loc[model.model] if model.model in values.index else pd.Series(index=list(VITALS))
        rows.append(ModelRow(
            model=str(model.model),
            version=str(model.version),
            last_window=model.last_complete_window,
            health=health[model.model],
            values={metric: _number(vitals.get(metric)) for metric in VITALS},
            trends={metric: sparkline(series, model.model, model.version, metric, SPARK_WINDOWS) for metric in TRENDS},
            coverage=_number(vitals.get("label_coverage")),
            performance=headline_metric(metrics_of.get(model.model, set())),
        ))
    return sorted(rows, key=lambda row: (-list(Health).index(row.health.health), row.model))


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def model_card(row: ModelRow) -> None:
    status, values, trends, model, version = row.health, row.values, row.trends, row.model, row.version
    with st.container(border=True):
        # The name and the reasons get the card's width, the tiles a row of their own:
        # side by side, five tiles no longer fit a 1000 px wide window.
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            colour, icon = BADGE[status.health]
            st.badge(status.health.value, icon=icon, color=colour)  # type: ignore[arg-type]
            st.page_link(page_file("model"), label=f"**{model}** · {version}", icon=":material/query_stats:",
                         query_params={"model": model, "version": version}, width="content")
        st.caption(f"Window {format_time(row.last_window)} · {status.summary}")
        columns = st.columns(len(CARD_METRICS))
        for column, (metric, label) in zip(columns, CARD_METRICS, strict=True):
            if metric == "performance":
                metric, label = row.performance, metric_label(row.performance)
            value = values.get(metric)
            if metric in PERFORMANCE and not row.labelled:
                column.metric(label, "—", help="No labels joined to this model's predictions yet.")
                column.caption("no labels yet")
                continue
            column.metric(label, format_value(metric, value), chart_data=trends.get(metric) or None,
                          chart_type="area" if metric == "dataset_drift_share" else "line",
                          help=f"Newest complete window; the chart shows the last {SPARK_WINDOWS} windows.")


def model_table(rows: list[ModelRow]) -> pd.DataFrame:
    table = []
    for row in rows:
        values = row.values
        performance = values.get(row.performance) if row.labelled else None
        table.append({
            "Health": row.health.health.value,
            "Model": f"model?{model_page_query(row.model, row.version)}",
            "Version": row.version,
            "Last window": row.last_window,
            "Predictions": values.get("prediction_count"),
            "p95 latency (ms)": values.get("latency_p95_ms"),
            "Error rate": values.get("error_rate"),
            "Drift share": values.get("dataset_drift_share"),
            "Performance": (f"{metric_label(row.performance)} {format_value(row.performance, performance)}"
                            if performance is not None else f"{metric_label(row.performance)} —"),
            "Labels": f"{row.coverage:.0%}" if row.labelled and row.coverage is not None else "no labels",
            "Why": row.health.summary,
        })
    return pd.DataFrame(table)


def render() -> None:
    url = store_url_or_stop()
    st.title("Model health")
    _windows, models = models_or_stop(url)
    alerts = queries.alert_list(url)
    newest = models["last_complete_window"].max()
    st.caption(f"{len(models)} models · newest complete window {format_time(newest)} "
               f"({format_age(newest, now_utc())}) · times in UTC")
    with st.expander("How health is decided", icon=":material/help:"):
        st.markdown(HEALTH_RULE)

    table = open_alerts_table(alerts, queries.silence_list(url)) if not alerts.empty else pd.DataFrame()
    st.subheader(f"Open alerts ({len(table)})")
    if table.empty:
        st.success("No pending or firing alerts.", icon=":material/check_circle:")
    else:
        # A static table wraps its cells: every column stays in view in a narrow window.
        st.table(markdown_safe(table, markdown=["Window"]).style.map(cell_style, subset=["Severity", "State"]),
                 hide_index=True)

    st.subheader("Models")
    rows = model_rows(url, models, alerts)
    for row in rows:
        model_card(row)
    with st.expander("All models as a table", icon=":material/table:"):
        st.dataframe(
            blank_missing(model_table(rows), numbers=TABLE_NUMBERS).style.map(cell_style, subset=["Health"]),
            hide_index=True,
            width="stretch",
            column_config={"Model": st.column_config.LinkColumn("Model", display_text=r"model=([^&]+)")},
        )


render()
