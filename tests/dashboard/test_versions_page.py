"""The Versions page on a store the scheduler filled: a worse canary (v2) beside the champion (v1)
in two hourly windows, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from monitor.jobs.scheduler import WindowScheduler
from tests.dashboard.conftest import charts
from tests.monitor.jobs.canary_data import labels_of, traffic
from tests.monitor.jobs.store_data import DAY, FRAUD_MODEL, HOUR, config, insert_predictions, upsert_labels


def seed_canary(engine: Engine, hours: int = 2) -> None:
    """A champion and a worse canary (more errors, slower, shifted inputs, less accurate), computed."""
    for hour in range(hours):
        start = DAY + hour * HOUR
        champion = traffic("v1", 400, seed=10 + hour, error_rate=0.02, latency=10, shift=0.0, start=start,
                           prefix=f"h{hour}-")
        canary = traffic("v2", 100, seed=20 + hour, error_rate=0.2, latency=18, shift=1.0, start=start,
                         prefix=f"h{hour}-")
        insert_predictions(engine, champion + canary, ingested_at=start + HOUR)
        upsert_labels(engine, labels_of(champion, accuracy=0.9, seed=hour) | labels_of(canary, accuracy=0.55,
                                                                                          seed=hour + 50),
                      ingested_at=start + HOUR)
    now = DAY + hours * HOUR + timedelta(minutes=1)
    WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="w").tick(now)


@pytest.fixture
def canary_page(engine: Engine, open_app: Callable[..., AppTest]) -> AppTest:
    seed_canary(engine)
    at = open_app("versions")
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_the_canary_and_the_champion_side_by_side_with_p_values_in_words(canary_page: AppTest) -> None:
    at = canary_page
    assert at.title[0].value == "Versions side by side"
    assert [(m.label, m.value) for m in at.metric] == [("Champion", "v1"), ("Challenger", "v2"),
                                                       ("Challenger's traffic", "20.0%")]
    table = at.table[0].value
    assert list(table.columns) == ["Champion (v1)", "Challenger (v2)", "Difference", "p-value", "In words"]
    assert list(table.index)[:5] == ["Error rate", "Latency p50", "Latency p95", "Accuracy", "ROC AUC"]
    # Estimated performance of both versions (fitted on the reference): compared, but not tested.
    assert "Estimated ROC AUC" in table.index and "Estimated accuracy" in table.index
    assert table.loc["Estimated accuracy", "p-value"] == "—"
    # The estimate (before labels) beside the realized difference (from labels), each labelled as such.
    estimate = table.loc["Estimated accuracy", "In words"]
    assert re.fullmatch(r"Estimated \(before labels\): v2 lower by [0-9.]+\xa0pp \(worse\)\. "
                        r"Realized \(from \d+ labels\): v2 lower by [0-9.]+\xa0pp \(worse\), "
                        r"significant \(p\xa0<\xa00\.0001\)\.", estimate), estimate
    assert table.loc["Estimated F1", "In words"].endswith("; an estimate has no significance test.")
    words = table["In words"]
    assert words["Error rate"].startswith("v2 is worse: error rate higher by ")
    assert "Significant: p < 0.0001" in words["Error rate"] and "unlikely to be chance" in words["Error rate"]
    assert words["Latency p95"].startswith("v2 is worse: latency p95 higher by ")
    assert re.match(r"Realized \(from \d+ labels\): v2 is worse: accuracy lower by ", words["Accuracy"])
    assert table.loc["Error rate", "Difference"].startswith("+") and table.loc["Error rate", "Difference"].endswith(
        "\u00a0pp")
    assert table.loc["Accuracy", "Difference"].startswith("−")  # a real minus sign: never broken from its number
    assert table.loc["Error rate", "p-value"] == "<\u00a00.0001"


def test_the_canary_inputs_drift_against_the_champion_and_the_trend_is_drawn(canary_page: AppTest) -> None:
    at = canary_page
    drift = at.dataframe[0].value
    assert list(drift["Feature"]) == ["amount", "country"]
    assert drift.set_index("Feature").loc["amount", "Drifts"] == True  # noqa: E712 - a numpy bool
    text = " ".join(m.value for m in at.markdown)
    assert "The inputs v2 received differ from v1's in **1 of 2** features" in text
    assert [s.value for s in at.subheader] == ["Serving and performance", "Drift of v2 against v1",
                                               "Differences over time"]
    # The trend's time axis has one format for its span (st.line_chart's mixed "12:05" and "01 AM").
    trend = charts(at)[-1]
    axes = {json.dumps(layer["encoding"]["x"]["axis"], sort_keys=True) for layer in trend.spec["layer"]}
    assert len(axes) == 1 and json.loads(axes.pop())["format"] == "%H:%M"


def test_an_alert_link_opens_its_window_and_the_url_follows_the_pickers(engine: Engine,
                                                                        open_app: Callable[..., AppTest]) -> None:
    from alerts.outbox import dashboard_url

    seed_canary(engine)
    link = dashboard_url("http://dw", model="fraud", model_version="v2", window_start=DAY, page="versions")
    query = dict(parse_qsl(urlsplit(link).query))
    at = open_app("versions", query)
    assert not at.exception, [e.value for e in at.exception]
    assert "2026-03-02 00:00 UTC → 2026-03-02 01:00 UTC" in at.caption[0].value  # not the newest window
    assert at.query_params["window"] == "2026-03-02T00:00:00Z"
    plain = open_app("versions")
    assert "2026-03-02 01:00 UTC → 2026-03-02 02:00 UTC" in plain.caption[0].value  # newest complete window
