"""Rows stored before ingestion refused them (or inserted by hand) never block windows:
a number too large for a float is a missing value of its feature, and an event time
millennia ahead is skipped with a logged note, on both stores."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from monitor.jobs.scheduler import WindowScheduler
from tests.monitor.cli.test_compute_commands import _cli, _config
from tests.monitor.jobs.store_data import (
    DAY,
    FRAUD_MODEL,
    HOUR,
    Prediction,
    config,
    fraud_traffic,
    insert_predictions,
    metric,
    value,
)

MINUTE = timedelta(minutes=1)
UNDECLARED = {key: item for key, item in FRAUD_MODEL.items() if key != "features"}  # types from the reference


def test_a_stored_integer_too_large_for_a_float_is_a_missing_value(engine):
    rows = fraud_traffic(DAY, 2, 30)
    # One in the reference (the first 50 predictions) and one in the second window.
    rows.append(Prediction("huge-ref", DAY + 3 * MINUTE, {"amount": 10**400, "country": "DE"}, 1, score=0.9))
    rows.append(Prediction("huge", DAY + HOUR + 3 * MINUTE, {"amount": -(10**400), "country": "FR"}, 1, score=0.9))
    insert_predictions(engine, rows, ingested_at=DAY + 2 * HOUR)
    scheduler = WindowScheduler(config=config({"fraud": UNDECLARED}), engine=engine)
    report = scheduler.tick(DAY + 2 * HOUR + MINUTE)
    assert [o.status for o in report.outcomes] == ["succeeded"] * 3, [o.error for o in report.outcomes]
    for start in (DAY, DAY + HOUR):
        assert value(metric(engine, "prediction_count", window_start=start)) == 31
        assert value(metric(engine, "missing_share", window_start=start, feature="amount")) == 1 / 31
        assert value(metric(engine, "missing_share", window_start=start, feature="country")) == 0
        metric(engine, "feature_drift_score", window_start=start, feature="amount")  # drift still judged

    # `driftwatch compute` computes them too.
    backfill = WindowScheduler(config=config({"fraud": UNDECLARED}), engine=engine).backfill(
        "fraud", now=DAY + 3 * HOUR)
    assert [o.status for o in backfill.outcomes] == ["succeeded"] * 2, [o.error for o in backfill.outcomes]
    assert value(metric(engine, "missing_share", window_start=DAY + HOUR, feature="amount")) == 1 / 31


def _far_rows() -> list[Prediction]:
    return [
        Prediction("year-9999", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), {"amount": 1.0, "country": "DE"}, 0),
        Prediction("year-2999", datetime(2999, 1, 1, tzinfo=UTC), {"amount": 1.0, "country": "DE"}, 0),
        Prediction("year-1970", datetime(1970, 1, 1, tzinfo=UTC), {"amount": 1.0, "country": "DE"}, 0),
    ]


def test_a_tick_skips_windows_past_the_accepted_event_times(engine, caplog):
    insert_predictions(engine, [*fraud_traffic(DAY, 2, 30), *_far_rows()[:2]], ingested_at=DAY + 2 * HOUR)
    scheduler = WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine)
    with caplog.at_level(logging.WARNING, logger="monitor.jobs.due"):
        report = scheduler.tick(DAY + 2 * HOUR + MINUTE)
    starts = [o.job.key.start for o in report.outcomes]
    assert all(o.status == "succeeded" for o in report.outcomes), [o.error for o in report.outcomes]
    # The windows of 2999 and 9999 are skipped (not every window up to them).
    assert starts == [DAY, DAY + HOUR, DAY + 2 * HOUR]
    assert value(metric(engine, "prediction_count", window_start=DAY + HOUR)) == 30
    skipped = [r for r in caplog.records if r.getMessage().startswith("windows skipped")]
    assert len(skipped) == 1 and "max_event_lead" in skipped[0].getMessage()
    # Logged once, not on every tick; the next tick has nothing to do.
    caplog.clear()
    assert scheduler.tick(DAY + 2 * HOUR + 2 * MINUTE).outcomes == []
    assert not [r for r in caplog.records if r.getMessage().startswith("windows skipped")]


def test_compute_skips_windows_past_the_accepted_event_times(engine):
    insert_predictions(engine, [*fraud_traffic(DAY, 2, 30), *_far_rows()], ingested_at=DAY + 2 * HOUR)
    report = WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine).backfill(
        "fraud", now=DAY + 3 * HOUR)
    assert all(o.status == "succeeded" for o in report.outcomes), [o.error for o in report.outcomes]
    # The 1970 row's window is computed alone (not decades of empty windows); 2999 and 9999 are skipped.
    assert [o.job.key.start for o in report.outcomes] == [datetime(1970, 1, 1, tzinfo=UTC), DAY, DAY + HOUR]
    assert value(metric(engine, "prediction_count", window_start=DAY)) == 30


def test_the_compute_command_finishes_with_a_row_dated_9999(engine, store_url, tmp_path):
    insert_predictions(engine, [*fraud_traffic(DAY, 2, 30), *_far_rows()[:2]], ingested_at=DAY + 2 * HOUR)
    result = _cli(_config(tmp_path, store_url), "compute", "--model", "fraud")
    assert result.returncode == 0, result.stderr
    assert "2 windows computed" in result.stderr and "0 failed" in result.stderr
    assert "windows skipped" in result.stderr and "Traceback" not in result.stderr
    assert value(metric(engine, "prediction_count", window_start=DAY + HOUR)) == 30
