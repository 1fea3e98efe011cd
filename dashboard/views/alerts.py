"""Alerts page: firing, pending, silenced and resolved alerts; their notifications."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.charts import alert_timeline_chart
from dashboard.controls import now_utc, store_url_or_stop
from dashboard.formatting import blank_missing, cell_style, format_time, markdown_safe
from dashboard.frames import active_silence
from dashboard.time_ranges import model_page_query


def group_alerts(alerts: pd.DataFrame, silences: pd.DataFrame, now: datetime) -> dict[str, pd.DataFrame]:
    """Firing, pending, silenced (open and covered by an active silence) and resolved."""
    frame = alerts.assign(silence=active_silence(alerts, silences, now))
    is_open = frame["state"].isin(["pending", "firing"])
    silenced = is_open & frame["silence"].notna()
    return {
        "Firing": frame[(frame["state"] == "firing") & ~silenced],
        "Pending": frame[(frame["state"] == "pending") & ~silenced],
        "Silenced": frame[silenced],
        "Resolved": frame[frame["state"] == "resolved"],
    }


def alert_table(frame: pd.DataFrame, group: str = "Firing") -> pd.DataFrame:
    """The alerts of one tab, with the columns that tab needs (the tab already says
    the state; only resolved alerts have a resolution time, only fired ones a firing time)."""
    table = pd.DataFrame(
        {
            "ID": frame["id"],
            "Severity": frame["severity"],
            "State": frame["state"],
            "Rule": frame["rule"],
            "Model": [str(model) if pd.isna(version) else f"{model} · {version}"
                      for model, version in zip(frame["model"], frame["model_version"], strict=True)],
            "Condition": [f"{metric}{'' if pd.isna(feature) else f' · {feature}'} {condition}"
                          for metric, feature, condition in zip(frame["metric"], frame["feature"],
                                                                 frame["condition"], strict=True)],
            "Last value": frame["last_value"],
            "First breach": frame["started_at"],
            "Fired": frame["fired_at"],
            "Resolved": frame["resolved_at"],
            "Silence": frame["silence"],
            "Last window": [
                "[open ↗](model?" + model_page_query(
                    row.model, None if pd.isna(row.model_version) else row.model_version,
                    None if pd.isna(row.last_window_start) else row.last_window_start) + ")"
                for row in frame.itertuples()
            ],
        }
    ).reset_index(drop=True)
    unused = {"Firing": ["State", "Resolved", "Silence"], "Pending": ["State", "Fired", "Resolved", "Silence"],
              "Silenced": ["Resolved"], "Resolved": ["State", "Silence"]}.get(group, [])
    return blank_missing(table.drop(columns=unused), numbers={"Last value": "{:.4g}"})


TABLE_ROWS = 50


def notification_table(notes: pd.DataFrame) -> pd.DataFrame:
    return blank_missing(pd.DataFrame(
        {
            "Alert": notes["alert_id"],
            "Rule": notes["rule"],
            "Channel": notes["channel"],
            "Event": notes["event"],
            "Status": notes["status"],
            "Attempts": notes["attempts"],
            "Created": notes["created_at"],
            # A notification is delivered or waits for its next attempt, never both: one column.
            "Delivered / next try": notes["delivered_at"].fillna(notes["next_attempt_at"]),
            "Last error": notes["last_error"],
        }
    ).reset_index(drop=True))


NOTIFICATION_COLUMNS = {"Last error": st.column_config.TextColumn(width="medium")}


def alert_history(url: str, alerts: pd.DataFrame) -> None:
    st.subheader("Alert history")
    ordered = alerts.assign(
        state_rank=alerts["state"].map({"firing": 0, "pending": 1}).fillna(2),
        severity_rank=alerts["severity"].map({"critical": 0, "warning": 1}).fillna(2),
    ).sort_values(["state_rank", "severity_rank", "started_at"], ascending=[True, True, False])
    labels = {int(row.id): f"#{row.id} {row.rule} · {row.model} ({row.state}, {row.severity})"
              for row in ordered.itertuples()}
    chosen = st.selectbox("Alert", list(labels), format_func=lambda key: labels[key], key="alerts.detail")
    alert = alerts[alerts["id"] == chosen].iloc[0]
    events = [("first breach (window start)", alert["started_at"]), ("fired", alert["fired_at"]),
              ("last notified", alert["last_notified_at"]), ("resolved", alert["resolved_at"])]
    st.markdown("  \n".join(f"**{name}**: {format_time(when)}" for name, when in events if pd.notna(when)))
    st.caption(f"Condition `{alert['metric']} {alert['condition']}`, last value {alert['last_value']:.4g} in window "
               f"{format_time(alert['last_window_start'])}." if pd.notna(alert["last_value"]) else "")
    notes = queries.notification_list(url, int(chosen))
    if notes.empty:
        st.caption("No notifications for this alert.")
    else:
        # A handful of rows: a static table, which wraps a long error instead of cutting it.
        # Every row is this alert's: no Alert and Rule columns.
        own = notification_table(notes).drop(columns=["Alert", "Rule"])
        table = markdown_safe(own).style.map(cell_style, subset=["Status"])
        st.table(table, hide_index=True)


def show_notifications(notes: pd.DataFrame) -> None:
    st.dataframe(notification_table(notes).style.map(cell_style, subset=["Status"]), hide_index=True,
                 width="stretch", column_config=NOTIFICATION_COLUMNS)


def render() -> None:
    url = store_url_or_stop()
    st.title("Alerts")
    alerts = queries.alert_list(url)
    silences = queries.silence_list(url)
    now = now_utc()
    if alerts.empty:
        st.success("No alerts have been raised yet.", icon=":material/check_circle:")
    else:
        models = sorted(alerts["model"].unique())
        chosen = st.multiselect("Models", models, default=models, key="alerts.models")
        alerts = alerts[alerts["model"].isin(chosen)]
        groups = group_alerts(alerts, silences, now)
        counts = st.columns(5)
        firing = groups["Firing"]
        counts[0].metric("Firing", len(firing), help="Firing and not silenced.")
        counts[1].metric("Critical firing", int((firing["severity"] == "critical").sum()))
        counts[2].metric("Pending", len(groups["Pending"]), help="Breaching, not yet for the rule's `for` windows.")
        counts[3].metric("Silenced", len(groups["Silenced"]))
        counts[4].metric("Resolved", len(groups["Resolved"]))
        tabs = st.tabs([f"{name} ({len(frame)})" for name, frame in groups.items()])
        for tab, (name, frame) in zip(tabs, groups.items(), strict=True):
            with tab:
                if frame.empty:
                    st.caption(f"No {name.lower()} alerts.")
                else:
                    # A static table wraps its cells: every column stays in view in a narrow window.
                    shown = frame.head(TABLE_ROWS)
                    table = alert_table(shown, name)
                    styled = [column for column in ("Severity", "State") if column in table.columns]
                    st.table(markdown_safe(table, markdown=["Last window"]).style.map(cell_style, subset=styled),
                             hide_index=True)
                    if len(frame) > len(shown):
                        st.caption(f"The newest {len(shown)} of {len(frame)} {name.lower()} alerts.")
        if not alerts.empty:
            st.subheader("Timeline")
            st.vega_lite_chart(spec=alert_timeline_chart(alerts, now), width="stretch")
            alert_history(url, alerts)

    st.subheader("Notifications")
    notes = queries.notification_list(url)
    if notes.empty:
        st.caption("No notifications sent yet.")
    else:
        delivery = notes.pivot_table(index="channel", columns="status", values="id", aggfunc="count", fill_value=0)
        st.markdown("**Delivery by channel** (notifications per status)")
        st.dataframe(delivery, width="stretch")
        show_notifications(notes)

    st.subheader("Silences")
    if silences.empty:
        st.caption("No silences.")
    else:
        active = (silences["starts_at"] <= now) & (silences["ends_at"] > now)
        table = silences.assign(active=active)[["active", "rule", "model", "feature", "starts_at", "ends_at",
                                                "comment", "created_by"]]
        st.dataframe(
            blank_missing(table.rename(columns={
                "active": "Active", "rule": "Rule", "model": "Model", "feature": "Feature", "starts_at": "Starts",
                "ends_at": "Ends", "comment": "Comment", "created_by": "Created by"})),
            hide_index=True,
            width="stretch",
        )


render()
