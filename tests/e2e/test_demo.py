"""The README's demo command: it starts, processes traffic, the dashboard answers on its
health endpoint, a second start resumes the first one's store, Ctrl-C stops everything
and exits 0 (so `make demo` prints no "Error 130"), and nothing but what the user needs
is printed on the way."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.kafka, pytest.mark.slow]
NOISE = re.compile(r"warning|deprecated|blocking the event loop", re.IGNORECASE)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _interruptible() -> None:
    """Ctrl-C as in a terminal: a shell started with SIGINT ignored (a test run launched in the
    background, ``cmd &``, passes that on) cannot trap it, and the demo would not stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _environment(demo_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DASHBOARD_PORT": str(_free_port()), "WEBHOOK_PORT": str(_free_port()), "RATE": "150",
            "DEMO_DIR": str(demo_dir), **extra}


def _predictions(demo_dir: Path) -> int:
    db = sqlite3.connect(f"file:{demo_dir}/driftwatch.db?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])
    finally:
        db.close()


def _assert_quiet_and_stopped(output: str, demo_dir: Path) -> None:
    assert not [line for line in output.splitlines() if NOISE.search(line)], output[-5000:]
    service_log = (demo_dir / "service.log").read_text()
    assert "driftwatch stopped cleanly" in service_log
    assert "blocking the event loop" not in service_log
    # Nothing the demo started is left running: the service, simulator, dashboard, receiver, broker.
    for pattern in (f"{demo_dir}/driftwatch.yaml", f"{demo_dir}/webhook.jsonl", f"{demo_dir}/kafka"):
        leftovers = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        assert leftovers.stdout.strip() == "", pattern


def test_demo_starts_fresh_then_resumes_and_ctrl_c_stops_it_with_exit_0(tmp_path: Path):
    demo_dir = tmp_path / "demo"
    demo_dir.mkdir()
    (demo_dir / "stale.txt").write_text("from an older demo")

    # DEMO_FRESH=1 (`make demo-fresh`): the old directory goes, and the short CI mode checks it works.
    first = subprocess.run(["bash", "scripts/demo.sh", "--short", "40"], cwd=ROOT, capture_output=True, text=True,
                           env=_environment(demo_dir, DEMO_FRESH="1"), timeout=900)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-5000:]
    assert f"starting over: deleting the previous demo in {demo_dir}" in output
    assert not (demo_dir / "stale.txt").exists()
    assert "demo check: dashboard healthy" in output
    _assert_quiet_and_stopped(output, demo_dir)
    stored = _predictions(demo_dir)
    assert stored > 0
    with (demo_dir / "webhook.jsonl").open("a") as calls:
        calls.write('{"earlier": "call"}\n')

    # `make demo` again: it resumes that store (and says so) until Ctrl-C, i.e. SIGINT to its process group.
    demo = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=ROOT, env=_environment(demo_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=_interruptible)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(600), "".join(lines)[-5000:]
        deadline = time.monotonic() + 180
        while _predictions(demo_dir) <= stored and time.monotonic() < deadline:
            time.sleep(2)
        assert _predictions(demo_dir) > stored, "the resumed demo stored no new predictions"
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        returncode = demo.wait(timeout=180)
        reader.join(timeout=30)
    output = "".join(lines)
    assert returncode == 0, output[-5000:]
    assert (f"resuming the demo store in {demo_dir} ({stored} predictions); "
            "`make demo-fresh` or DEMO_FRESH=1 starts over") in output
    assert "==> stopping" in output and f"the store and the webhook calls stay in {demo_dir}" in output
    _assert_quiet_and_stopped(output, demo_dir)
    assert '{"earlier": "call"}' in (demo_dir / "webhook.jsonl").read_text()
