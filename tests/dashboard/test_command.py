"""``driftwatch dashboard`` as a real process: serves the app, stops cleanly on signals."""

from __future__ import annotations

import signal
import urllib.request
from pathlib import Path

import pytest

from monitor.cli.commands_dashboard import dashboard_command, dashboard_script
from tests.dashboard.server import DashboardProcess


def test_the_command_runs_streamlit_on_the_installed_app_headless() -> None:
    command = dashboard_command("0.0.0.0", 9000)
    assert command[1:4] == ["-m", "streamlit", "run"]
    assert command[4] == str(dashboard_script()) and dashboard_script().name == "app.py"
    assert dashboard_script().is_file()
    flags = dict(zip(command[5::2], command[6::2], strict=True))
    assert flags == {"--server.address": "0.0.0.0", "--server.port": "9000", "--server.headless": "true",
                     "--browser.gatherUsageStats": "false"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_dashboard_serves_every_page_url_and_exits_cleanly_on_a_signal(tmp_path: Path, signum: int) -> None:
    # Pages are rendered over the websocket (the browser test does that); here the
    # store only has to be named, so one that does not exist yet is fine.
    server = DashboardProcess(f"sqlite:///{tmp_path / 'driftwatch.db'}", tmp_path).start()
    try:
        for path in ("/", "/model?model=fraud", "/drift", "/alerts", "/data_quality"):
            with urllib.request.urlopen(server.base_url + path, timeout=30) as response:
                assert response.status == 200 and b"<div id=\"root\">" in response.read()
        assert f"reading sqlite:///{tmp_path / 'driftwatch.db'}" in server.output()
    finally:
        code = server.stop(signum)
    assert code == 0, server.output()
