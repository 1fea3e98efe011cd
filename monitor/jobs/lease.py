"""Window claims that outlive nobody: the claiming process, a heartbeat, and release on stop.

A scheduler claims a window in ``window_state`` for a short lease
(``schedule.lease``, 60 s by default). While the window computes, a
:class:`LeaseKeeper` thread extends the lease every third of it, so a long
computation keeps its claim, and a process that died (``kill -9``, power cut)
loses it within one lease. A process that stops (SIGTERM, Ctrl-C, an exception)
releases what it holds at once.

Each claim also records the claiming process (:func:`this_process`): the pid, the
process start time (so a reused pid is not mistaken for the claimer) and the pid
namespace of the machine. A scheduler in the same pid namespace takes over a claim
whose process is gone without waiting for the lease (:func:`process_gone`); on
another machine, or where ``/proc`` is missing, only the lease tells.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from monitor.clock import iso_utc
from monitor.logs import fields
from monitor.store.window_state import WindowKey, extend_claims, release_window

__all__ = ["LeaseKeeper", "process_gone", "process_of", "this_process"]

log = logging.getLogger(__name__)

PROC = Path("/proc")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _pid_space() -> str | None:
    """Names the set of pids this process can see: host name, boot and pid namespace."""
    boot = _read(PROC / "sys/kernel/random/boot_id")
    try:
        namespace = os.readlink(PROC / "self/ns/pid")
    except OSError:
        return None
    if boot is None:
        return None
    return hashlib.sha256(f"{socket.gethostname()}|{boot}|{namespace}".encode()).hexdigest()[:16]


def _start_ticks(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), or None if there is no such
    running process (a zombie — killed, not yet reaped — counts as ended).

    >>> _start_ticks(os.getpid()) is not None or not PROC.exists()
    True
    """
    stat = _read(PROC / str(pid) / "stat")
    if stat is None:
        return None
    # Field 3 is the state, field 22 the start time; the command name (field 2) may
    # hold spaces, so split after it.
    rest = stat.rsplit(")", 1)[-1].split()
    if len(rest) <= 19 or rest[0] in ("Z", "X"):
        return None
    return rest[19]


def this_process() -> str | None:
    """This process as ``<pid space>:<pid>:<start>``, or None where ``/proc`` cannot tell.

    >>> mine = this_process()
    >>> mine is None or (mine.split(":")[1] == str(os.getpid()) and not process_gone(mine))
    True
    """
    return process_of(os.getpid())


def process_of(pid: int) -> str | None:
    """A running process of this machine as :func:`this_process` names it (None: unknown)."""
    space, start = _pid_space(), _start_ticks(pid)
    if space is None or start is None:
        return None
    return f"{space}:{pid}:{start}"


def process_gone(process: str | None) -> bool:
    """True only when ``process`` (from :func:`this_process`) is known to have ended:
    same pid space as ours, and no process with its pid and start time.

    >>> process_gone(None), process_gone("elsewhere:1:1")
    (False, False)
    """
    if process is None:
        return False
    parts = process.split(":")
    space = _pid_space()
    if len(parts) != 3 or space is None or parts[0] != space or not parts[1].isdigit():
        return False
    return _start_ticks(int(parts[1])) != parts[2]


class LeaseKeeper:
    """The claims one scheduler holds: extended every ``lease / 3`` by a daemon thread
    while held, released by :meth:`release_all` (on stop).

    ``clock`` gives the wall-clock time the lease is counted from.
    """

    def __init__(self, engine: Engine, *, worker: str, lease: timedelta, clock: Callable[[], datetime]) -> None:
        if lease < timedelta(seconds=3):
            raise ValueError(f"the claim lease must be at least 3s, got {lease}; set schedule.lease to e.g. 60s")
        self.engine = engine
        self.worker = worker
        self.lease = lease
        self.clock = clock
        self._held: set[WindowKey] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._closed = False

    def held(self) -> set[WindowKey]:
        with self._lock:
            return set(self._held)

    def hold(self, key: WindowKey) -> None:
        """``key`` was just claimed: keep extending its lease until :meth:`drop`."""
        with self._lock:
            self._held.add(key)
            self._closed = False
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._beat, name="driftwatch-lease", daemon=True)
                self._thread.start()

    def drop(self, key: WindowKey) -> None:
        """``key`` was saved or released: stop extending it."""
        with self._lock:
            self._held.discard(key)

    def release_all(self) -> None:
        """Give back every claim still held and stop the heartbeat (a clean stop)."""
        with self._lock:
            held, self._held = set(self._held), set()
            self._closed = True
            self._wake.notify_all()
        for key in sorted(held):
            try:
                release_window(self.engine, key, worker=self.worker)
                log.info("claim released on stop", extra=fields(model=key.model, version=key.model_version,
                                                                window=iso_utc(key.start)))
            except Exception:  # the store may be down: the lease then runs out on its own
                log.exception("cannot release a claim; it expires with its lease",
                              extra=fields(model=key.model, window=iso_utc(key.start)))

    def beat(self) -> None:
        """Extend every held claim to ``clock() + lease`` (what the thread does each period)."""
        held = self.held()
        if not held:
            return
        lost = extend_claims(self.engine, sorted(held), worker=self.worker, until=self.clock() + self.lease)
        # A window saved (or released) while this beat ran gave its claim back and was
        # dropped meanwhile: not extending it is no loss. Only a key still held was taken.
        still_held = self.held()
        for key in (key for key in lost if key in still_held):
            log.warning("claim lost: another scheduler took the window over; its result will not be saved",
                        extra=fields(model=key.model, version=key.model_version, window=iso_utc(key.start)))

    def _beat(self) -> None:
        period = self.lease.total_seconds() / 3
        while True:
            with self._lock:
                self._wake.wait(period)
                if self._closed or not self._held:
                    self._thread = None
                    return
            try:
                self.beat()
            except Exception:  # a store hiccup: the next beat retries, well within the lease
                log.exception("cannot extend the window claims", extra=fields(worker=self.worker))
