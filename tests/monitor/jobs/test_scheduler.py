"""The scheduler on both stores: catch-up, late data, isolation, hooks, and two schedulers at once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest

from monitor.jobs.scheduler import WindowScheduler
from monitor.store.engine import create_store_engine
from monitor.store.tables import job_runs, metric_values, window_state
from tests.monitor.jobs.store_data import (
    DAY,
    FRAUD_MODEL,
    HOUR,
    Prediction,
    config,
    count,
    details,
    fraud_traffic,
    insert_predictions,
    metric,
    metric_rows,
    runs,
    upsert_labels,
    value,
)

MINUTE = timedelta(minutes=1)


def _metric_keys(engine, window_start):
    rows = metric_rows(engine, model="fraud", model_version="v1", window_start=window_start)
    keys = Counter((row.metric, row.feature) for row in rows)
    assert max(keys.values()) == 1, f"duplicate metric rows: {[k for k, n in keys.items() if n > 1]}"
    return set(keys)


def test_catch_up_after_a_day_of_downtime_computes_each_window_once(engine):
    cfg = config({"fraud": FRAUD_MODEL})
    # Two hours of traffic, then the scheduler runs at 02:01.
    insert_predictions(engine, fraud_traffic(DAY, 2, 30), ingested_at=DAY + 2 * HOUR)
    first = WindowScheduler(config=cfg, engine=engine, worker="before-outage")
    report = first.tick(DAY + 2 * HOUR + MINUTE)
    assert [(o.job.key.start, o.job.trigger) for o in report.outcomes] == [
        (DAY, "schedule"), (DAY + HOUR, "schedule"), (DAY + 2 * HOUR, "partial")]

    # The scheduler is down for a day while traffic keeps arriving, hour by hour.
    for hour in range(2, 26):
        rows = fraud_traffic(DAY + hour * HOUR, 1, 30, seed=hour, prefix=f"h{hour}-")
        insert_predictions(engine, rows, ingested_at=DAY + (hour + 1) * HOUR)

    restarted = WindowScheduler(config=cfg, engine=engine, worker="after-outage")
    now = DAY + 26 * HOUR + MINUTE
    report = restarted.tick(now)
    computed = [(o.job.key.start, o.job.trigger, o.job.is_partial) for o in report.outcomes]
    assert computed == (
        [(DAY + 2 * HOUR, "schedule", False)]  # was partial at 02:01, complete now
        + [(DAY + h * HOUR, "schedule", False) for h in range(3, 26)]
        + [(DAY + 26 * HOUR, "partial", True)]  # the current, still open window
    )
    assert all(o.status == "succeeded" for o in report.outcomes)

    # Each complete window computed exactly once after its data was complete.
    final_runs = Counter(run.window_start for run in runs(engine, model="fraud") if run.trigger == "schedule")
    assert set(final_runs.values()) == {1}
    assert len(final_runs) == 26
    assert count(engine, job_runs) == 26 + 2  # plus the two partial computations

    # Every complete window holds the same set of metric rows, each exactly once.
    expected = _metric_keys(engine, DAY)
    for hour in range(26):
        assert _metric_keys(engine, DAY + hour * HOUR) == expected
        assert value(metric(engine, "prediction_count", window_start=DAY + hour * HOUR)) == 30
    partial = metric(engine, "prediction_count", window_start=DAY + 26 * HOUR)
    assert partial.is_partial and details(partial)["partial"] is True and value(partial) == 0
    assert count(engine, metric_values) == 26 * len(expected) + len(_metric_keys(engine, DAY + 26 * HOUR))

    # Nothing new: the next tick computes nothing and writes nothing.
    before = count(engine, job_runs)
    assert restarted.tick(now + MINUTE).outcomes == []
    assert count(engine, job_runs) == before
    states = count(engine, window_state)
    assert states == 27


def test_late_label_and_late_prediction_recompute_their_window_and_replace_rows(engine):
    # Estimation off: these labels also reach the copied reference, which turns estimation on
    # (new estimated_* rows; tests/monitor/jobs/test_estimation.py covers that).
    cfg = config({"fraud": {**FRAUD_MODEL, "estimation": {"enabled": False}}})
    rows = fraud_traffic(DAY, 3, 40)
    insert_predictions(engine, rows, ingested_at=DAY + 3 * HOUR)
    scheduler = WindowScheduler(config=cfg, engine=engine, worker="w")
    scheduler.tick(DAY + 3 * HOUR + MINUTE)
    window1 = DAY + HOUR
    assert value(metric(engine, "label_count", window_start=window1)) == 0
    keys_before = _metric_keys(engine, window1)

    # Labels for half of window 1 arrive a day later.
    in_window1 = [row for row in rows if DAY + HOUR <= row.event_time < DAY + 2 * HOUR]
    upsert_labels(engine, {row.prediction_id: row.prediction for row in in_window1[:20]},
                  ingested_at=DAY + 27 * HOUR)
    report = scheduler.tick(DAY + 27 * HOUR + MINUTE)
    late = [o for o in report.outcomes if o.job.trigger == "late-data"]
    assert [o.job.key.start for o in late] == [window1]
    assert value(metric(engine, "label_count", window_start=window1)) == 20
    assert value(metric(engine, "accuracy", window_start=window1)) == 1.0
    assert _metric_keys(engine, window1) == keys_before
    assert count(engine, metric_values, window_start=DAY) == len(_metric_keys(engine, DAY))

    # A replaced label (the outcome was corrected) recomputes again.
    first = in_window1[0]
    upsert_labels(engine, {first.prediction_id: 1 - first.prediction}, ingested_at=DAY + 28 * HOUR)
    report = scheduler.tick(DAY + 28 * HOUR + MINUTE)
    assert [o.job.key.start for o in report.outcomes if o.job.trigger == "late-data"] == [window1]
    assert value(metric(engine, "accuracy", window_start=window1)) == pytest.approx(19 / 20)

    # A late prediction (event time in window 0, ingested much later) recomputes window 0 only.
    insert_predictions(engine, [Prediction("late-1", DAY + timedelta(minutes=5), {"amount": 3.0, "country": "DE"},
                                           1, score=0.9)], ingested_at=DAY + 29 * HOUR)
    report = scheduler.tick(DAY + 29 * HOUR + MINUTE)
    # (The live version's empty windows since then are computed too: traffic stopped.)
    assert [o.job.key.start for o in report.outcomes if o.job.key.start < DAY + 3 * HOUR] == [DAY]
    assert [o.job.trigger for o in report.outcomes if o.job.key.start == DAY] == ["late-data"]
    assert value(metric(engine, "prediction_count", window_start=DAY)) == 41
    for hour in range(3):  # replaced, never duplicated
        assert count(engine, metric_values, window_start=DAY + hour * HOUR) == len(keys_before)
    late_runs = runs(engine, trigger="late-data")
    assert [(run.window_start, run.status) for run in late_runs] == [
        (window1, "succeeded"), (window1, "succeeded"), (DAY, "succeeded")]


def test_a_failing_model_is_recorded_and_the_others_go_on(engine):
    broken = {**FRAUD_MODEL, "window": "500ms"}  # valid config, but not a whole second: the scan refuses it
    cfg = config({"broken": broken, "fraud": FRAUD_MODEL})
    insert_predictions(engine, fraud_traffic(DAY, 2, 10), ingested_at=DAY + 2 * HOUR)
    insert_predictions(engine, fraud_traffic(DAY, 1, 5, model="broken"), ingested_at=DAY + 2 * HOUR)
    report = WindowScheduler(config=cfg, engine=engine, worker="w").tick(DAY + 2 * HOUR + MINUTE)
    assert "whole number of seconds" in report.model_errors["broken"]
    assert len(report.outcomes) == 3
    failed = runs(engine, model="broken")
    assert [(run.status, run.window_start) for run in failed] == [("failed", None)]
    assert "whole number of seconds" in failed[0].error
    assert value(metric(engine, "prediction_count", window_start=DAY)) == 10


def test_hook_is_called_once_per_saved_window(engine):
    calls = []
    insert_predictions(engine, fraud_traffic(DAY, 2, 10), ingested_at=DAY + 2 * HOUR)
    scheduler = WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="w",
                                on_window_computed=lambda *args: calls.append(args))
    scheduler.tick(DAY + 2 * HOUR + MINUTE)
    assert calls == [("fraud", "v1", DAY, DAY + HOUR, False), ("fraud", "v1", DAY + HOUR, DAY + 2 * HOUR, False),
                     ("fraud", "v1", DAY + 2 * HOUR, DAY + 3 * HOUR, True)]
    # The window's rows are already committed when the hook runs.
    assert count(engine, metric_values, window_start=DAY) > 0


def test_a_failing_hook_does_not_stop_the_scheduler(engine):
    insert_predictions(engine, fraud_traffic(DAY, 2, 10), ingested_at=DAY + 2 * HOUR)

    def hook(*_args):
        raise RuntimeError("alerts are down")

    report = WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="w",
                             on_window_computed=hook).tick(DAY + 2 * HOUR + MINUTE)
    assert [o.status for o in report.outcomes] == ["succeeded"] * 3


def test_two_schedulers_at_once_never_duplicate_or_double_compute(store_url):
    setup = create_store_engine(store_url)
    from monitor.store.schema import upgrade_schema

    upgrade_schema(setup)
    hours = 12
    insert_predictions(setup, fraud_traffic(DAY, hours, 40), ingested_at=DAY + hours * HOUR)
    cfg = config({"fraud": FRAUD_MODEL})
    now = DAY + hours * HOUR + MINUTE
    engines = [create_store_engine(store_url) for _ in range(2)]
    schedulers = [WindowScheduler(config=cfg, engine=e, worker=f"scheduler-{i}") for i, e in enumerate(engines)]
    reports = [None, None]
    barrier = threading.Barrier(2)

    def run(index):
        barrier.wait()
        reports[index] = schedulers[index].tick(now)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    computed = [o.job.key.start for report in reports for o in report.outcomes]
    assert sorted(computed) == [DAY + h * HOUR for h in range(hours + 1)]  # each window by exactly one
    assert all(o.status == "succeeded" for report in reports for o in report.outcomes)
    assert Counter(run.window_start for run in runs(setup)) == {DAY + h * HOUR: 1 for h in range(hours + 1)}
    keys = _metric_keys(setup, DAY)
    for hour in range(hours):
        assert _metric_keys(setup, DAY + hour * HOUR) == keys
    assert all(state.claimed_by is None for state in _states(setup))
    # A second round at the same time finds nothing to do on either scheduler.
    assert all(scheduler.tick(now).outcomes == [] for scheduler in schedulers)
    for e in [setup, *engines]:
        e.dispose()


def _states(engine):
    from tests.monitor.jobs.store_data import states

    return states(engine)
