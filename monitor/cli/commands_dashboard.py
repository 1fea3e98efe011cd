"""``driftwatch dashboard``: the Streamlit dashboard on the configured store.

Runs ``python -m streamlit run dashboard/app.py`` as a child process with
``DRIFTWATCH_STORE`` set from the config, forwards SIGINT/SIGTERM/SIGHUP to it and
exits with its exit code, so a supervisor (systemd, Kubernetes) sees Streamlit's
own lifecycle.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from monitor.cli.common import app, err, load_context_config
from monitor.config import override_name
from monitor.errors import DriftwatchError
from monitor.store.engine import redact_url

__all__ = ["dashboard", "dashboard_command", "dashboard_script"]

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def dashboard_script() -> Path:
    """The installed ``dashboard/app.py``."""
    try:
        import dashboard
    except ImportError as exc:
        raise DriftwatchError("the dashboard package is not installed; reinstall driftwatch") from exc
    return Path(dashboard.__file__).resolve().with_name("app.py")


def dashboard_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(dashboard_script()),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]


@app.command()
def dashboard(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8501,
) -> None:
    """Start the Streamlit dashboard on the configured store (read-only)."""
    config = load_context_config()
    environment = {**os.environ, "DRIFTWATCH_STORE": config.store,
                   # Read by dashboard.settings in the Streamlit process (the config's own override names).
                   override_name("dashboard", "auto_refresh"): f"{config.dashboard.auto_refresh.total_seconds():g}s",
                   override_name("dashboard", "query_ttl"): f"{config.dashboard.query_ttl.total_seconds():g}s"}
    err.print(f"dashboard on http://{host}:{port} reading {redact_url(config.store)}", highlight=False, soft_wrap=True)
    # A new session: Ctrl-C reaches the child once, through us, not twice.
    child = subprocess.Popen(dashboard_command(host, port), env=environment, start_new_session=True)

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in _FORWARDED}
    try:
        while True:
            # Short waits: a signal delivered to another thread of ours only runs its
            # handler once the main thread wakes up.
            try:
                code = child.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    # A child killed by a signal reports -N; shells report 128 + N.
    raise typer.Exit(code if code >= 0 else 128 - code)
