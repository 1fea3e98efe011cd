"""Segment vitals on /metrics: a ``segment`` label, within the ``max_features`` bound."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from monitor.exporter.collector import StoreCollector
from monitor.jobs.scheduler import WindowScheduler
from monitor.store.tables import metric_values
from tests.monitor.exporter.support import key, scrape
from tests.monitor.jobs.test_segment_windows import SCENARIO, segmented_config
from tests.support.computed import START, ingest_simulated_stream


def _stored(engine: Engine, metric: str, segment: str | None) -> float:
    c = metric_values.c
    with engine.connect() as connection:
        return float(connection.execute(select(c.value).where(
            c.metric == metric, c.window_start == START + timedelta(minutes=40), c.feature.is_(None),
            c.segment.is_(None) if segment is None else c.segment == segment)).scalar_one())


def test_segment_vitals_carry_a_segment_label_within_the_bound(engine: Engine, store_url: str, tmp_path):
    config = segmented_config(store_url, tmp_path / "reference", columns=["country"])
    ingest_simulated_stream(engine, SCENARIO, ("fraud",), rate=20, minutes=50)
    now = START + timedelta(minutes=51)
    WindowScheduler(config=config, engine=engine, clock=lambda: now).tick(now)

    samples = scrape(StoreCollector(engine))
    labels = {"model": "fraud", "model_version": "v1"}
    german = samples[key("driftwatch_dataset_drift_share", **labels, segment="country=DE")]
    assert german == _stored(engine, "dataset_drift_share", "country=DE") == 0.4
    # The whole model's series: segment "" (in Prometheus the same series as no label).
    assert samples[key("driftwatch_dataset_drift_share", **labels, segment="")] == _stored(
        engine, "dataset_drift_share", None)
    per_country = [k for k in samples if k[0] == "driftwatch_prediction_count" and dict(k[1])["segment"]]
    assert len(per_country) == 5

    # The bound counts segment series like feature series: at most max_features per metric.
    capped = scrape(StoreCollector(engine, max_features=2))
    shares = {dict(k[1])["segment"] for k in capped if k[0] == "driftwatch_dataset_drift_share"}
    assert shares == {"", "country=DE", "country=ES"}  # the whole model, then breaching, then by name
    assert capped[key("driftwatch_features_dropped", **labels, metric="dataset_drift_share")] == 3
