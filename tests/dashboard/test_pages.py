"""Every dashboard page, run with streamlit.testing against a seeded SQLite and PostgreSQL store.

The seeded scenario (tests/dashboard/seed.py, ``known_spec``): windows are hourly,
the newest complete one starts 2026-01-15 10:00 UTC (index 46, so ``i % 24 == 22``),
the one after it is partial. fraud (v1 then v2, labels) drifts in its last 3 windows
and has a firing critical alert: red. churn has a pending latency alert and a p95 of
300 ms over 250: amber. price (regression, no labels) is green.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from alerts.outbox import dashboard_url
from monitor.store.tables import alerts as alerts_table
from monitor.store.tables import metric_values
from tests.dashboard.conftest import chart_of, charts
from tests.dashboard.seed import SeedResult, prediction_mean

pytestmark = pytest.mark.usefixtures("seeded")
OpenApp = Callable[..., AppTest]


def metrics(at: AppTest) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in at.metric]


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    # Allowed errors: the red health banner, a critical alert on the drift page.
    assert all("is **red**" in e.value or e.value.startswith("**Alert ") for e in at.error), [e.value for e in at.error]
    return at


# ---- overview ----------------------------------------------------------------------------------------------------

def test_overview_shows_open_alerts_first_with_links_to_their_window(open_app: OpenApp) -> None:
    at = ok(open_app())
    alerts = at.table[0].value
    assert list(alerts["Rule"]) == ["fraud-data-drift", "fraud-missing-f01", "churn-latency"]
    assert list(alerts["Severity"]) == ["critical", "warning", "warning"]
    assert list(alerts["State"]) == ["firing", "firing (silenced)", "pending"]
    assert alerts["Window"][0] == "[open ↗](model?model=fraud&version=v2&window=2026-01-15T10%3A00%3A00%2B00%3A00)"
    assert alerts["Condition"][1] == "missing_share · f01 > 0.1"
    assert at.subheader[0].value == "Open alerts (3)"


def test_overview_health_badges_and_latest_values_per_model(open_app: OpenApp) -> None:
    at = ok(open_app())
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert badges == [":red-badge[:material/error: red]", ":orange-badge[:material/warning: amber]",
                      ":green-badge[:material/check_circle: green]"]
    links = at.get("page_link")
    assert [link.proto.query_string for link in links] == ["model=fraud&version=v2", "model=churn&version=v1",
                                                           "model=price&version=v1"]
    values = metrics(at)
    assert values[:5] == [("Predictions", "720"), ("p95 latency", "126 ms"), ("Error rate", "1.00%"),
                          ("Drift share", "50.00%"), ("Accuracy", "0.85")]
    assert values[5:10] == [("Predictions", "820"), ("p95 latency", "300 ms"), ("Error rate", "1.10%"),
                            ("Drift share", "0.00%"), ("Accuracy", "0.92")]
    # price is a regression: its headline is MAE, not accuracy (no labels yet, so no value).
    assert values[10:] == [("Predictions", "920"), ("p95 latency", "156 ms"), ("Error rate", "1.20%"),
                           ("Drift share", "0.00%"), ("MAE", "—")]
    assert "no labels yet" in [c.value for c in at.caption]


def test_overview_sparklines_hold_the_last_windows_of_the_current_version(open_app: OpenApp) -> None:
    at = ok(open_app())
    traffic = list(at.metric[0].proto.chart_data)
    # fraud switched to v2 at window 24, so its v2 sparkline covers windows 24..46.
    assert traffic == [500.0 + 10 * (i % 24) for i in range(24, 47)]
    churn_latency = list(at.metric[6].proto.chart_data)
    assert len(churn_latency) == 47 and churn_latency[-1] == 300.0


def test_overview_table_view_explains_each_status(open_app: OpenApp) -> None:
    table = ok(open_app()).dataframe[0].value
    assert list(table["Health"]) == ["red", "amber", "green"]
    assert list(table["Labels"]) == ["80%", "80%", "no labels"]
    assert "critical alert firing: fraud-data-drift" in table["Why"][0]
    assert "dataset drift in the latest window" in table["Why"][0]
    assert table["Why"][1] == "warning alert pending: churn-latency; over threshold: latency_p95_ms"
    assert table["Why"][2] == "all vitals within thresholds"
    assert list(table["Performance"]) == ["Accuracy 0.85", "Accuracy 0.92", "MAE —"]
    assert "None" not in table.astype(str).to_numpy()


# ---- model page --------------------------------------------------------------------------------------------------

ALERT_LINK = {"model": "fraud", "version": "v2", "window": "2026-01-15T10:00:00+00:00"}


def test_alert_deep_link_opens_the_model_at_its_window(open_app: OpenApp) -> None:
    at = ok(open_app("model", ALERT_LINK))
    assert [s.value for s in at.selectbox] == ["fraud", "v2", "Around the linked window (±1 day)"]
    assert "**fraud** is **red**" in at.error[0].value
    assert metrics(at)[:4] == [("Predictions", "720"), ("Latency p95", "126 ms"), ("Error rate", "1.00%"),
                               ("Drift share", "50.00%")]
    window = at.dataframe[0].value
    # Drift scores say what their number is: label drift 0 is a p-value (lower = drift).
    assert list(window.loc[window["Breach"] == "yes", "Metric"]) == [
        "Concept drift", "Dataset drift", "Drift share", "Label drift (p-value, lower = drift)", "Performance drop",
        "Prediction drift (distance, higher = drift)"]
    label_drift = window.set_index("Metric").loc["Label drift (p-value, lower = drift)"]
    assert (label_drift["Value"], label_drift["Threshold"]) == ("0", "0.05")
    assert at.query_params["window"] == "2026-01-15T10:00:00+00:00"
    assert [s.value for s in at.subheader][:2] == ["Estimated performance (before labels)",
                                                  "Window 2026-01-15 10:00 UTC"]


def test_model_charts_carry_series_threshold_alert_markers_and_the_linked_window(open_app: OpenApp) -> None:
    at = ok(open_app("model", ALERT_LINK))
    traffic = chart_of(at, "Predictions")
    series = traffic.frame_with("series")
    assert set(series["series"]) == {"Predictions"}
    # ±1 day around 10:00 on v2 (windows 24..46): 09:00 on the 14th is v1, 10:00 on the 14th is v2.
    assert series["window_start"].min() == pd.Timestamp("2026-01-14 12:00", tz="UTC")
    assert series.set_index("window_start")["value"][pd.Timestamp("2026-01-15 10:00", tz="UTC")] == 720.0
    band = traffic.frame_with("start")
    assert band["start"][0] == pd.Timestamp("2026-01-15 10:00", tz="UTC")
    markers = pd.concat([frame for frame in traffic.data if "event" in frame.columns])
    assert ("alert started", "fraud-data-drift") in set(zip(markers["event"], markers["rule"], strict=True))
    latency = chart_of(at, "Latency p95")
    assert set(latency.frame_with("series")["series"]) == {"Latency p50", "Latency p95", "Latency p99"}
    assert latency.frame_with("threshold")["threshold"][0] == 250.0
    performance = chart_of(at, "Accuracy")
    concept = pd.concat([frame for frame in performance.data if "event" in frame.columns])
    assert sorted(concept.loc[concept["event"] == "concept drift", "time"].dt.hour) == [8, 9, 10]


def test_model_without_labels_says_so_instead_of_performance(open_app: OpenApp) -> None:
    at = ok(open_app("model", {"model": "price"}))
    assert at.selectbox[0].value == "price"
    assert at.success[0].value.startswith("**price** is **green**")
    assert any("No labels for this model" in info.value for info in at.info)
    titles = [m.value for m in at.markdown]
    assert "**Performance**" in titles and "**Label coverage**" not in titles
    output = chart_of(at, "Prediction mean")
    assert output.frame_with("series")["value"].iloc[-1] == prediction_mean(46)
    # The mean moves by hundredths, so its axis shows tenths (not "114, 114, 114") and
    # is not pulled down to zero.
    y = output.spec["layer"][0]["encoding"]["y"]  # type: ignore[index]
    assert y["axis"]["format"] == ",.1f" and y["scale"]["zero"] is False
    # Its headline is the regression's MAE.
    assert [label for label, _ in metrics(at)][4] == "MAE"


def test_model_page_selectors_keep_the_url_shareable_and_auto_refresh_runs(open_app: OpenApp) -> None:
    at = ok(open_app("model"))
    assert at.selectbox[0].value == "fraud"  # the model with the worst open alert comes first
    at.selectbox[0].set_value("churn").run()
    assert at.query_params == {"model": "churn", "version": "v1"}
    assert "**churn** is **amber**" in at.warning[0].value
    at.toggle[0].set_value(True).run()
    ok(at)
    classes = chart_of(at, "a")
    assert set(classes.frame_with("series")["series"]) == {"a", "b", "c"}


def test_the_link_alert_notifications_carry_opens_the_alert_window(open_app: OpenApp) -> None:
    url = dashboard_url("https://dash.example.com", model="fraud", model_version="v2",
                        window_start=datetime(2026, 1, 15, 9, tzinfo=UTC))
    parsed = urlsplit(url)
    assert parsed.path == "/model"
    at = ok(open_app("model", dict(parse_qsl(parsed.query))))
    assert [s.value for s in at.selectbox] == ["fraud", "v2", "Around the linked window (±1 day)"]
    assert at.subheader[1].value == "Window 2026-01-15 09:00 UTC"
    band = chart_of(at, "Predictions").frame_with("start")
    assert band["start"][0] == pd.Timestamp("2026-01-15 09:00", tz="UTC")


def test_deep_link_tolerates_a_plus_decoded_as_space(open_app: OpenApp) -> None:
    at = ok(open_app("model", {"model": "fraud", "version": "v2", "window": "2026-01-15T09:00:00 00:00"}))
    assert at.subheader[1].value == "Window 2026-01-15 09:00 UTC"
    assert ("Drift share", "50.00%") in metrics(at)


# ---- drift page --------------------------------------------------------------------------------------------------

def test_drift_page_summary_ranking_and_heatmap(open_app: OpenApp, seeded: SeedResult) -> None:
    at = ok(open_app("drift"))
    assert [s.value for s in at.selectbox[:3]] == ["fraud", "v2", "Last 24 hours"]
    assert metrics(at)[:4] == [("Dataset drift", "yes"), ("Drift share", "50.00%"), ("Drifting features", "2 of 4"),
                               ("Strongest", "country")]
    assert ("**Dataset drift verdict** (2026-01-15 10:00 UTC): yes: 50% of the features drift, at or over this "
            "model's drift_share setting of 50%.") in [m.value for m in at.markdown]
    ranking = at.dataframe[0].value
    assert list(ranking["Score is"]) == ["p-value ↓", "p-value ↓", "distance ↑", "distance ↑"]
    assert list(ranking["Drifted"]) == ["3 of 23", "3 of 23", "0 of 23", "0 of 23"]
    assert list(ranking["Feature"]) == ["country", "f00", "f01", "f02"]
    assert list(ranking["Test"]) == ["chisquare", "ks", "psi", "wasserstein"]
    assert ranking["Strength"][0] == 1.0
    heat = charts(at)[0].frame_with("strength")
    assert len(heat) == 4 * 23  # complete windows of the last 24 hours
    newest = heat[heat["window_start"] == pd.Timestamp(seeded.latest_complete)].set_index("feature")
    assert newest.loc["f00", "strength"] == 1.0 and bool(newest.loc["f00", "drifted"])
    # psi and wasserstein 0.042 against 0.1 read 0.21; ks p = 0.52 against 0.05 reads log(0.52)/log(0.05)/2.
    assert newest.loc["f01", "strength"] == pytest.approx(0.21)
    assert newest.loc["f02", "strength"] == pytest.approx(0.21)
    assert ranking.set_index("Feature").loc["f01", "Strength"] == pytest.approx(0.21)


def test_drift_feature_detail_shows_test_and_distributions(open_app: OpenApp) -> None:
    at = ok(open_app("drift"))
    assert at.selectbox[3].value == "country"
    assert metrics(at)[4:] == [("Test", "chisquare"), ("Score (p-value, lower = drift)", "0.001"),
                               ("Threshold", "0.05"), ("p-value", "0.001"), ("Drifted", "yes")]
    categories = charts(at)[1].frame_with("category")
    shares = categories.pivot_table(index="category", columns="sample", values="share")
    assert shares["reference"].sum() == pytest.approx(1.0) and shares["current"].sum() == pytest.approx(1.0)
    assert shares.loc["US", "current"] > shares.loc["US", "reference"]  # the drift moved traffic to US
    quality = at.table[0].value
    assert list(quality["Check"]) == ["Missing", "Out of range", "Unseen category", "Type mismatch"]
    assert quality.set_index("Check").loc["Unseen category", "Breach"] == "yes"

    at.selectbox[3].set_value("f00").run()
    ok(at)
    histogram = charts(at)[1].frame_with("bin_start")
    assert histogram.groupby("sample")["share"].sum().round(6).to_dict() == {"current": 1.0, "reference": 1.0}
    assert ("Test", "ks") in metrics(at)


def test_drift_page_shows_why_the_verdict_and_a_firing_drift_alert_differ(open_app: OpenApp, engine: Engine) -> None:
    # fraud's drift_share setting is 0.6 here: 50% of its features drifting is no dataset
    # drift, while the alert rule "dataset_drift_share > 0.3" fires.
    with engine.begin() as connection:
        fraud = metric_values.c.model == "fraud"
        connection.execute(metric_values.update().where(fraud, metric_values.c.metric == "dataset_drift_share")
                           .values(threshold=0.6, is_breach=False))
        connection.execute(metric_values.update().where(fraud, metric_values.c.metric == "dataset_drift")
                           .values(value=0.0, is_breach=False))
    at = ok(open_app("drift"))
    assert metrics(at)[:2] == [("Dataset drift", "no"), ("Drift share", "50.00%")]
    assert ("**Dataset drift verdict** (2026-01-15 10:00 UTC): no: 50% of the features drift, under this model's "
            "drift_share setting of 60%.") in [m.value for m in at.markdown]
    assert len(at.error) == 1
    alert = at.error[0].value
    assert alert.startswith("**Alert fraud-data-drift is firing** (critical): `dataset_drift_share > 0.3`")
    assert "lower than the drift_share setting the verdict uses" in alert


@pytest.mark.parametrize("page", ["model", "drift", "data_quality"])
def test_pages_open_on_the_model_that_needs_attention(open_app: OpenApp, engine: Engine, page: str) -> None:
    # No open alerts: fraud is red by its newest window's dataset drift, churn (first by
    # name) only amber by its latency.
    with engine.begin() as connection:
        connection.execute(alerts_table.update().values(state="resolved"))
    at = ok(open_app(page))
    assert at.selectbox[0].value == "fraud"


@pytest.mark.parametrize("page", ["drift", "data_quality"])
def test_every_per_model_page_honours_and_keeps_the_model_in_its_url(open_app: OpenApp, page: str) -> None:
    at = ok(open_app(page, {"model": "churn"}))
    assert at.selectbox[0].value == "churn"
    assert at.query_params == {"model": "churn", "version": "v1"}
    at.selectbox[0].set_value("price").run()
    ok(at)
    assert at.selectbox[0].value == "price" and at.query_params == {"model": "price", "version": "v1"}


# ---- alerts page -------------------------------------------------------------------------------------------------

def test_alerts_page_groups_alerts_by_state(open_app: OpenApp) -> None:
    at = ok(open_app("alerts"))
    assert metrics(at) == [("Firing", "1"), ("Critical firing", "1"), ("Pending", "1"), ("Silenced", "1"),
                           ("Resolved", "1")]
    assert [tab.label for tab in at.tabs] == ["Firing (1)", "Pending (1)", "Silenced (1)", "Resolved (1)"]
    tables = [table.value for table in at.table]
    assert list(tables[0]["Rule"]) == ["fraud-data-drift"]
    # Each tab shows the times its state has: a firing alert when it fired, no empty Resolved.
    assert list(tables[0].columns) == ["ID", "Severity", "Rule", "Model", "Condition", "Last value", "First breach",
                                       "Fired", "Last window"]
    assert tables[0]["Model"][0] == "fraud · v2" and tables[0]["Condition"][0] == "dataset_drift_share > 0.3"
    assert "Fired" not in tables[1].columns and "Resolved" in tables[3].columns
    assert list(tables[1]["Rule"]) == ["churn-latency"]
    assert list(tables[2]["Silence"]) == ["upstream fix for f01 is deploying"]
    assert list(tables[3]["Rule"]) == ["fraud-latency"]
    timeline = charts(at)[0].frame_with("label")
    assert sorted(timeline["label"]) == ["churn · churn-latency", "fraud · fraud-data-drift",
                                         "fraud · fraud-latency", "fraud · fraud-missing-f01"]


def test_alerts_page_shows_notifications_and_their_delivery(open_app: OpenApp) -> None:
    at = ok(open_app("alerts"))
    assert at.selectbox[0].value == 1  # the firing critical alert is preselected
    history = at.table[4].value  # after the four alert tabs
    assert sorted(history["Status"]) == ["delivered", "failed", "pending"]
    failed = history[history["Status"] == "failed"].iloc[0]
    assert failed["Channel"] == "retrain-fraud" and failed["Attempts"] == 5 and "HTTP 500" in failed["Last error"]
    delivery = at.dataframe[0].value
    assert delivery.loc["ml-team"].to_dict() == {"delivered": 3, "failed": 0, "pending": 1, "silenced": 1}
    assert delivery.loc["retrain-fraud", "failed"] == 1
    assert len(at.dataframe[1].value) == 6
    silences = at.dataframe[2].value
    assert bool(silences["Active"][0]) and silences["Rule"][0] == "fraud-missing-f01"
    # Missing values are blank, not the grid's literal "None".
    for frame in [*at.dataframe, *at.table]:
        assert "None" not in frame.value.astype(str).to_numpy(), frame.value


# ---- data quality page -------------------------------------------------------------------------------------------

def test_data_quality_page_groups_dead_letters_and_shows_feature_shares(open_app: OpenApp) -> None:
    at = ok(open_app("data_quality"))
    # Six JSON errors at three different columns are one kind of reason.
    assert metrics(at)[:2] == [("Dead letters", "12"), ("Kinds of reason", "3")]
    reasons = at.dataframe[0].value
    assert list(reasons["Count"]) == [6, 4, 2]
    assert list(reasons["Variants"]) == [3, 1, 1]
    assert reasons["Reason"][0] == "not valid JSON: Expecting value"
    assert reasons["Newest example"][0].startswith("not valid JSON: Expecting value at line 1 column ")
    assert reasons["Reason"][1] == "missing required field 'model_version'"
    samples = at.dataframe[1].value
    assert len(samples) == 12 and samples["Message (start)"][0] == "{not json"
    newest = at.dataframe[2].value.set_index("Feature")
    assert newest.loc["f01", "Breach"] == "yes" and newest.loc["f01", "Missing"] == 0.2
    assert newest.loc["country", "Unseen category"] == 0.3
    missing = chart_of(at, "f01")
    assert missing.frame_with("threshold")["threshold"][0] == 0.1
    # Out of range moves between 0.02% and 0.038%: a zero-based axis whose ticks differ.
    y = chart_of(at, "f00").spec["layer"][0]["encoding"]["y"]  # type: ignore[index]
    assert y["scale"]["zero"] is True and y["axis"]["format"] == ".2%"


def test_model_charts_mark_when_an_alert_fired_and_resolved(open_app: OpenApp) -> None:
    # fraud-latency (v1) started, fired two windows later and resolved: all three on the chart.
    at = ok(open_app("model", {"model": "fraud", "version": "v1"}))
    latency = chart_of(at, "Latency p95")
    markers = pd.concat([frame for frame in latency.data if "event" in frame.columns])
    events = dict(zip(markers.loc[markers["rule"] == "fraud-latency", "event"],
                      markers.loc[markers["rule"] == "fraud-latency", "time"], strict=True))
    assert set(events) == {"alert started", "alert fired", "alert resolved"}, markers
    assert events["alert started"] < events["alert fired"] < events["alert resolved"]
    # The v2 alerts are not drawn on v1's charts.
    assert "fraud-data-drift" not in set(markers["rule"])


def test_an_unusable_reference_is_said_on_the_drift_page_and_in_the_health(open_app: OpenApp, engine: Engine,
                                                                          seeded: SeedResult) -> None:
    # churn (amber by its latency) gets a reference whose 'f01' column holds no number.
    reason = "reference values of feature 'f01' are text ('1.5', 'n/a'), not numbers: fix the reference data"
    with engine.begin() as connection:
        for start in seeded.windows[-2:]:  # the newest complete and the partial window
            connection.execute(metric_values.insert().values(
                model="churn", model_version="v1", window_start=start, window_end=start + pd.Timedelta(hours=1),
                metric="reference_problem", feature="f01", value=1.0, threshold=None, is_breach=True,
                is_partial=start == seeded.windows[-1], details={"problem": "mixed_types", "reason": reason},
                computed_at=datetime(2026, 1, 15, 12, tzinfo=UTC)))
    drift = open_app("drift", {"model": "churn"})
    assert not drift.exception, [e.value for e in drift.exception]
    [banner] = [e.value for e in drift.error if "reference" in e.value]
    assert banner.startswith("**The reference of churn v1 cannot judge 1 feature(s)**")
    assert "`f01`: reference values of feature 'f01' are text" in banner

    overview = open_app()
    captions = [c.value for c in overview.caption]
    assert any("reference unusable for: f01" in text for text in captions), captions
    # fraud has no reference problem: its drift page shows none.
    assert not [e.value for e in open_app("drift", {"model": "fraud"}).error if "cannot judge" in e.value]


def test_model_page_charts_estimated_performance_in_its_band_with_thresholds_and_the_realized_value(
        open_app: OpenApp, engine: Engine, seeded: SeedResult) -> None:
    estimates = [0.91, 0.88, 0.80]
    with engine.begin() as connection:
        for index, start in enumerate(seeded.windows[-4:]):  # three complete windows and the partial one
            end = start + pd.Timedelta(hours=1)
            common = {"model": "fraud", "model_version": "v2", "window_start": start, "window_end": end,
                      "feature": None, "is_partial": start == seeded.windows[-1],
                      "computed_at": datetime(2026, 1, 15, 12, tzinfo=UTC)}
            estimate = estimates[index] if index < 3 else 0.5
            realized = {"realized": estimate - 0.01} if index < 2 else {}  # labels of the newest not in yet
            connection.execute(metric_values.insert().values(
                **common, metric="estimated_accuracy", value=estimate, threshold=0.84, is_breach=estimate < 0.84,
                details={"method": "cbpe", "lower_band": estimate - 0.03, "upper_band": estimate + 0.03,
                         "lower_threshold": 0.84, "upper_threshold": None, "sampling_error": 0.01, **realized}))
            connection.execute(metric_values.insert().values(
                **common, metric="multivariate_drift", value=1.0 + index / 10, threshold=1.25,
                is_breach=False, details={"method": "pca", "lower_band": 0.9 + index / 10,
                                          "upper_band": 1.1 + index / 10, "lower_threshold": 0.75,
                                          "upper_threshold": 1.25 + (0.2 if index == 2 else 0.0),
                                          "sampling_error": 0.03}))
    at = ok(open_app("model", ALERT_LINK))
    assert "Estimated performance (before labels)" in [s.value for s in at.subheader]
    titles = [m.value for m in at.markdown]
    assert "**Accuracy (estimated)**" in titles and "**Multivariate drift (PCA reconstruction error)**" in titles
    accuracy = chart_of(at, "realized")
    lines = accuracy.frame_with("series")
    newest = seeded.windows[-4:-1]
    estimate_line = lines[lines["series"] == "estimate"].set_index("window_start")["value"]
    assert list(estimate_line[newest]) == estimates  # the partial window is not drawn
    realized_line = lines[lines["series"] == "realized"].set_index("window_start")["value"]
    assert list(realized_line.index) == newest[:2]
    assert list(realized_line) == pytest.approx([0.90, 0.87])
    band = accuracy.frame_with("lower_band").set_index("window_start")
    assert list(band.loc[newest, "lower_band"]) == pytest.approx([0.88, 0.85, 0.77])
    assert list(band.loc[newest, "upper_band"]) == pytest.approx([0.94, 0.91, 0.83])
    steps = accuracy.frame_with("bound")  # each window's thresholds; no upper threshold learned
    assert set(steps["bound"]) == {"lower threshold"} and set(steps["threshold"]) == {0.84}
    drift = next(chart for chart in charts(at) if any("bound" in frame.columns for frame in chart.data)
                 and set(chart.frame_with("series")["series"]) == {"estimate"})
    drift_steps = drift.frame_with("bound").set_index(["window_start", "bound"])["threshold"]
    assert drift_steps[(newest[0], "lower threshold")] == 0.75
    assert drift_steps[(newest[0], "upper threshold")] == 1.25
    # thresholds drawn for a window's rows differ window to window: each window shows its own
    assert drift_steps[(newest[2], "upper threshold")] == pytest.approx(1.45)
    assert list(drift.frame_with("series")["value"]) == pytest.approx([1.0, 1.1, 1.2])
    assert not any("Estimation needs a reference" in c.value for c in at.caption)

    # A model without estimates says what estimation needs instead of drawing empty charts.
    price = ok(open_app("model", {"model": "price"}))
    [caption] = [c.value for c in price.caption if "No performance estimates" in c.value]
    assert "reference with labels and scores" in caption and "`models.price.estimation`" in caption
    assert not [chart for chart in charts(price) if any("lower_band" in frame.columns for frame in chart.data)]
    # Without a realized value the legend offers none.
    [line] = [layer for layer in drift.spec["layer"]  # type: ignore[attr-defined]
              if layer["data"]["name"] == "series" and layer["mark"]["type"] == "line"]
    assert line["encoding"]["color"]["scale"]["domain"] == ["estimate"]


def _cell_row(model: str, version: str, start: datetime, metric: str, value: float, *, feature: str | None = None,
              breach: bool = False, **details: object) -> dict[str, object]:
    return {"model": model, "model_version": version, "window_start": start,
            "window_end": start + pd.Timedelta(hours=1), "feature": feature, "is_partial": False,
            "computed_at": datetime(2026, 1, 15, 12, tzinfo=UTC),
            "metric": metric, "value": value, "threshold": 30.0, "is_breach": breach,
            "details": {"method": "cbpe", "lower_band": value - 4, "upper_band": value + 4, "lower_threshold": 5.0,
                        "upper_threshold": 30.0, "rows": 100, **details}}


def test_model_page_shows_the_estimated_confusion_matrix_beside_the_realized_one(
        open_app: OpenApp, engine: Engine, seeded: SeedResult) -> None:
    window = datetime(2026, 1, 15, 10, tzinfo=UTC)  # ALERT_LINK's window
    binary = {"true_positive": (20.4, 19), "false_negative": (5.6, 7), "false_positive": (9.1, 8),
              "true_negative": (64.9, 66)}
    cells = [(f"true={a},pred={b}", a, b, 10.0 + 3 * i + j) for i, a in enumerate(("bird", "cat", "dog"))
             for j, b in enumerate(("bird", "cat", "dog"))]
    with engine.begin() as connection:
        connection.execute(metric_values.insert(), [
            _cell_row("fraud", "v2", window, f"estimated_{name}", estimate, realized=realized, labelled_rows=100)
            for name, (estimate, realized) in binary.items()])
        connection.execute(metric_values.insert(), [
            _cell_row("churn", "v1", seeded.latest_complete, "estimated_confusion_cell", estimate, feature=feature,
                      breach=estimate > 17, true_class=a, predicted_class=b, realized_so_far=3.0, labelled_rows=40)
            for feature, a, b, estimate in cells])

    at = ok(open_app("model", ALERT_LINK))
    assert "**Estimated confusion matrix, window 2026-01-15 10:00 UTC**" in [m.value for m in at.markdown]
    estimated, realized = (table.value for table in at.table[-3:-1])
    assert list(estimated.index) == ["true positive", "true negative"]
    assert list(estimated.columns) == ["predicted positive", "predicted negative"]
    assert estimated.loc["true positive", "predicted negative"] == "5.6 (2–10)"
    assert realized.loc["true negative", "predicted negative"] == "66"
    # the cells are a matrix, not four more lines among the estimate charts
    assert "**True positive (estimated)**" not in [m.value for m in at.markdown]

    churn = ok(open_app("model", {"model": "churn"}))
    [matrix] = [table.value for table in churn.table if "predicted cat" in table.value.columns]
    assert list(matrix.index) == ["true bird", "true cat", "true dog"]
    assert matrix.loc["true dog", "predicted dog"] == "18.0 (14–22)"
    assert any("40 of 100 rows labelled so far" in c.value for c in churn.caption)


def test_drift_page_shows_learned_thresholds_and_which_feature_to_look_at_first(
        open_app: OpenApp, engine: Engine, seeded: SeedResult) -> None:
    learned = {"chunk_size": 290, "chunks": 17, "mean": 0.031, "std": 0.012, "std_multiplier": 3.0,
               "scale": "distance"}
    ranking = {"method": "correlation", "performance_metric": "accuracy", "windows": 12, "look_first": "f00",
               "features": [{"feature": "f00", "rank": 1, "correlation": 0.93},
                            {"feature": "country", "rank": 2, "correlation": 0.41}]}
    mv = metric_values.c
    with engine.begin() as connection:
        rows = connection.execute(metric_values.select().where(
            mv.model == "fraud", mv.metric.in_(["feature_drift_score", "dataset_drift_share"]),
            mv.window_start == seeded.latest_complete)).all()
        for row in rows:
            if row.metric == "dataset_drift_share":
                details = {**row.details, "ranking": ranking}
            elif row.feature == "f01":
                details = {**row.details, "threshold_source": "reference", "learned": learned}
            else:
                continue
            connection.execute(metric_values.update().where(mv.id == row.id).values(details=details))
    at = ok(open_app("drift"))
    [tip] = [info.value for info in at.info]
    assert tip == ("**Look at `f00` first**: its drift tracks the drop of Accuracy (correlation 0.93 over 12 "
                   "windows).")
    ranked = at.dataframe[0].value
    assert list(ranked["Feature"]) == ["f00", "country"] and list(ranked["Correlation"]) == [0.93, 0.41]
    table = at.dataframe[1].value.set_index("Feature")
    assert table.loc["f01", "Threshold"] == "0.1 learned" and table.loc["f00", "Threshold"] == "0.05"
    assert any("Learned thresholds" in caption.value for caption in at.caption)

    at.selectbox[3].set_value("f01").run()
    ok(at)
    assert ("Threshold (learned)", "0.1") in metrics(at)
    assert ("Threshold learned from the reference: 17 chunks of 290 rows (the window's size), mean 0.031 + 3 × "
            "std 0.012.") in [caption.value for caption in at.caption]
