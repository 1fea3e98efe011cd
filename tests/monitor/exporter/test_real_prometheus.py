"""A real Prometheus server scrapes a real ``driftwatch exporter``; its HTTP API returns the store's values."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from local_kafka import free_port
from sqlalchemy import Engine

from monitor.store.engine import create_store_engine
from monitor.store.schema import upgrade_schema
from tests.dashboard.seed import known_spec, seed_store
from tests.monitor.exporter.support import concrete, dashboard_queries, stored_newest_complete
from tests.support.prometheus import LocalPrometheus, start_exporter_process

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Engine, Path]:
    url = f"sqlite:///{tmp_path / 'driftwatch.db'}"
    engine = create_store_engine(url)
    upgrade_schema(engine)
    seed_store(engine, known_spec())
    config = tmp_path / "driftwatch.yaml"
    # No broker on this port: the exporter reports kafka_up 0 (and no made-up lag).
    config.write_text(yaml.safe_dump({"store": url, "kafka": {"bootstrap_servers": f"127.0.0.1:{free_port()}"},
                                      "prometheus": {"cache_ttl": "1s"}}))
    yield engine, config
    engine.dispose()


def _series(result: list[dict]) -> dict[tuple[tuple[str, str], ...], float]:
    ignored = ("job", "instance", "__name__")
    return {tuple(sorted((k, v) for k, v in item["metric"].items() if k not in ignored)): float(item["value"][1])
            for item in result}


@pytest.mark.slow
def test_prometheus_scrapes_the_stores_values(seeded: tuple[Engine, Path], tmp_path: Path):
    engine, config = seeded
    exporter_port, prometheus_port = free_port(), free_port()
    start_exporter_process(config, exporter_port, tmp_path / "exporter.log")
    prometheus = LocalPrometheus(tmp_path, prometheus_port, [f"127.0.0.1:{exporter_port}"])
    prometheus.start()
    try:
        assert prometheus.wait_for('up{job="driftwatch"} == 1')
        prometheus.wait_for("driftwatch_prediction_count")
        for model in ("fraud", "churn", "price"):
            expected = stored_newest_complete(engine, model)
            names = {name for name, _labels in expected}
            served: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
            for name in names:
                for labels, value in _series(prometheus.query(f'{name}{{model="{model}"}}')).items():
                    served[(name, labels)] = value
            assert served == {(name, tuple(sorted(labels))): value for (name, labels), value in expected.items()}
        alerts = _series(prometheus.query('driftwatch_alerts{state="firing"}'))
        assert alerts[(("severity", "critical"), ("state", "firing"))] == 1
        failed = prometheus.query('driftwatch_notifications{status="failed",channel="retrain-fraud"}')
        assert failed[0]["value"][1] == "1"
        assert prometheus.query('driftwatch_predictions_stored_total{model="fraud"}')[0]["value"][1] == "200"
        assert prometheus.query("driftwatch_store_up")[0]["value"][1] == "1"
        assert prometheus.query("driftwatch_kafka_up")[0]["value"][1] == "0"
        assert prometheus.query("driftwatch_kafka_consumer_lag") == []
        # Every query of the Grafana dashboard runs; those on vitals the seeded store holds return them (it has
        # no regression labels, no roc_auc, no broker, no segments, no challenger; a rate needs two scrapes).
        dashboard = json.loads((ROOT / "deploy" / "grafana" / "driftwatch.json").read_text())
        empty = {expr for expr in dashboard_queries(dashboard) if not prometheus.query(concrete(expr))}
        assert all(re.search(r"kafka|rate\(|roc_auc|_mae|_rmse|\$segment|driftwatch_compare_", e)
                   for e in empty), empty
    finally:
        prometheus.stop()
