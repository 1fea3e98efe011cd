"""A rule breached by REAL computed windows, on all three channels, through outages
and a dispatcher restart: each channel hears of the firing once and of the resolution
once.

The windows are not written by hand: a simulated stream (covariate drift in two of
fraud's features from minute 30 to 60) is decoded and stored by the ingest writer, the
scheduler computes every window, the evaluator judges them. Meanwhile Slack answers
500 and 503, the webhook 502, and the SMTP server is down; the first dispatcher is
dropped after one round (as if its process died) and a new one takes over.
"""

from __future__ import annotations

import email
import email.policy
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from sqlalchemy import Engine

from alerts.channels import build_channels
from alerts.dispatcher import Dispatcher
from tests.alerts.smtp_server import SmtpServer, free_port
from tests.alerts.support import iso, notification_rows
from tests.support.computed import START, compute_and_evaluate, ingest_simulated_stream, simulated_config
from tests.support.webhook import Receiver

DRIFT = (START + timedelta(minutes=30), START + timedelta(minutes=60))
SCENARIO = {"seed": 11, "events": [{"kind": "covariate_drift", "model": "fraud", "at": "30m", "duration": "30m",
                                    "features": ["amount", "country"], "shift": 3.0}]}


def test_real_windows_reach_slack_email_and_webhook_once_through_outages_and_a_restart(
    engine: Engine, store_url: str, tmp_path: Path, httpserver: HTTPServer,
    start_smtp: Callable[..., SmtpServer],
) -> None:
    slack = Receiver(httpserver, "/services/T0/B0/real")
    hook = Receiver(httpserver, "/hooks/retrain")
    smtp_port = free_port()  # nothing listens there yet: the mail server is down
    channels: dict[str, Any] = {
        "ml-team": {"type": "slack", "webhook_url": slack.url, "timeout": "2s"},
        "oncall": {"type": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "timeout": "2s",
                   "sender": "driftwatch@example.com", "to": ["ml-oncall@example.com"]},
        "retrain": {"type": "webhook", "url": hook.url, "secret": "rt-9", "timeout": "2s"},
    }
    config = simulated_config(store_url, tmp_path / "reference", ("fraud",), {
        "rules": [{"name": "fraud-drift", "model": "fraud", "metric": "dataset_drift_share", "when": "> 0.3",
                   "for": 1, "severity": "critical", "channels": list(channels)}],
        "channels": channels,
    })
    ingest_simulated_stream(engine, SCENARIO, ("fraud",), rate=20, minutes=100)
    slack.answer(500, 503)
    hook.answer(502)

    # Minute 45: the first drifted window (30-40) is computed and fires the rule; every
    # channel fails its first delivery.
    now = START + timedelta(minutes=45)
    compute_and_evaluate(engine, config, now)
    first = Dispatcher(engine, config, build_channels(config.alerts), rng=random.Random(3))
    first.dispatch_once(now)
    assert {row.channel: row.status for row in notification_rows(engine)} == {
        "ml-team": "pending", "oncall": "pending", "retrain": "pending"}
    assert slack.delivered() == hook.delivered() == []
    del first  # its process dies; a restarted one reads the same outbox

    smtp = start_smtp(port=smtp_port)
    restarted = Dispatcher(engine, config, build_channels(config.alerts), rng=random.Random(4))
    for minutes in range(46, 56):  # the mail server is back; retries run out their backoff
        restarted.dispatch_once(START + timedelta(minutes=minutes))

    # Minute 95: the drift ended at 60; windows 40-90 are computed and the alert resolves.
    now = START + timedelta(minutes=95)
    compute_and_evaluate(engine, config, now)
    for minutes in range(95, 105):
        restarted.dispatch_once(START + timedelta(minutes=minutes))

    fired_at = iso(DRIFT[0])
    assert next((call.event, call.window_start) for call in hook.delivered()) == ("firing", fired_at)
    assert [call.event for call in hook.delivered()] == ["firing", "resolved"]
    assert [call.body["text"].split(":")[0] for call in slack.delivered()] == ["FIRING critical", "RESOLVED"]
    assert [call.status for call in slack.calls][:3] == [500, 503, 200]
    mails = [email.message_from_bytes(item.content, policy=email.policy.default) for item in smtp.handler.received]
    assert [str(mail["Subject"]) for mail in mails] == [
        "[FIRING critical] fraud: dataset_drift_share > 0.3",
        "[RESOLVED] fraud: dataset_drift_share > 0.3",
    ]
    rows = notification_rows(engine)
    assert len(rows) == 6 and {row.status for row in rows} == {"delivered"}
    assert all(count == 1 for count in hook.accepted_per_key().values())
    # The resolution came from a real window after the drift, not from the clock.
    resolved = next(call for call in hook.delivered() if call.event == "resolved")
    assert resolved.window_start >= iso(DRIFT[1])
