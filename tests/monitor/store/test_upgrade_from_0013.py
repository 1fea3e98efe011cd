"""A store written at revision 0013 (``compare = ''`` on every row about one version alone) upgrades
in place on both backends: those rows get a NULL ``compare``, as ``segment`` is NULL for the whole
model; comparisons keep their label; a point stays unique; the window job then replaces the old
rows instead of adding to them. The downgrade gives the empty labels back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from monitor.jobs.scheduler import WindowScheduler
from monitor.store.engine import create_store_engine
from monitor.store.schema import current_revision, upgrade_schema
from monitor.store.tables import alerts, metric_values
from tests.monitor.jobs.canary_data import traffic
from tests.monitor.jobs.store_data import DAY, FRAUD_MODEL, HOUR, config, insert_predictions

NOW = DAY + HOUR + HOUR / 60
OLD_ROW = {"model": "fraud", "window_start": DAY, "window_end": DAY + HOUR, "feature": None, "value": 1.0,
           "is_partial": False, "details": {}, "computed_at": DAY + HOUR}


def _write_as_revision_0013(engine) -> None:
    """Rows of both versions and v2's comparison, and an alert, as the code of 0013 stored them."""
    with engine.begin() as connection:
        for version in ("v1", "v2"):  # `compare` left out: its server default '' fills it
            connection.execute(insert(metric_values).values(**OLD_ROW, model_version=version,
                                                            metric="prediction_count"))
        connection.execute(insert(metric_values).values(**OLD_ROW, model_version="v2",
                                                        metric="compare_error_rate_diff", compare="champion=v1"))
        connection.execute(text(
            "INSERT INTO alerts (rule, model, model_version, metric, severity, state, condition, started_at, "
            "updated_at) VALUES ('r', 'fraud', 'v1', 'error_rate', 'warning', 'firing', '> 0.1', :at, :at)"),
            {"at": DAY})


def _downgrade(engine, revision: str) -> None:
    from alembic import command

    from monitor.store.schema import _alembic_config

    alembic = _alembic_config()
    with engine.begin() as connection:
        alembic.attributes["connection"] = connection
        command.downgrade(alembic, revision)


def _labels(engine) -> tuple[list[tuple[str, str, str | None]], list[str | None]]:
    c = metric_values.c
    with engine.connect() as connection:
        rows = connection.execute(select(c.model_version, c.metric, c["compare"])
                                  .order_by(c.model_version, c.metric)).all()
        alert_labels = list(connection.execute(select(alerts.c["compare"])).scalars())
    return [tuple(row) for row in rows], alert_labels


def test_empty_compare_labels_become_null_and_the_window_job_replaces_them(store_url):
    engine = create_store_engine(store_url)
    upgrade_schema(engine, "0013")
    _write_as_revision_0013(engine)
    assert _labels(engine)[1] == [""]

    upgrade_schema(engine)
    assert _labels(engine) == ([("v1", "prediction_count", None), ("v2", "compare_error_rate_diff", "champion=v1"),
                                ("v2", "prediction_count", None)], [None])
    with pytest.raises(IntegrityError), engine.begin() as connection:  # NULL labels still collide in the point key
        connection.execute(insert(metric_values).values(**OLD_ROW, model_version="v1", metric="prediction_count"))

    # The window job recomputes both versions' windows and their comparison: replaced, never added.
    insert_predictions(engine, traffic("v1", 300, seed=1, error_rate=0.02, latency=10, shift=0.0)
                       + traffic("v2", 100, seed=2, error_rate=0.02, latency=10, shift=0.0), ingested_at=DAY + HOUR)
    WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="w").tick(NOW)
    c = metric_values.c
    with engine.connect() as connection:
        keys = connection.execute(select(c.model_version, c.metric, c.feature, c.segment, c["compare"])
                                  .where(c.window_start == DAY)).all()
        counts = dict(connection.execute(
            select(c.model_version, func.count()).where(c.metric == "prediction_count", c.window_start == DAY)
            .group_by(c.model_version)
        ).all())
        compared = connection.execute(select(c["compare"]).where(c.metric == "compare_error_rate_diff")).all()
    assert len(keys) == len(set(keys)) and counts == {"v1": 1, "v2": 1}
    assert [row.compare for row in compared] == ["champion=v1"]
    assert ("v1", "prediction_count", None, None, None) in keys

    _downgrade(engine, "0013")
    assert current_revision(engine) == "0013"
    labels, alert_labels = _labels(engine)
    assert alert_labels == [""] and {label for _, metric, label in labels if not metric.startswith("compare_")} == {""}
    engine.dispose()
