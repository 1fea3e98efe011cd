"""Window claims on both stores: the lease, its heartbeat, takeover of a dead holder, release on stop."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from monitor.config.models import DriftwatchConfig
from monitor.jobs import lease as lease_module
from monitor.jobs.lease import LeaseKeeper, process_gone, process_of, this_process
from monitor.jobs.reference import ReferenceProvider
from monitor.jobs.scheduler import WindowScheduler
from monitor.store.window_state import WindowKey, claim_window, extend_claims, read_claim, release_window
from tests.monitor.jobs.store_data import DAY, FRAUD_MODEL, HOUR, config, fraud_traffic, insert_predictions, runs

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
LEASE = timedelta(seconds=60)
WINDOW = WindowKey("fraud", "v1", DAY, DAY + HOUR)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def _one_window(engine):
    insert_predictions(engine, fraud_traffic(DAY, 1, 10), ingested_at=DAY + HOUR)


def _computed(report):
    """The outcomes for the window under test (ticks also refresh the current, empty window)."""
    return [(o.job.key, o.status) for o in report.outcomes if o.job.key == WINDOW]


def test_the_default_lease_is_short_and_a_lease_too_short_to_renew_is_refused():
    assert config({"fraud": FRAUD_MODEL}).schedule.lease == LEASE
    with pytest.raises(ValidationError, match="lease 0:00:01 is too short for its heartbeat"):
        DriftwatchConfig.model_validate({"schedule": {"lease": "1s"}, "models": {"fraud": FRAUD_MODEL}})


def test_a_claim_whose_holder_stopped_renewing_is_retaken_after_the_lease(engine):
    _one_window(engine)
    claimed_at = datetime.now(UTC)
    # Another machine's scheduler claimed the window, then died: no heartbeat renews it.
    assert claim_window(engine, WINDOW, worker="other-host:7:dead", now=claimed_at, lease=LEASE,
                        process="another-machine:7:1234", process_gone=process_gone) is not None
    clock = Clock(claimed_at + LEASE - SECOND)
    scheduler = WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="here", clock=clock)
    report = scheduler.tick(DAY + HOUR + MINUTE)
    assert report.busy == [WINDOW] and _computed(report) == []
    holder = report.holders[WINDOW]
    assert (holder.claimed_by, holder.claimed_at, holder.claimed_until) == (
        "other-host:7:dead", claimed_at, claimed_at + LEASE)

    clock.moment = claimed_at + LEASE + SECOND  # one lease later, not fifteen minutes
    report = scheduler.tick(DAY + HOUR + MINUTE)
    assert _computed(report) == [(WINDOW, "succeeded")]
    assert read_claim(engine, WINDOW).claimed_by is None


def test_a_claim_of_a_killed_process_on_this_machine_is_taken_over_at_once(engine):
    _one_window(engine)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        process = process_of(holder.pid)
        if process is None:
            pytest.skip("this system has no /proc to tell whether a process is alive")
        now = datetime.now(UTC)
        assert claim_window(engine, WINDOW, worker="this-host:dead", now=now, lease=LEASE, process=process,
                            process_gone=process_gone) is not None
        scheduler = WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="here",
                                    clock=Clock(now + SECOND))
        assert scheduler.tick(DAY + HOUR + MINUTE).busy == [WINDOW]  # alive: its claim holds
        holder.kill()
        deadline = time.monotonic() + 30
        while not process_gone(process) and time.monotonic() < deadline:  # killed (a zombie until reaped)
            time.sleep(0.05)
        assert process_gone(process)
    finally:
        holder.kill()
        holder.wait()
    report = scheduler.tick(DAY + HOUR + MINUTE)  # well within its lease: the dead pid tells
    assert _computed(report) == [(WINDOW, "succeeded")]


def test_a_live_claim_of_this_process_is_never_taken_over(engine):
    _one_window(engine)
    now = datetime.now(UTC)
    assert claim_window(engine, WINDOW, worker="first", now=now, lease=LEASE, process=this_process(),
                        process_gone=process_gone) is not None
    second = WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="second",
                             clock=Clock(now + SECOND))
    assert second.tick(DAY + HOUR + MINUTE).busy == [WINDOW]


class SlowReferences(ReferenceProvider):
    """A first reference lookup that lasts until ``until()`` is true (a long computation)."""

    def __init__(self, engine, until) -> None:
        super().__init__(engine)
        self.until = until
        self.waited = False

    def get(self, *args, **kwargs):
        deadline = time.monotonic() + 60
        while not self.waited and not self.until() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.waited = True
        return super().get(*args, **kwargs)


def test_a_long_computation_keeps_its_claim_thanks_to_the_heartbeat(engine):
    _one_window(engine)
    lease = timedelta(seconds=3)  # heartbeat every second
    cfg = config({"fraud": FRAUD_MODEL})
    started = datetime.now(UTC)
    renewals: list[datetime] = []

    def renewed_twice() -> bool:
        state = read_claim(engine, WINDOW)
        until = state.claimed_until if state is not None and state.claimed_by == "slow" else None
        if until is not None and (not renewals or until > renewals[-1]):
            renewals.append(until)
        return len(renewals) >= 3 and renewals[-1] > renewals[0] + lease  # past its first lease

    computing = WindowScheduler(config=cfg, engine=engine, worker="slow", lease=lease)
    computing.references = SlowReferences(engine, until=lambda: renewed_twice() and other_found_it_busy())
    other = WindowScheduler(config=cfg, engine=engine, worker="other", lease=lease)
    busy: list[bool] = []

    def other_found_it_busy() -> bool:
        # Another scheduler, later than the first lease: the claim still holds.
        other.clock = Clock(renewals[0] + SECOND)
        busy.append(other.backfill("fraud").busy == [WINDOW])
        return busy[-1]

    report = computing.tick(DAY + HOUR + MINUTE)
    assert busy and all(busy)
    assert renewals[0] >= started + lease and renewals[-1] > renewals[0] + lease
    assert _computed(report) == [(WINDOW, "succeeded")]  # its result is saved
    assert [run.worker for run in runs(engine) if run.window_start == DAY] == ["slow"]


def test_a_window_interrupted_by_a_stop_gives_its_claim_back(engine):
    _one_window(engine)

    class Interrupted(ReferenceProvider):
        def get(self, *args, **kwargs):
            raise KeyboardInterrupt  # Ctrl-C (or a second signal's SystemExit) in the middle of the window

    scheduler = WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="stopped")
    scheduler.references = Interrupted(engine)
    with pytest.raises(KeyboardInterrupt):
        scheduler.tick(DAY + HOUR + MINUTE)
    assert read_claim(engine, WINDOW).claimed_by is None
    report = WindowScheduler(config=config({"fraud": FRAUD_MODEL}), engine=engine, worker="next").backfill("fraud")
    assert report.busy == [] and [o.status for o in report.outcomes] == ["succeeded"]


def _claimed_keeper(engine, worker: str) -> LeaseKeeper:
    _one_window(engine)
    now = datetime.now(UTC)
    assert claim_window(engine, WINDOW, worker=worker, now=now, lease=LEASE, process=this_process(),
                        process_gone=process_gone) is not None
    keeper = LeaseKeeper(engine, worker=worker, lease=LEASE, clock=lambda: datetime.now(UTC))
    keeper.hold(WINDOW)
    return keeper


def test_a_window_saved_during_a_heartbeat_is_not_reported_lost(engine, monkeypatch, caplog):
    """The heartbeat read the held claims, then the window was saved (claim released,
    dropped from the keeper) before its UPDATE ran: no "claim lost" warning."""
    keeper = _claimed_keeper(engine, "saver")

    def saved_meanwhile(*args, **kwargs):
        release_window(engine, WINDOW, worker="saver")  # what saving the window does to the claim
        keeper.drop(WINDOW)
        return extend_claims(*args, **kwargs)

    monkeypatch.setattr(lease_module, "extend_claims", saved_meanwhile)
    with caplog.at_level(logging.WARNING, logger=lease_module.log.name):
        keeper.beat()
    keeper.release_all()
    assert [r.getMessage() for r in caplog.records if "claim lost" in r.getMessage()] == []


def test_a_claim_taken_over_while_held_is_reported_lost(engine, caplog):
    keeper = _claimed_keeper(engine, "slow")
    # Its lease ran out unnoticed and another scheduler took the window over.
    release_window(engine, WINDOW, worker="slow")
    assert claim_window(engine, WINDOW, worker="other", now=datetime.now(UTC), lease=LEASE, process=this_process(),
                        process_gone=process_gone) is not None
    with caplog.at_level(logging.WARNING, logger=lease_module.log.name):
        keeper.beat()
    keeper.release_all()
    assert [r.getMessage() for r in caplog.records if "claim lost" in r.getMessage()] == [
        "claim lost: another scheduler took the window over; its result will not be saved"]
    assert read_claim(engine, WINDOW).claimed_by == "other"
