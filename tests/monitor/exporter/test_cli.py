"""``driftwatch exporter``'s bad inputs: one clear message, exit code 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import yaml


def _exporter(tmp_path: Path, *args: str, config: dict | None = None) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "driftwatch.yaml"
    path.write_text(yaml.safe_dump(config or {"store": f"sqlite:///{tmp_path / 'driftwatch.db'}"}))
    return subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(path), "exporter", *args],
                          capture_output=True, text=True, timeout=120)


def test_without_a_port_it_says_where_to_set_one(tmp_path: Path):
    result = _exporter(tmp_path)
    assert result.returncode == 2
    assert "prometheus.port" in result.stderr and "--port" in result.stderr


def test_a_busy_port_is_named(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _exporter(tmp_path, "--port", str(port))
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr and "--metrics-port" in result.stderr
