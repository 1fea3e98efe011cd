"""``driftwatch alerts …`` against real receivers and real stores."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine
from typer.testing import CliRunner

from alerts.cli import alerts_app
from alerts.evaluation import evaluate_window
from monitor.config.loader import load_config
from tests.alerts.smtp_server import SmtpServer
from tests.alerts.support import MODELS, drift, drift_rule
from tests.support.webhook import Receiver

ROOT = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: str, channels: dict[str, Any]) -> Path:
    path = tmp_path / "driftwatch.yaml"
    rules = [drift_rule(channels=list(channels)[:1])] if channels else []
    path.write_text(yaml.safe_dump({
        "store": store, "models": MODELS, "alerts": {"rules": rules, "channels": channels},
    }))
    monkeypatch.setenv("DRIFTWATCH_CONFIG", str(path))
    return path


def invoke(*args: str) -> Any:
    return CliRunner().invoke(alerts_app, list(args))


def test_alerts_test_delivers_and_reports_the_receipt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    write_config(tmp_path, monkeypatch, "sqlite:///unused.db", {"hook": {"type": "webhook", "url": receiver.url}})

    result = invoke("test", "hook")

    assert result.exit_code == 0, result.output
    assert "delivered through 'hook': HTTP 200" in result.stdout
    [call] = receiver.calls
    assert call.event == "test" and call.key is not None and call.key.startswith("test-")
    assert call.key in result.stdout


def test_alerts_test_reports_a_refusal_with_exit_code_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    write_config(tmp_path, monkeypatch, "sqlite:///unused.db", {"hook": {"type": "webhook", "url": receiver.url}})
    receiver.answer(403)

    result = invoke("test", "hook")

    assert result.exit_code == 1
    assert "not delivered through 'hook'" in result.stderr and "HTTP 403" in result.stderr
    assert "status: 403" in result.stderr and "response: failure 403" in result.stderr
    assert "retryable: no" in result.stderr


def test_alerts_test_of_an_unknown_channel_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, monkeypatch, "sqlite:///unused.db",
                 {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/x"}})

    result = invoke("test", "nope")

    assert result.exit_code == 2
    assert "no channel 'nope' under alerts.channels (known: hook)" in result.stderr


def test_alerts_test_over_smtp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_smtp: Callable[..., SmtpServer]
) -> None:
    smtp = start_smtp()
    write_config(tmp_path, monkeypatch, "sqlite:///unused.db", {"oncall": {
        "type": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
        "sender": "driftwatch@example.com", "to": ["ml-oncall@example.com"]}})

    result = invoke("test", "oncall")

    assert result.exit_code == 0, result.output
    assert "250 OK to 1 recipient" in result.stdout
    assert [item.rcpt_tos for item in smtp.handler.received] == [["ml-oncall@example.com"]]
    assert b"TEST info" in smtp.handler.received[0].content


def test_silence_list_and_expire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str, engine: Engine, receiver: Receiver
) -> None:
    path = write_config(tmp_path, monkeypatch, store_url, {"hook": {"type": "webhook", "url": receiver.url}})
    config = load_config(path)
    for hour in (0, 1):
        start, end = drift(engine, hour, 0.9)
        evaluate_window(engine, config, model="fraud", model_version="v1", window_start=start, window_end=end,
                        now=end + timedelta(minutes=1))

    listed = invoke("list")
    assert listed.exit_code == 0, listed.output
    assert "fraud-data-drift" in listed.stdout and "firing" in listed.stdout and "critical" in listed.stdout

    made = invoke("silence", "--rule", "fraud-data-drift", "--model", "fraud", "--for", "2h",
                  "--comment", "retraining [v2]", "--author", "ana")
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith("silence 1: rule fraud-data-drift, model fraud until ") and "(2h)" in made.stdout

    active = invoke("silences")
    assert active.exit_code == 0 and "retraining [v2]" in active.stdout and "ana" in active.stdout

    expired = invoke("expire", "1")
    assert expired.exit_code == 0 and "silence 1 (rule fraud-data-drift, model fraud) ended now" in expired.stdout
    assert "no active silences" in invoke("silences").stdout
    assert "retraining [v2]" in invoke("silences", "--all").stdout

    unknown_rule = invoke("silence", "--rule", "nope", "--for", "1h", "--comment", "x")
    assert unknown_rule.exit_code == 2 and "no rule 'nope' under alerts.rules" in unknown_rule.stderr
    bad_duration = invoke("silence", "--rule", "fraud-data-drift", "--for", "soon", "--comment", "x")
    assert bad_duration.exit_code == 2 and "--for: 'soon' is not a duration" in bad_duration.stderr
    assert invoke("expire", "42").exit_code == 2


def test_list_needs_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'empty.db'}", {})

    result = invoke("list")

    assert result.exit_code == 2 and "driftwatch init" in result.stderr


def test_mounted_in_the_driftwatch_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> None:
    path = write_config(tmp_path, monkeypatch, "sqlite:///unused.db",
                        {"retrain": {"type": "webhook", "url": receiver.url, "secret": "s"}})

    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(path), "alerts", "test", "retrain"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    assert result.returncode == 0, result.stderr
    assert "delivered through 'retrain': HTTP 200" in result.stdout
    assert len(receiver.delivered()) == 1 and "X-Driftwatch-Signature" in receiver.calls[0].headers
