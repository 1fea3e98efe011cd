"""``driftwatch dashboard`` as a real child process, for the command and browser tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.error import URLError

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class DashboardProcess:
    """Starts ``python -m monitor.cli --config FILE dashboard --port P`` and waits until healthy."""

    def __init__(self, store_url: str, workdir: Path, **dashboard: str) -> None:
        """``dashboard``: more keys of the config's ``dashboard:`` section (e.g. auto_refresh="2s")."""
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config = workdir / "driftwatch.yaml"
        extra = "".join(f"  {key}: {value}\n" for key, value in dashboard.items())
        self.config.write_text(f"store: {store_url}\ndashboard:\n  base_url: {self.base_url}\n{extra}",
                               encoding="utf-8")
        self.log = workdir / "dashboard.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 180.0) -> DashboardProcess:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTWATCH_")}
        command = [sys.executable, "-m", "monitor.cli", "--config", str(self.config), "dashboard",
                   "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"driftwatch dashboard exited with {self.process.returncode}:\n{self.output()}")
            if self.healthy():
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"driftwatch dashboard not healthy after {timeout_s} s:\n{self.output()}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/_stcore/health", timeout=2) as response:
                return bool(response.status == 200 and response.read().strip() == b"ok")
        except (URLError, OSError):
            return False

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 60.0) -> int:
        """Send ``signum`` to the ``driftwatch`` process and return its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                # Streamlit runs in its own session: kill it too, or it outlives the test.
                for child in _children(self.process.pid):
                    os.kill(child, signal.SIGKILL)
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
