"""Every page on REAL computed data: a simulated stream decoded and stored by the
ingest writer, windows computed by the scheduler, alerts evaluated — no seeding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from alerts.evaluation import evaluate_due
from monitor.config.loader import config_from_mapping
from monitor.ingest.decode import MessageDecoder
from monitor.ingest.records import DeadLetterRecord, LabelRecord, Origin, PredictionRecord
from monitor.jobs.scheduler import WindowScheduler
from monitor.simulate.models import model_configs
from monitor.simulate.runner import write_reference_files
from monitor.simulate.scenario import Scenario
from monitor.simulate.stream import StreamSettings, generate
from monitor.store.ingest_writer import IngestWriter
from monitor.store.tables import alerts, metric_values

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
START = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def computed_store(engine, store_url, tmp_path):
    write_reference_files(("fraud", "demand"), tmp_path / "reference", rows=2000)
    models = model_configs(["fraud", "demand"], str(tmp_path / "reference"))
    for model in models.values():
        model["window"] = "10m"
    config = config_from_mapping({
        "store": store_url,
        "models": models,
        "alerts": {"rules": [{"name": "fraud-drift", "model": "fraud", "metric": "dataset_drift_share",
                              "when": "> 0.3", "for": 1, "severity": "critical"}]},
    }, environ={})
    scenario = Scenario.model_validate({"seed": 2, "events": [
        {"kind": "covariate_drift", "model": "fraud", "at": "30m", "features": ["amount", "country"]},
        {"kind": "malformed", "at": "0s", "duration": "10m", "rate": 0.05},
    ]})
    settings = StreamSettings(models=("fraud", "demand"), rate=10, speedup=60, start=START,
                              label_delay_median=timedelta(minutes=5))
    decoder = MessageDecoder(known_models={"fraud", "demand"})
    records = [decoder.decode(item.value, Origin(item.topic, 0, offset))
               for offset, item in enumerate(generate(settings, scenario, duration_s=60 * 60 / 60))]
    IngestWriter(engine).write([r for r in records if isinstance(r, PredictionRecord)],
                               [r for r in records if isinstance(r, LabelRecord)],
                               [r for r in records if isinstance(r, DeadLetterRecord)],
                               ingested_at=START + timedelta(hours=1))
    now = START + timedelta(hours=1, minutes=5)
    WindowScheduler(config=config, engine=engine, clock=lambda: now).tick(now)
    evaluate_due(engine, config, now)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(metric_values)).scalar_one() > 100
        assert connection.execute(select(func.count()).select_from(alerts)).scalar_one() >= 1
    return store_url


@pytest.mark.parametrize("page", [None, "model", "drift", "alerts", "data_quality"])
def test_every_page_renders_real_computed_data(computed_store, monkeypatch, page):
    monkeypatch.setenv("DRIFTWATCH_STORE", computed_store)
    at = AppTest.from_file(str(APP), default_timeout=120)
    if page is not None:
        at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # st.error is also how a red model status is shown; only store problems are failures.
    assert not [e.value for e in at.error if "store" in str(e.value).lower()]
    # Real numbers were shown: metrics or tables, not an empty-store message.
    assert len(at.metric) + len(at.dataframe) + len(at.table) > 0
    assert not any("no data" in str(info.value).lower() and "store" in str(info.value).lower() for info in at.info)
