"""The demo's config and scenario: minute windows, faults a few minutes apart.

    python -m monitor.simulate.demo --dir .local/demo --bootstrap 127.0.0.1:9092 --webhook-port 9099

writes ``driftwatch.yaml``, ``scenario.yaml`` and the reference files into ``--dir``.
Slack and email channels are added when ``SLACK_WEBHOOK_URL`` / ``SMTP_HOST`` are set.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import yaml

from monitor.simulate.models import model_configs
from monitor.simulate.runner import write_reference_files

__all__ = ["DEMO_REFERENCE_ROWS", "DEMO_SCENARIO", "demo_config", "main"]

DEMO_MODELS = ("fraud", "demand")
# Ten minutes of the demo's traffic per model: enough reference for thresholds learned from
# chunks of a one-minute window (at least 5 chunks), per segment too.
DEMO_REFERENCE_ROWS = 60_000

DEMO_SCENARIO: dict[str, Any] = {
    "seed": 11,
    "events": [
        # Drift first: the retraining call comes about four minutes after the start.
        {"kind": "malformed", "at": "1m", "duration": "1m", "rate": 0.02},
        # One segment drifts on its own: Germany's amounts and account ages (the drift page's
        # "which segment drifts" table and the `country=*` rule single it out).
        {"kind": "covariate_drift", "model": "fraud", "at": "1m", "features": ["amount", "account_age_days"],
         "shift": 2.0, "segment": "country=DE"},
        {"kind": "covariate_drift", "model": "fraud", "at": "2m", "features": ["amount", "country"], "shift": 2.0},
        {"kind": "latency_spike", "model": "fraud", "at": "3m", "duration": "2m", "factor": 8},
        {"kind": "error_burst", "model": "demand", "at": "4m", "duration": "2m", "rate": 0.3},
        {"kind": "missing_values", "model": "demand", "at": "6m", "duration": "2m", "features": ["temperature"],
         "share": 0.5},
        {"kind": "concept_drift", "model": "demand", "at": "8m"},
        # A worse canary of fraud from the first minute on: 20% of its traffic, more errors,
        # slower, a quarter of its answers wrong (the dashboard's Versions page shows it).
        {"kind": "canary", "model": "fraud", "at": "0s", "version": "v2-canary", "share": 0.2, "rate": 0.08,
         "factor": 1.8, "degrade": 0.25},
    ],
}


def demo_config(*, directory: Path, bootstrap: str, webhook_port: int, secret: str,
                dashboard_port: int = 8501) -> dict[str, Any]:
    models = model_configs(list(DEMO_MODELS), str(directory / "reference"))
    for model in models.values():
        model["window"] = "1m"
    models["fraud"]["segments"] = {"columns": ["country"], "max_values": 20}
    # Learned drift thresholds: a segment's windows (a country with 5 % of the traffic: a few
    # hundred rows a minute, a few dozen in a canary's) are judged by what clean windows of
    # that size and segment look like, not by a fixed 0.1 that small samples exceed by chance.
    models["fraud"]["drift"] = {"threshold": "reference"}
    # Drift goes to the retraining webhook; operational faults (latency, errors, missing
    # values) to an on-call webhook. Both are the demo's one local receiver, which prints
    # each call under its path.
    channels: dict[str, Any] = {
        "retrain": {"type": "webhook", "url": f"http://127.0.0.1:{webhook_port}/retrain", "secret": secret},
        "oncall": {"type": "webhook", "url": f"http://127.0.0.1:{webhook_port}/oncall", "secret": secret},
    }
    everyone: list[str] = []
    if os.environ.get("SLACK_WEBHOOK_URL"):
        channels["slack"] = {"type": "slack", "webhook_url": "${SLACK_WEBHOOK_URL}"}
        everyone.append("slack")
    if os.environ.get("SMTP_HOST"):
        channels["email"] = {
            "type": "email", "smtp_host": "${SMTP_HOST}", "smtp_port": int(os.environ.get("SMTP_PORT", "25")),
            "sender": "driftwatch@localhost", "to": [os.environ.get("SMTP_TO", "oncall@localhost")],
        }
        everyone.append("email")
    rules = [
        {"name": "fraud-data-drift", "model": "fraud", "metric": "dataset_drift_share", "when": "> 0.3",
         "for": 2, "severity": "critical", "channels": ["retrain", *everyone]},
        {"name": "fraud-segment-drift", "model": "fraud", "metric": "dataset_drift_share", "segment": "country=*",
         "when": "> 0.3", "for": 2, "severity": "warning", "channels": ["retrain", *everyone]},
        {"name": "latency-p95", "model": "*", "metric": "latency_p95_ms", "when": "> 150", "for": 1,
         "severity": "warning", "channels": ["oncall", *everyone]},
        {"name": "serving-errors", "model": "*", "metric": "error_rate", "when": "> 0.1", "for": 1,
         "severity": "critical", "channels": ["oncall", *everyone]},
        {"name": "demand-concept-drift", "model": "demand", "metric": "concept_drift", "when": "== 1", "for": 2,
         "severity": "critical", "channels": ["retrain", *everyone]},
        {"name": "canary-errors", "model": "*", "metric": "compare_error_rate_diff", "when": "> 0.02",
         "significant": True, "for": 1, "severity": "warning", "channels": ["oncall", *everyone]},
        {"name": "missing-values", "model": "*", "metric": "missing_share", "feature": "*", "when": "> 0.2",
         "for": 1, "severity": "warning", "channels": ["oncall", *everyone]},
    ]
    return {
        "store": f"sqlite:///{directory / 'driftwatch.db'}",
        "kafka": {"bootstrap_servers": bootstrap, "group_id": "driftwatch-demo"},
        "ingest": {"batch_size": 2000, "batch_max_wait": "500ms"},
        "schedule": {"interval": "10s"},
        "dashboard": {"base_url": f"http://127.0.0.1:{dashboard_port}"},
        "models": models,
        "alerts": {"rules": rules, "repeat_interval": "10m", "send_resolved": True, "channels": channels},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--webhook-port", type=int, default=9099)
    parser.add_argument("--dashboard-port", type=int, default=8501)
    parser.add_argument("--secret", default="demo-secret")
    args = parser.parse_args()
    directory = args.dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    write_reference_files(DEMO_MODELS, directory / "reference", rows=DEMO_REFERENCE_ROWS)
    config = demo_config(directory=directory, bootstrap=args.bootstrap, webhook_port=args.webhook_port,
                         secret=args.secret, dashboard_port=args.dashboard_port)
    (directory / "driftwatch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (directory / "scenario.yaml").write_text(yaml.safe_dump(DEMO_SCENARIO, sort_keys=False))
    print(directory / "driftwatch.yaml")


if __name__ == "__main__":
    main()
