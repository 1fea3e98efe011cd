"""A real Prometheus server (Debian's ``prometheus`` package) on a free port, and a
``driftwatch exporter`` child process for it to scrape."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.support.traffic import LIVE_PROCESSES

__all__ = ["LocalPrometheus", "start_exporter_process", "wait_for_http"]


def wait_for_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 60.0) -> str:
    """GET ``url`` until it answers 200 (failing early, with the log, if ``proc`` exits)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer within {timeout_s}s:\n{log.read_text()}") from None
            time.sleep(0.2)


def start_exporter_process(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``driftwatch exporter --port PORT`` as a real child process, serving once this returns."""
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "--config", str(config), "exporter",
                             "--port", str(port)], stdout=log.open("ab"), stderr=subprocess.STDOUT)
    LIVE_PROCESSES.append(proc)
    wait_for_http(f"http://127.0.0.1:{port}/metrics", proc, log)
    return proc


class LocalPrometheus:
    """``prometheus`` with its own config and data directory, scraping ``targets`` every second."""

    def __init__(self, base_dir: Path, port: int, targets: list[str]) -> None:
        self.base_dir = base_dir
        self.port = port
        self.config = base_dir / "prometheus.yml"
        self.config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "driftwatch", "static_configs": [{"targets": targets}]}],
        }))
        self.log = base_dir / "prometheus.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise AssertionError("prometheus is not installed; scripts/setup.sh installs Debian's prometheus")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={self.config}", f"--storage.tsdb.path={self.base_dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        LIVE_PROCESSES.append(self.proc)
        wait_for_http(f"http://127.0.0.1:{self.port}/-/ready", self.proc, self.log)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector of ``promql`` from the HTTP API (``/api/v1/query``)."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def wait_for(self, promql: str, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        """Query until ``promql`` has samples (the first scrapes land within seconds)."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(promql)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus has no {promql} after {timeout_s}s:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.5)
