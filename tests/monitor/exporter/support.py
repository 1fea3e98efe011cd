"""Reading the exporter's output the way Prometheus does: the text format, parsed."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from sqlalchemy import Engine, select

from monitor.store.tables import metric_values

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition as (name, labels) → value."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(collector: Collector) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return parse(generate_latest(registry).decode())


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def stored_newest_complete(engine: Engine, model: str) -> Samples:
    """The samples a model's newest complete window should produce, read straight from metric_values."""
    c = metric_values.c
    with engine.connect() as connection:
        rows = connection.execute(select(c.model_version, c.window_start, c.metric, c.feature, c.value, c["compare"])
                                  .where(c.model == model, c.is_partial.is_(False))).all()
    newest = max(row.window_start for row in rows)
    expected: Samples = {}
    for row in rows:
        if row.window_start != newest or row.value is None:
            continue
        labels = {"model": model, "model_version": row.model_version}
        if row.compare:
            labels["compare"] = row.compare
        if row.feature is not None:
            labels["class" if row.metric == "class_share" else "feature"] = row.feature
        expected[key(f"driftwatch_{row.metric}", **labels)] = row.value
    return expected


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a Grafana dashboard's panels."""
    return [str(target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", ())]


def concrete(expr: str) -> str:
    """A dashboard expression with Grafana's variables filled in (every model, version, segment, challenger)."""
    return (expr.replace("$model", ".*").replace("$version", ".*").replace("$segment", ".+")
            .replace("$challenger", ".*").replace("$__rate_interval", "1m"))
