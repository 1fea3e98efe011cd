"""Vitals per segment: computed beside the whole model's, stored with ``metric_values.segment``,
the same numbers on SQLite and PostgreSQL; a missing segment column is reported."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select, text

from monitor.config.loader import config_from_mapping
from monitor.config.models import DriftwatchConfig
from monitor.jobs.scheduler import WindowScheduler
from monitor.simulate.models import model_configs
from monitor.simulate.runner import write_reference_files
from monitor.store.engine import create_store_engine
from monitor.store.schema import upgrade_schema
from monitor.store.tables import job_runs, metric_values
from tests.monitor.jobs.store_data import Prediction, insert_predictions
from tests.support.computed import START, ingest_simulated_stream

MODEL_HEALTH = (Path(__file__).resolve().parents[3] / "sql" / "queries" / "model_health.sql").read_text()
# amount and account age drift in Germany only, from minute 30.
SCENARIO = {"seed": 7, "events": [{"kind": "covariate_drift", "model": "fraud", "at": "30m",
                                   "features": ["amount", "account_age_days"], "shift": 2.0,
                                   "segment": "country=DE"}]}


def segmented_config(store_url: str, reference_dir: Path, **segments: object) -> DriftwatchConfig:
    write_reference_files(("fraud",), reference_dir, rows=2000)
    models = model_configs(["fraud"], str(reference_dir))
    models["fraud"].update(window="10m", segments=segments or ["country", "is_new_device"])
    return config_from_mapping({"store": store_url, "models": models}, environ={})


def _rows(engine: Engine) -> dict[tuple[str, str, str | None, str | None], float | None]:
    c = metric_values.c
    with engine.connect() as connection:
        rows = connection.execute(select(c.window_start, c.metric, c.feature, c.segment, c.value)).all()
    return {(row.window_start.isoformat(), row.metric, row.feature, row.segment): row.value for row in rows}


def _compute(engine: Engine, config: DriftwatchConfig) -> None:
    now = START + timedelta(minutes=61)
    report = WindowScheduler(config=config, engine=engine, clock=lambda: now).tick(now)
    assert not report.failed and not report.model_errors


def test_segment_vitals_are_stored_and_the_same_on_sqlite_and_postgresql(tmp_path, postgres_server):
    stored, health = {}, {}
    for backend, url in (("sqlite", f"sqlite:///{tmp_path / 'segments.db'}"),
                         ("postgresql", postgres_server.create_database("t_segments"))):
        engine = create_store_engine(url)
        upgrade_schema(engine)
        ingest_simulated_stream(engine, SCENARIO, ("fraud",), rate=20, minutes=60)
        _compute(engine, segmented_config(url, tmp_path / "reference"))
        stored[backend] = _rows(engine)
        with engine.connect() as connection:  # the example query reads the whole model's rows
            health[backend] = connection.execute(text(MODEL_HEALTH)).one()
        engine.dispose()
    sqlite, postgresql = stored["sqlite"], stored["postgresql"]
    assert sqlite.keys() == postgresql.keys()
    for key, value in sqlite.items():
        other = postgresql[key]
        assert (value is None) == (other is None), key
        if value is not None:
            assert math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-12), key

    newest = (START + timedelta(minutes=50)).isoformat()
    for backend, row in health.items():
        whole = [sqlite[(newest, metric, None, None)]
                 for metric in ("prediction_count", "error_rate", "latency_p95_ms", "dataset_drift_share")]
        assert [row.predictions, row.error_rate, row.latency_p95_ms, row.drift_share] == whole, backend

    segments = {key[3] for key in sqlite}
    assert {"country=DE", "country=FR", "country=US", "country=GB", "country=ES",
            "is_new_device=false", "is_new_device=true", None} == segments
    late, early = (START + timedelta(minutes=40)).isoformat(), (START + timedelta(minutes=10)).isoformat()
    # The rows of a segment add up to the whole model's.
    counts = [sqlite[(late, "prediction_count", None, f"country={c}")] for c in ("DE", "FR", "US", "GB", "ES")]
    assert sum(counts) == sqlite[(late, "prediction_count", None, None)] > 0
    # Germany drifts after minute 30, in amount and account age; France never does.
    assert sqlite[(late, "dataset_drift_share", None, "country=DE")] == 0.4  # 2 of 5 features
    assert sqlite[(early, "dataset_drift_share", None, "country=DE")] == 0.0
    assert sqlite[(late, "dataset_drift_share", None, "country=FR")] == 0.0
    # A segment's own column is constant in it: never drifts; dead letters have no segment.
    assert sqlite[(late, "feature_drift", "country", "country=DE")] == 0.0
    assert not [key for key in sqlite if key[3] is not None and key[1] == "dead_letter_count"]
    assert (late, "feature_drift_score", "country", "is_new_device=true") in sqlite


def test_the_views_keep_whole_model_rows_and_a_missing_segment_column_is_reported(engine, tmp_path):
    config = segmented_config(str(engine.url), tmp_path / "reference", columns=["country"], max_values=2)
    ingest_simulated_stream(engine, {"seed": 1, "events": []}, ("fraud",), rate=5, minutes=10)
    # A later window whose events carry no country at all.
    insert_predictions(engine, [Prediction(prediction_id=f"x{i}", event_time=START + timedelta(minutes=10, seconds=i),
                                           features={"amount": 10.0 + i, "account_age_days": 100.0,
                                                     "is_new_device": False, "hour": 3},
                                           prediction=0, score=0.1) for i in range(40)],
                       ingested_at=START + timedelta(minutes=30))
    now = START + timedelta(minutes=30)
    WindowScheduler(config=config, engine=engine, clock=lambda: now).tick(now)
    rows = _rows(engine)
    first, second = START.isoformat(), (START + timedelta(minutes=10)).isoformat()
    # max_values 2: the two most frequent countries of the reference (DE, US), the rest __other__.
    assert {key[3] for key in rows if key[0] == first} == {None, "country=DE", "country=US", "country=__other__"}
    # The window without the column: its rows are __missing__, its segments empty, not "no drift".
    assert rows[(second, "prediction_count", None, "country=__missing__")] == 40
    assert rows[(second, "prediction_count", None, "country=DE")] == 0
    assert rows[(second, "dataset_drift_share", None, "country=DE")] is None
    with engine.connect() as connection:
        notes = connection.execute(select(job_runs.c.status, job_runs.c.error)
                                   .where(job_runs.c.window_start == START + timedelta(minutes=10))).one()
        latest = connection.execute(text("SELECT COUNT(*) FROM latest_vitals WHERE metric = 'prediction_count'"))
        assert latest.scalar_one() == 1  # the whole model's row only
    assert notes.status == "degraded"
    assert "segment column 'country' has no value in any event of the window" in notes.error
