"""Overview: open alerts on top, then every model's health, latest vitals and trends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.controls import models_or_stop, now_utc, store_url_or_stop
from dashboard.formatting import cell_style, format_age, format_time, format_value
from dashboard.frames import active_silence, sparkline, wide_latest
from dashboard.health import HEALTH_RULE, Health, HealthStatus, assess_models
from dashboard.navigation import page_file
from dashboard.time_ranges import model_page_query

VITALS = ("prediction_count", "latency_p95_ms", "error_rate", "dataset_drift_share", "accuracy", "label_coverage")
TRENDS = ("prediction_count", "latency_p95_ms", "error_rate", "dataset_drift_share", "accuracy")
CARD_METRICS = (("prediction_count", "Predictions"), ("latency_p95_ms", "p95 latency"), ("error_rate", "Error rate"),
                ("dataset_drift_share", "Drift share"), ("accuracy", "Accuracy"))
SPARK_WINDOWS = 48
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
    return pd.DataFrame(
        {
            "Severity": open_["severity"],
            "State": [s if pd.isna(c) else f"{s} (silenced)" for s, c in zip(open_["state"], open_["silenced"],
                                                                               strict=True)],
            "Model": open_["model"],
            "Rule": open_["rule"],
            "Metric": open_["metric"] + open_["feature"].map(lambda f: "" if pd.isna(f) else f" · {f}"),
            "Condition": open_["condition"],
            "Last value": open_["last_value"],
            "Since (first breach)": open_["started_at"],
            "Window": ["model?" + model_page_query(row.model, row.model_version, row.last_window_start)
                       for row in open_.itertuples()],
        }
    ).reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class ModelRow:
    model: str
    version: str
    last_window: pd.Timestamp
    health: HealthStatus
    values: dict[str, float | None]
    trends: dict[str, list[float]]
    coverage: float | None

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
        ))
    return sorted(rows, key=lambda row: (-list(Health).index(row.health.health), row.model))


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def model_card(row: ModelRow) -> None:
    status, values, trends, model, version = row.health, row.values, row.trends, row.model, row.version
    with st.container(border=True):
        columns = st.columns([2.4, 1, 1, 1, 1, 1], vertical_alignment="center")
        with columns[0]:
            colour, icon = BADGE[status.health]
            st.badge(status.health.value, icon=icon, color=colour)  # type: ignore[arg-type]
            st.page_link(page_file("model"), label=f"**{model}** · {version}", icon=":material/query_stats:",
                         query_params={"model": model, "version": version})
            st.caption(f"Window {format_time(row.last_window)} · {status.summary}")
        for column, (metric, label) in zip(columns[1:], CARD_METRICS, strict=True):
            value = values.get(metric)
            if metric == "accuracy" and not row.labelled:
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
        table.append({
            "Health": row.health.health.value,
            "Model": f"model?{model_page_query(row.model, row.version)}",
            "Version": row.version,
            "Last window": row.last_window,
            "Predictions": values.get("prediction_count"),
            "p95 latency (ms)": values.get("latency_p95_ms"),
            "Error rate": values.get("error_rate"),
            "Drift share": values.get("dataset_drift_share"),
            "Accuracy": values.get("accuracy") if row.labelled else None,
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
        st.dataframe(
            table.style.map(cell_style, subset=["Severity", "State"]),
            hide_index=True,
            width="stretch",
            column_config={
                "Last value": st.column_config.NumberColumn(format="%.4g"),
                "Since (first breach)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", timezone="UTC"),
                "Window": st.column_config.LinkColumn("Window", display_text="open ↗"),
            },
        )

    st.subheader("Models")
    rows = model_rows(url, models, alerts)
    for row in rows:
        model_card(row)
    with st.expander("All models as a table", icon=":material/table:"):
        st.dataframe(
            model_table(rows).style.map(cell_style, subset=["Health"]),
            hide_index=True,
            width="stretch",
            column_config={
                "Model": st.column_config.LinkColumn("Model", display_text=r"model=([^&]+)"),
                "Last window": st.column_config.DatetimeColumn(format="MMM DD HH:mm", timezone="UTC"),
                "Predictions": st.column_config.NumberColumn(format="%d"),
                "p95 latency (ms)": st.column_config.NumberColumn(format="%.0f"),
                "Error rate": st.column_config.NumberColumn(format="percent"),
                "Drift share": st.column_config.NumberColumn(format="percent"),
                "Accuracy": st.column_config.NumberColumn(format="%.3f"),
            },
        )


render()
