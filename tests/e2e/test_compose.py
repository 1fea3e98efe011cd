"""The deployment files: docker-compose.yml validates and its config loads."""

from __future__ import annotations

import json
import re
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
    # Prometheus loads deploy/prometheus (scrape config + rules), Grafana the provisioning and the dashboard.
    assert {"prometheus", "grafana"} <= set(services)
    mounts = {service: dict(_bind_mount(volume) for volume in services[service]["volumes"]
                            if _bind_mount(volume)[1].is_absolute()) for service in ("prometheus", "grafana")}
    assert mounts["prometheus"]["/etc/prometheus"] == ROOT / "deploy" / "prometheus"
    assert mounts["grafana"]["/etc/grafana/provisioning"] == ROOT / "deploy" / "grafana" / "provisioning"
    dashboard = mounts["grafana"]["/var/lib/grafana/dashboards/driftwatch.json"]
    assert dashboard == ROOT / "deploy" / "grafana" / "driftwatch.json"
    assert all(source.exists() for paths in mounts.values() for source in paths.values())
    assert "/etc/prometheus/prometheus.yml" in " ".join(services["prometheus"]["command"])


def _bind_mount(volume: str | dict[str, str]) -> tuple[str, Path]:
    """(target, source) of a volume in docker-compose's short ("src:dst:mode") or long syntax."""
    if isinstance(volume, dict):
        return str(volume["target"]), Path(str(volume["source"]))
    source, target = volume.split(":")[:2]
    return target, Path(source)


def test_deploy_config_is_valid():
    config = load_config(ROOT / "deploy" / "driftwatch.yaml", environ={"RETRAIN_SECRET": "x"})
    assert set(config.models) == {"fraud", "demand"}
    # The port deploy/prometheus/prometheus.yml scrapes, on every interface of the container.
    assert (config.prometheus.host, config.prometheus.port) == ("0.0.0.0", 9464)
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
    assert scrape[0]["static_configs"][0]["targets"] == ["driftwatch:9464"]
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


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed; scripts/setup.sh installs Debian's prometheus package")
    return subprocess.run([promtool, *args], cwd=ROOT / "deploy" / "prometheus", capture_output=True, text=True,
                          timeout=120)


def test_prometheus_config_and_rules_validate_and_fire():
    for args in (("check", "config", "prometheus.yml"), ("check", "rules", "alerts.yml"),
                 ("test", "rules", "alerts_test.yml")):
        result = _promtool(*args)
        assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def test_grafana_dashboard_and_provisioning_are_consistent():
    from monitor.exporter.collector import served_names
    from tests.monitor.exporter.support import dashboard_queries

    grafana = ROOT / "deploy" / "grafana"
    dashboard = json.loads((grafana / "driftwatch.json").read_text())
    assert dashboard["uid"] == "driftwatch" and dashboard["panels"]
    served = served_names()
    used = {name for expr in dashboard_queries(dashboard) for name in re.findall(r"driftwatch_[a-z0-9_]+", expr)}
    assert used and used <= served, used - served
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("latency", "error rate", "drift", "per-feature drift", "classification", "alerts"):
        assert topic in titles, topic
    source = yaml.safe_load((grafana / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((grafana / "provisioning" / "dashboards" / "driftwatch.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
