"""The Grafana dashboard (deploy/grafana/driftwatch.json) against the exporter: it loads, its
layout is sound, every PromQL expression names only metrics the exporter serves, and a user
can pick a segment and see a challenger against its champion."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from monitor.exporter.collector import OWN_COUNTERS, OWN_GAUGES, PREFIX, StoreCollector, served_names
from monitor.exporter.lag import LagReading
from tests.dashboard.seed import known_spec, seed_store
from tests.monitor.exporter.support import dashboard_queries, scrape

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "driftwatch.json"
# A PromQL metric name: not a label, function, keyword or variable ($model), not inside quotes or a range.
_NAMES = re.compile(r"\bdriftwatch_[a-z0-9_]+")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def _variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in dashboard["templating"]["list"]}


def test_the_dashboard_loads_with_a_sound_layout(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "driftwatch" and dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        box = panel["gridPos"]
        assert box["x"] >= 0 and box["x"] + box["w"] <= 24, panel["title"]
        for x in range(box["x"], box["x"] + box["w"]):
            for y in range(box["y"], box["y"] + box["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]
        for target in panel.get("targets", ()):
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            assert target["expr"].count("{") == target["expr"].count("}"), target["expr"]
    # Every $variable a query, legend or variable uses is defined (or one of Grafana's own).
    defined = set(_variables(dashboard)) | {"__rate_interval", "__interval", "__all"}
    used = set(re.findall(r"\$\{?(\w+)", json.dumps(dashboard)))
    assert used <= defined, used - defined


def test_every_query_names_only_metrics_the_exporter_serves(dashboard: dict[str, Any]) -> None:
    served = served_names()
    queries = dashboard_queries(dashboard) + [str(v["definition"]) for v in dashboard["templating"]["list"]
                                              if "definition" in v]
    used = {name for expr in queries for name in _NAMES.findall(expr)}
    assert used and used <= served, sorted(used - served)


def test_a_user_can_pick_a_segment_and_see_a_challenger_against_its_champion(dashboard: dict[str, Any]) -> None:
    variables = _variables(dashboard)
    assert {"segment", "challenger"} <= set(variables)
    assert ", segment)" in variables["segment"]["definition"]
    assert "driftwatch_compare_" in variables["challenger"]["definition"]
    queries = dashboard_queries(dashboard)
    segmented = [expr for expr in queries if 'segment=~"$segment"' in expr]
    compared = [expr for expr in queries if "driftwatch_compare_" in expr]
    assert len(segmented) >= 3 and len(compared) >= 4
    assert all('model_version=~"$challenger"' in expr for expr in compared), compared
    legends = [target.get("legendFormat", "") for panel in dashboard["panels"] for target in panel.get("targets", ())
               if "driftwatch_compare_" in target["expr"]]
    assert all("{{compare}}" in legend for legend in legends), legends
    # The whole model's panels never mix segments in: a segmented vital's series all carry the label.
    for expr in queries:
        if 'model_version=~"$version"' in expr and "$segment" not in expr:
            assert 'segment=""' in expr, expr


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_real_scrape_serves_only_the_listed_names(engine: Engine) -> None:
    """served_names() is what the collector really serves: a scrape of a seeded store (with
    lag and ingestion counters, one feature series a metric so some are dropped) has its fixed
    families and no name outside it."""
    seed_store(engine, known_spec())
    collector = StoreCollector(engine, max_features=1, lag=lambda: LagReading(up=True, lag={("predictions", 0): 3}),
                               ingest=lambda: {"messages": 5.0})
    names = {name for name, _labels in scrape(collector)}
    assert names <= served_names(), sorted(names - served_names())
    fixed = {f"{PREFIX}{name}" for name in OWN_GAUGES} | {f"{PREFIX}{name}_total" for name in OWN_COUNTERS}
    assert fixed <= names, sorted(fixed - names)
