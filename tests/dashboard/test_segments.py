"""The segment picker (drift and model pages) and the "which segment drifts" table, on a
store the scheduler computed from a simulated stream in which only Germany drifts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from monitor.jobs.scheduler import WindowScheduler
from tests.dashboard.conftest import charts
from tests.monitor.jobs.test_segment_windows import SCENARIO, segmented_config
from tests.support.computed import START, ingest_simulated_stream

OpenApp = Callable[..., AppTest]


@pytest.fixture
def segmented(engine: Engine, store_url: str, tmp_path: Path) -> None:
    config = segmented_config(store_url, tmp_path / "reference", columns=["country"])
    ingest_simulated_stream(engine, SCENARIO, ("fraud",), rate=20, minutes=60)
    now = START + timedelta(minutes=61)
    WindowScheduler(config=config, engine=engine, clock=lambda: now).tick(now)


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.usefixtures("segmented")
def test_drift_page_ranks_segments_and_the_picker_shows_one(open_app: OpenApp) -> None:
    at = ok(open_app("drift"))
    picker = at.selectbox(key="drift.segment.fraud")
    assert picker.value == "Whole model"
    assert picker.options == ["Whole model", "country=DE", "country=ES", "country=FR", "country=GB", "country=US"]
    table = next(frame.value for frame in at.dataframe if "Segment" in frame.value.columns)
    assert table["Segment"].iloc[0] == "country=DE"  # the one drifting segment ranks first
    by_segment = table.set_index("Segment")
    assert by_segment.loc["country=DE", "Max share"] == "0.40"  # 2 of its 5 features
    assert by_segment.loc["country=FR", "Max share"] == "0.00"
    # Below the model's drift_share setting (0.5): no dataset drift verdict, said as such.
    assert by_segment.loc["country=DE", "Dataset drift"] == "0 of 6"
    assert by_segment.loc["country=DE", "Breaches"] > by_segment.loc["country=FR", "Breaches"]
    whole = _metrics(at)["Drift share"]

    picker.set_value("country=DE").run()
    ok(at)
    assert _metrics(at)["Drift share"] == "40.00%" != whole  # 2 of its 5 features, in the newest window
    ranking = next(frame.value for frame in at.dataframe if "Feature" in frame.value.columns)
    assert set(ranking.loc[ranking["Now"], "Feature"]) == {"amount", "account_age_days"}
    assert any("the test above is the segment's" in caption.value for caption in at.caption)
    heat = charts(at)[0].frame_with("strength")
    assert list(heat.loc[heat["feature"] == "amount", "drifted"]) == ["no"] * 3 + ["yes"] * 3  # from minute 30


@pytest.mark.usefixtures("segmented")
def test_model_page_picker_charts_the_segment(open_app: OpenApp) -> None:
    at = ok(open_app("model"))
    whole = _metrics(at)
    at.selectbox(key="model_page.segment.fraud").set_value("country=FR").run()
    ok(at)
    french = _metrics(at)
    assert int(french["Predictions"]) < int(whole["Predictions"])
    assert any("segment country=FR" in caption.value for caption in at.caption)
