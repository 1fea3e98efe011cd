"""The deployment files: docker-compose.yml validates and its config loads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitor.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_docker_compose_config_validates():
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is not installed; scripts/setup.sh installs Debian's docker-compose")
    result = subprocess.run([compose, "config"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {"kafka", "postgres", "driftwatch", "dashboard", "mailpit", "simulator", "migrate"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.1")
    assert services["driftwatch"]["command"] == ["run"]


def test_deploy_config_is_valid():
    config = load_config(ROOT / "deploy" / "driftwatch.yaml", environ={"RETRAIN_SECRET": "x"})
    assert set(config.models) == {"fraud", "demand"}
    assert all(rule.channels for rule in config.alerts.rules)


def test_dockerfile_runs_as_non_root():
    text = (ROOT / "Dockerfile").read_text()
    assert "USER driftwatch" in text and "HEALTHCHECK" in text and text.count("FROM ") == 2


def test_the_image_pins_every_dependency_as_tested():
    """constraints.txt holds the exact versions of the runtime dependency closure this
    environment resolved (and the suite ran with); the image installs with it."""
    assert "-c constraints.txt" in (ROOT / "Dockerfile").read_text()
    written = (ROOT / "constraints.txt").read_text()
    resolved = subprocess.run([sys.executable, str(ROOT / "scripts" / "constraints.py")], capture_output=True,
                              text=True, check=True, timeout=60).stdout
    assert written.strip() == resolved.strip(), (
        "constraints.txt is stale: run .venv/bin/python scripts/constraints.py > constraints.txt")
    pins = dict(line.split("==") for line in written.splitlines() if "==" in line)
    assert {"evidently", "kafka-python", "pandas", "psycopg", "sqlalchemy", "streamlit"} <= set(pins)
