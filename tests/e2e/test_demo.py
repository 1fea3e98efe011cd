"""The README's demo command, in its short CI mode: it starts, processes traffic,
the dashboard answers on its health endpoint, and everything shuts down cleanly."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_short_mode():
    env = {**os.environ, "DASHBOARD_PORT": str(_free_port()), "WEBHOOK_PORT": str(_free_port()), "RATE": "150"}
    result = subprocess.run(["bash", "scripts/demo.sh", "--short", "40"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "demo check: dashboard healthy" in output
    service_log = (ROOT / ".local" / "demo" / "service.log").read_text()
    assert "driftwatch stopped cleanly" in service_log
    # Nothing the demo started is left running.
    leftovers = subprocess.run(["pgrep", "-f", ".local/demo/driftwatch.yaml"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
