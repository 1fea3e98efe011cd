"""``driftwatch compute`` and ``driftwatch schedule`` as real processes on a real store (and their claims)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from monitor.cli import commands_compute
from monitor.metrics import drift
from monitor.store.engine import create_store_engine
from monitor.store.schema import upgrade_schema
from monitor.store.tables import window_state
from monitor.store.window_state import WindowKey, claim_window
from tests.monitor.jobs.store_data import (
    DAY,
    FRAUD_MODEL,
    HOUR,
    count,
    fraud_traffic,
    insert_predictions,
    metric,
    runs,
    value,
)


def _config(tmp_path: Path, store: str) -> Path:
    path = tmp_path / "driftwatch.yaml"
    path.write_text(yaml.safe_dump({"store": store, "schedule": {"interval": "1s"}, "models": {"fraud": FRAUD_MODEL}}))
    return path


def _cli(config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRIFTWATCH_CONFIG": str(config), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


def test_compute_backfills_a_range_and_recomputes_on_demand(engine, store_url, tmp_path):
    insert_predictions(engine, fraud_traffic(DAY, 4, 30), ingested_at=DAY + 4 * HOUR)
    config = _config(tmp_path, store_url)
    result = _cli(config, "compute", "--model", "fraud", "--from", "2026-03-02T01:00Z", "--to", "2026-03-02T03:00")
    assert result.returncode == 0, result.stderr
    assert "2 windows computed" in result.stderr and "0 failed" in result.stderr
    assert [(run.window_start, run.trigger) for run in runs(engine)] == [(DAY + HOUR, "backfill"),
                                                                          (DAY + 2 * HOUR, "backfill")]
    assert value(metric(engine, "prediction_count", window_start=DAY + HOUR)) == 30

    # Without a range: every window with data, again (replacing, not duplicating, rows).
    result = _cli(config, "compute", "--model", "fraud")
    assert result.returncode == 0, result.stderr
    assert "4 windows computed" in result.stderr
    assert Counter(run.window_start for run in runs(engine)) == {DAY: 1, DAY + HOUR: 2, DAY + 2 * HOUR: 2,
                                                                 DAY + 3 * HOUR: 1}
    assert value(metric(engine, "prediction_count", window_start=DAY + HOUR)) == 30


def test_compute_rejects_bad_input(tmp_path):
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    upgrade_schema(create_store_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    result = _cli(config, "compute", "--model", "nope")
    assert result.returncode == 2 and "no model 'nope'" in result.stderr
    result = _cli(config, "compute", "--model", "fraud", "--from", "yesterday")
    assert result.returncode == 2 and "not an ISO-8601 time" in result.stderr
    result = _cli(config, "compute", "--model", "fraud", "--from", "2026-03-02", "--to", "2026-03-01")
    assert result.returncode == 2 and "must be after --from" in result.stderr


def test_schedule_computes_due_windows_until_sigterm(tmp_path):
    url = f"sqlite:///{tmp_path / 'driftwatch.db'}"
    engine = create_store_engine(url)
    upgrade_schema(engine)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 3 * HOUR
    insert_predictions(engine, fraud_traffic(start, 3, 30), ingested_at=datetime.now(UTC))
    env = {**os.environ, "DRIFTWATCH_CONFIG": str(_config(tmp_path, url))}
    log = tmp_path / "schedule.log"
    with log.open("wb") as handle:  # a file, not a pipe: a full pipe would block the process
        process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "schedule"], env=env,
                                   stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and count(engine, window_state) < 4:
            time.sleep(0.5)
        assert count(engine, window_state) == 4, log.read_text()  # three complete hours and the current one
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError("schedule did not stop on SIGTERM:\n" + log.read_text()[-4000:]) from None
    output = log.read_text()
    assert process.returncode == 0, output
    assert "scheduler stopped" in output
    assert value(metric(engine, "prediction_count", window_start=start + HOUR)) == 30
    assert {run.status for run in runs(engine)} == {"succeeded"}


def test_cli_default_drift_share_matches_the_statistics():
    assert commands_compute.DEFAULT_DRIFT_SHARE == drift.DEFAULT_DRIFT_SHARE


@contextmanager
def _store_locked_while_claimed(engine, process: subprocess.Popen[bytes]):
    """Hold the store's write lock at a moment ``process`` holds a window claim (so it
    cannot finish that window), yielding the claim rows; the lock goes on exit."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("LOCK TABLE window_state IN SHARE ROW EXCLUSIVE MODE")
            claims = connection.execute(select(window_state).where(window_state.c.claimed_by.is_not(None))).all()
            if claims:
                yield claims
                return
        time.sleep(0.02)
    raise AssertionError(f"the process never held a claim (exit code {process.poll()})")


def _start(config: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DRIFTWATCH_CONFIG": str(config)}
    with log.open("wb") as handle:  # a file, not a pipe: a full pipe would block the process
        return subprocess.Popen([sys.executable, "-m", "monitor.cli", *args], env=env, stdout=handle,
                                stderr=subprocess.STDOUT)


def _claims(engine):
    with engine.connect() as connection:
        return connection.execute(select(window_state).where(window_state.c.claimed_by.is_not(None))).all()


@pytest.mark.slow
def test_a_killed_computation_is_taken_over_at_once_on_this_machine(engine, store_url, tmp_path):
    insert_predictions(engine, fraud_traffic(DAY, 12, 20), ingested_at=DAY + 12 * HOUR)
    config = _config(tmp_path, store_url)
    process = _start(config, tmp_path / "compute.log", "compute", "--model", "fraud")
    try:
        with _store_locked_while_claimed(engine, process) as claims:
            process.kill()  # kill -9, mid-window
            process.wait(timeout=60)
        assert [claim.claimed_process.split(":")[1] for claim in claims] == [str(process.pid)]
    finally:
        if process.poll() is None:
            process.kill()
    assert len(_claims(engine)) == 1  # the dead process's claim is still there (its lease is 60 s)

    result = _cli(config, "compute", "--model", "fraud")  # same machine: its pid is gone, so no wait
    assert result.returncode == 0, result.stderr
    assert "12 windows computed" in result.stderr and "0 busy" in result.stderr
    assert _claims(engine) == []


@pytest.mark.slow
def test_a_stopped_scheduler_releases_its_claims(engine, store_url, tmp_path):
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 12 * HOUR
    insert_predictions(engine, fraud_traffic(start, 12, 20), ingested_at=datetime.now(UTC))
    config = _config(tmp_path, store_url)
    log = tmp_path / "schedule.log"
    process = _start(config, log, "schedule")
    try:
        with _store_locked_while_claimed(engine, process) as claims:
            assert len(claims) == 1
            # Ctrl-C, then the supervisor's SIGTERM ("now") while the window cannot finish.
            process.send_signal(signal.SIGINT)
            time.sleep(1.5)  # ordering only: the first signal is handled before the second arrives
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            raise AssertionError("schedule did not stop:\n" + log.read_text()[-4000:])
    assert process.returncode in (0, 130), log.read_text()[-4000:]
    assert _claims(engine) == [], log.read_text()[-4000:]

    result = _cli(config, "compute", "--model", "fraud")
    assert result.returncode == 0, result.stderr
    assert "0 busy" in result.stderr


def test_compute_names_who_holds_a_claim_and_until_when(engine, store_url, tmp_path):
    insert_predictions(engine, fraud_traffic(DAY, 2, 10), ingested_at=DAY + 2 * HOUR)
    claimed_at = datetime.now(UTC)
    key = WindowKey("fraud", "v1", DAY + HOUR, DAY + 2 * HOUR)
    assert claim_window(engine, key, worker="box-7:4242:ab12", now=claimed_at, lease=timedelta(hours=1),
                        process="another-machine:4242:1") is not None
    result = _cli(_config(tmp_path, store_url), "compute", "--model", "fraud")
    assert result.returncode == 0, result.stderr
    assert "1 windows computed" in result.stderr and "1 busy in another scheduler" in result.stderr
    until = claimed_at + timedelta(hours=1)
    assert (f"window 2026-03-02T01:00:00Z of fraud v1 is being computed by box-7:4242:ab12 (claimed "
            f"{claimed_at:%H:%M:%S}, lease until {until:%H:%M:%S} UTC); retry after that or stop that process"
            ) in result.stderr
