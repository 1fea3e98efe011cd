"""Every page on REAL computed data: a simulated stream decoded and stored by the
ingest writer, windows computed by the scheduler, alerts evaluated — no seeding."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from monitor.store.tables import alerts, metric_values
from tests.support.computed import compute_simulated_store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.fixture
def computed_store(engine, store_url, tmp_path):
    compute_simulated_store(engine, store_url, tmp_path / "reference")
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(metric_values)).scalar_one() > 100
        assert connection.execute(select(func.count()).select_from(alerts)).scalar_one() >= 1
    return store_url


@pytest.mark.parametrize("page", [None, "model", "drift", "alerts", "data_quality"])
def test_every_page_renders_real_computed_data(computed_store, monkeypatch, page):
    monkeypatch.setenv("DRIFTWATCH_STORE", computed_store)
    at = AppTest.from_file(str(APP), default_timeout=120)
    if page is not None:
        at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # st.error is also how a red model status is shown; only store problems are failures.
    assert not [e.value for e in at.error if "store" in str(e.value).lower()]
    # Real numbers were shown: metrics or tables, not an empty-store message.
    assert len(at.metric) + len(at.dataframe) + len(at.table) > 0
    assert not any("no data" in str(info.value).lower() and "store" in str(info.value).lower() for info in at.info)


def test_the_pages_tell_what_the_computed_store_holds(computed_store, monkeypatch):
    """fraud drifts from minute 30 (amount, country) and its drift rule fires: the model
    page says red and why, and the drift page ranks the drifted features on top."""
    monkeypatch.setenv("DRIFTWATCH_STORE", computed_store)
    model = AppTest.from_file(str(APP), default_timeout=120)
    model.switch_page("views/model.py")
    model.query_params["model"] = "fraud"
    model.run()
    assert not model.exception, [e.value for e in model.exception]
    banner = [e.value for e in model.error if e.value.startswith("**fraud** is **red**")]
    assert banner and "fraud-drift" in banner[0], [e.value for e in model.error]

    drift = AppTest.from_file(str(APP), default_timeout=120)
    drift.switch_page("views/drift.py")
    drift.query_params["model"] = "fraud"
    drift.run()
    assert not drift.exception, [e.value for e in drift.exception]
    ranking = drift.dataframe[0].value
    # (50 rows a window against 2,000 reference rows: account_age_days' normed Wasserstein
    # distance sits near its 0.1 threshold by sampling noise alone, as Evidently's would.)
    assert {"amount", "country"} <= set(ranking["Feature"][:3]), ranking
