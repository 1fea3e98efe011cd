"""The collector on a seeded store of each backend: the values served are the store's."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from local_kafka import free_port
from sqlalchemy import Engine, update

from monitor.config.loader import config_from_mapping
from monitor.exporter.collector import StoreCollector
from monitor.exporter.server import start_exporter
from monitor.exporter.snapshot import IngestCounter
from monitor.store.engine import create_store_engine
from monitor.store.tables import metric_values, predictions
from tests.dashboard.seed import known_spec, seed_store
from tests.monitor.exporter.support import key, parse, scrape, stored_newest_complete


def _vitals(samples: dict, model: str) -> dict:
    return {k: v for k, v in samples.items() if dict(k[1]).get("model") == model and "model_version" in dict(k[1])
            and k[0] not in ("driftwatch_window_end_timestamp_seconds", "driftwatch_features_dropped")}


def test_every_stored_vital_of_the_newest_complete_window_is_served(engine: Engine):
    spec = known_spec()
    seeded = seed_store(engine, spec)
    samples = scrape(StoreCollector(engine))
    for model in ("fraud", "churn", "price"):
        assert _vitals(samples, model) == stored_newest_complete(engine, model), model
    # The same numbers as literals (seed formulas): fraud's newest complete window is v2's.
    assert samples[key("driftwatch_prediction_count", model="fraud", model_version="v2")] == 720.0
    assert samples[key("driftwatch_latency_p50_ms", model="fraud", model_version="v2")] == 42.0
    assert samples[key("driftwatch_missing_share", model="fraud", model_version="v2", feature="f01")] == 0.2
    assert samples[key("driftwatch_class_share", model="churn", model_version="v1", **{"class": "b"})] == 0.3
    assert samples[key("driftwatch_latency_p95_ms", model="churn", model_version="v1")] == 300.0
    end = (seeded.latest_complete + timedelta(hours=1)).timestamp()
    assert samples[key("driftwatch_window_end_timestamp_seconds", model="fraud", model_version="v2")] == end
    # The partial window (prediction_count 42) and the older version are not served; NULL values are absent.
    assert [v for k, v in _vitals(samples, "fraud").items() if k[0] == "driftwatch_prediction_count"] == [720.0]
    assert not any(dict(k[1]).get("model_version") == "v1" for k in _vitals(samples, "fraud"))
    assert not any(k[0] in ("driftwatch_mae", "driftwatch_rmse") for k in _vitals(samples, "price"))


def test_alerts_outbox_and_ingestion_counts(engine: Engine):
    seed_store(engine, known_spec())
    samples = scrape(StoreCollector(engine))
    alerts = {dict(k[1])["state"] + "/" + dict(k[1])["severity"]: v for k, v in samples.items()
              if k[0] == "driftwatch_alerts"}
    assert alerts["firing/critical"] == 1 and alerts["firing/warning"] == 1
    assert alerts["pending/warning"] == 1 and alerts["resolved/warning"] == 1
    assert alerts["firing/info"] == 0 and sum(alerts.values()) == 4 and len(alerts) == 9
    assert samples[key("driftwatch_notifications", channel="ml-team", status="pending")] == 1
    assert samples[key("driftwatch_notifications", channel="retrain-fraud", status="failed")] == 1
    assert not any(dict(k[1]).get("status") in ("delivered", "silenced") for k in samples)
    assert samples[key("driftwatch_predictions_stored_total", model="fraud")] == 200
    assert samples[key("driftwatch_labels_stored_total", model="churn")] == 160
    assert samples[key("driftwatch_dead_letters_total", topic="predictions")] == 12
    assert samples[key("driftwatch_store_up")] == 1 and samples[key("driftwatch_store_outages_total")] == 0


def test_features_per_metric_are_capped_breaching_first(engine: Engine):
    seed_store(engine, known_spec())
    samples = scrape(StoreCollector(engine, max_features=1))
    missing = {dict(k[1])["feature"]: v for k, v in samples.items()
               if k[0] == "driftwatch_missing_share" and dict(k[1])["model"] == "fraud"}
    assert missing == {"f01": 0.2}  # the breaching one of four
    assert samples[key("driftwatch_features_dropped", model="fraud", model_version="v2", metric="missing_share")] == 3
    assert samples[key("driftwatch_features_dropped", model="churn", model_version="v1", metric="class_share")] == 2
    assert samples[key("driftwatch_prediction_count", model="fraud", model_version="v2")] == 720.0


def test_reads_are_cached_for_cache_ttl_then_refreshed(engine: Engine):
    seed_store(engine, known_spec())
    now = [100.0]
    collector = StoreCollector(engine, cache_ttl=5.0, clock=lambda: now[0])
    name = key("driftwatch_prediction_count", model="fraud", model_version="v2")
    assert scrape(collector)[name] == 720.0
    with engine.begin() as connection:
        connection.execute(update(metric_values).where(metric_values.c.model == "fraud",
                                                       metric_values.c.metric == "prediction_count",
                                                       metric_values.c.value == 720.0).values(value=721.0))
    now[0] += 4.0
    assert scrape(collector)[name] == 720.0
    now[0] += 2.0
    assert scrape(collector)[name] == 721.0


def test_an_unreadable_store_is_reported_not_served_as_old_numbers(engine: Engine, tmp_path: Path):
    seed_store(engine, known_spec())
    now = [0.0]
    collector = StoreCollector(engine, cache_ttl=1.0, clock=lambda: now[0])
    assert scrape(collector)[key("driftwatch_store_up")] == 1
    collector.engine = create_store_engine(f"sqlite:///{tmp_path / 'missing' / 'store.db'}")
    now[0] += 2.0
    samples = scrape(collector)
    assert samples[key("driftwatch_store_up")] == 0 and samples[key("driftwatch_store_outages_total")] == 1
    assert not any(k[0] == "driftwatch_prediction_count" for k in samples)
    now[0] += 2.0
    assert scrape(collector)[key("driftwatch_store_outages_total")] == 1  # one outage, not one per scrape
    collector.engine = engine
    now[0] += 2.0
    assert scrape(collector)[key("driftwatch_store_up")] == 1


def test_an_empty_store_serves_only_the_operational_series(engine: Engine):
    samples = scrape(StoreCollector(engine))
    assert samples[key("driftwatch_store_up")] == 1
    assert not any(k[0] == "driftwatch_window_end_timestamp_seconds" for k in samples)


def _predictions(engine: Engine, model: str, ids: range, ingested_at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(predictions.insert(), [
            {"model": model, "model_version": "v1", "prediction_id": f"{model}-{i}", "event_time": ingested_at,
             "features": {}, "prediction": "1", "ingested_at": ingested_at} for i in ids])


def test_ingestion_counts_are_incremental_and_recounted(engine: Engine):
    now = [datetime(2026, 3, 1, 12, tzinfo=UTC)]
    counter = IngestCounter(settle=timedelta(minutes=1), recount=timedelta(minutes=10), clock=lambda: now[0])

    def stored() -> dict[str, int]:
        with engine.connect() as connection:
            return counter.read(connection)[0]

    _predictions(engine, "a", range(5), now[0] - timedelta(hours=1))
    _predictions(engine, "b", range(2), now[0] - timedelta(seconds=10))  # not settled yet: counted each read
    assert stored() == {"a": 5, "b": 2}
    now[0] += timedelta(minutes=2)
    _predictions(engine, "b", range(2, 5), now[0])
    assert stored() == {"a": 5, "b": 5}
    # A row committed long after its ingested_at (below the watermark): missed until the recount.
    _predictions(engine, "a", range(5, 6), now[0] - timedelta(hours=1))
    assert stored() == {"a": 5, "b": 5}
    now[0] += timedelta(minutes=10)
    assert stored() == {"a": 6, "b": 5}


@pytest.mark.parametrize("consumer_lag", [True, False])
def test_the_http_endpoint_serves_the_collector_and_lag_only_when_asked(engine: Engine, consumer_lag: bool):
    seed_store(engine, known_spec())
    config = config_from_mapping({"kafka": {"bootstrap_servers": f"127.0.0.1:{free_port()}"},
                                  "prometheus": {"consumer_lag": consumer_lag}}, environ={})
    served = start_exporter(config, create_store_engine(engine.url.render_as_string(hide_password=False)), port=0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/metrics", timeout=10) as response:
            samples = parse(response.read().decode())
    finally:
        served.stop()
    assert samples[key("driftwatch_prediction_count", model="fraud", model_version="v2")] == 720.0
    assert (key("driftwatch_kafka_up") in samples) is consumer_lag


def test_a_canary_compared_with_the_champion_is_served_with_a_compare_label(engine: Engine):
    from tests.dashboard.test_versions_page import seed_canary

    seed_canary(engine)
    samples = scrape(StoreCollector(engine))
    assert _vitals(samples, "fraud") == stored_newest_complete(engine, "fraud")
    labels = {"model": "fraud", "model_version": "v2", "compare": "champion=v1"}
    with engine.connect() as connection:
        stored = connection.execute(
            metric_values.select().where(metric_values.c.metric == "compare_error_rate_diff",
                                         metric_values.c.window_start == datetime(2026, 3, 2, 1, tzinfo=UTC))
        ).one()
    assert samples[key("driftwatch_compare_error_rate_diff", **labels)] == stored.value > 0.1
    assert samples[key("driftwatch_compare_feature_drift_score", **labels, feature="amount")] < 0.05
    # The champion has no comparison of its own; its vitals keep their labels.
    assert not any(dict(k[1]).get("model_version") == "v1" and "compare" in dict(k[1]) for k in samples)
    assert key("driftwatch_error_rate", model="fraud", model_version="v1") in samples
