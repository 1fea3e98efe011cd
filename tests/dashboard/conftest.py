"""Dashboard test fixtures: a seeded store of each backend and an AppTest of the real app."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from tests.dashboard.seed import SeedResult, known_spec, seed_store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
# The machine running the suite may be busy; a page normally renders in about a second.
RUN_TIMEOUT = 90


@dataclass
class Chart:
    spec: dict[str, object]
    data: list[pd.DataFrame]

    def frame_with(self, column: str) -> pd.DataFrame:
        return next(frame for frame in self.data if column in frame.columns)


def charts(at: AppTest) -> list[Chart]:
    """Every Altair chart on the page with its datasets as DataFrames."""
    return [
        Chart(json.loads(node.proto.spec), [convert_arrow_bytes_to_pandas_df(d.data.data) for d in node.proto.datasets])
        for node in at.get("vega_lite_chart")
    ]


def chart_of(at: AppTest, series: str) -> Chart:
    """The time-series chart that draws the line called ``series``."""
    for chart in charts(at):
        frames = [frame for frame in chart.data if "series" in frame.columns]
        if frames and series in set(frames[0]["series"]):
            return chart
    raise AssertionError(f"no chart draws {series!r}")


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches() -> Iterator[None]:
    """Each test starts with empty query caches; engines are disposed (on_release)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def seeded(engine: Engine, store_url: str) -> SeedResult:
    """The known scenario: fraud red, churn amber, price green (no labels)."""
    return seed_store(engine, known_spec())


@pytest.fixture
def open_app(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """Run the real app (``dashboard/app.py``) on ``store_url``, optionally on one page."""
    monkeypatch.setenv("DRIFTWATCH_STORE", store_url)

    def run(page: str | None = None, query: dict[str, str] | None = None) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
        if page is not None:
            at.switch_page(f"views/{page}.py")
        at.query_params.update(query or {})
        return at.run()

    return run
