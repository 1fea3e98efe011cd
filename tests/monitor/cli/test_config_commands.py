"""The command line with no config, no store, a bad reference file or a secret in the store URL.

Real processes in real folders: what a user sees on stderr, the exit code, and
which files the command left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitor.config import load_config
from monitor.store.engine import create_store_engine
from monitor.store.schema import upgrade_schema
from tests.monitor.jobs.store_data import FRAUD_MODEL


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("DRIFTWATCH_")}
    environment.update(env or {}, COLUMNS="400")
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=environment, timeout=300, check=False)


def _config(folder: Path, **values: object) -> Path:
    path = folder / "driftwatch.yaml"
    path.write_text(yaml.safe_dump({"store": f"sqlite:///{folder / 'driftwatch.db'}", **values}))
    return path


def test_no_config_says_where_it_looked_and_creates_nothing(tmp_path):
    result = _cli("alerts", "list", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    for fragment in ("no config file found", "--config", "DRIFTWATCH_CONFIG", str(tmp_path / "driftwatch.yaml"),
                     "driftwatch init --example"):
        assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(os.listdir(tmp_path)) == []


def test_a_config_from_the_environment_alone_needs_no_file(tmp_path):
    """Every value may come from the environment: DRIFTWATCH_STORE names the store, so no file is needed
    (and the store is still never created by a command that only reads it)."""
    store = tmp_path / "elsewhere.db"
    env = {"DRIFTWATCH_STORE": f"sqlite:///{store}"}
    assert _cli("alerts", "list", cwd=tmp_path, env=env).returncode == 2  # no store yet: not created
    assert sorted(os.listdir(tmp_path)) == []
    assert _cli("init", cwd=tmp_path, env=env).returncode == 0
    listed = _cli("alerts", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "elsewhere.db" in os.listdir(tmp_path)


def test_init_example_writes_a_valid_starter_once(tmp_path):
    result = _cli("init", "--example", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "run `driftwatch init`" in result.stdout
    assert sorted(os.listdir(tmp_path)) == ["driftwatch.yaml"]  # a config, no store yet
    written = (tmp_path / "driftwatch.yaml").read_text()
    assert written.startswith("# driftwatch configuration")
    assert load_config(tmp_path / "driftwatch.yaml", environ={}).models["my-model"].task == "binary_classification"

    again = _cli("init", "--example", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert (tmp_path / "driftwatch.yaml").read_text() == written

    (tmp_path / "conf").mkdir()
    elsewhere = _cli("init", "--example", "conf/dw.yaml", cwd=tmp_path)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert "driftwatch --config conf/dw.yaml init" in elsewhere.stdout
    assert load_config(tmp_path / "conf" / "dw.yaml", environ={}).store == "sqlite:///driftwatch.db"


def test_commands_that_read_the_store_never_create_it(tmp_path):
    config = _config(tmp_path, models={"fraud": FRAUD_MODEL})
    env = {"DRIFTWATCH_CONFIG": str(config)}
    for command in (["alerts", "list"], ["alerts", "silences"], ["compute", "--model", "fraud"]):
        result = _cli(*command, cwd=tmp_path, env=env)
        assert result.returncode == 2, (command, result.stderr)
        assert "does not exist" in result.stderr and "run `driftwatch init`" in result.stderr, result.stderr
        assert sorted(os.listdir(tmp_path)) == ["driftwatch.yaml"], command

    assert _cli("init", cwd=tmp_path, env=env).returncode == 0
    listed = _cli("alerts", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "no open alerts" in listed.stdout


@pytest.mark.slow  # five processes that load the statistics stack
def test_a_missing_or_unreadable_reference_file_stops_the_commands_that_need_it(tmp_path):
    model = {**FRAUD_MODEL, "reference": {"file": "reference/fraud.parquet"}}
    config = _config(tmp_path, models={"fraud": model}, kafka={"bootstrap_servers": "127.0.0.1:1"})
    upgrade_schema(create_store_engine(f"sqlite:///{tmp_path / 'driftwatch.db'}"))
    env = {"DRIFTWATCH_CONFIG": str(config)}
    for command in (["compute", "--model", "fraud"], ["schedule"], ["run"]):
        result = _cli(*command, cwd=tmp_path, env=env)
        assert result.returncode == 2, (command, result.stderr)
        assert "models.fraud.reference.file: reference/fraud.parquet" in result.stderr, result.stderr
        assert "does not exist" in result.stderr and str(tmp_path) in result.stderr, result.stderr
    # Commands that do not compute windows do not need it.
    assert _cli("alerts", "list", cwd=tmp_path, env=env).returncode == 0

    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "fraud.parquet").write_text("amount,country\n1,DE\n")  # csv named .parquet
    result = _cli("compute", "--model", "fraud", cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    assert "reference/fraud.parquet" in result.stderr and "not a readable parquet file" in result.stderr


SECRET = "Hunter2Secret"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://dw:{SECRET}@127.0.0.1:1/dw",
        f"postgresql+psycopg://dw@127.0.0.1:1/dw?password={SECRET}",
        f"postgresql+psycopg://dw@/dw?host=127.0.0.1&port=1&password={SECRET}",
        f"postgresql+psycopg://dw@127.0.0.1:1/dw?sslmode=disable&sslpassword={SECRET}",
        "postgresql+psycopg://dw:Hunter@2Secret@127.0.0.1:1/dw",  # an unescaped '@' in the password
        f"postgresql://dw:{SECRET}@127.0.0.1:1/dw",
        f"::not a url?token={SECRET}",
    ],
)
def test_a_store_url_secret_never_reaches_the_output(tmp_path, url):
    config = _config(tmp_path)
    result = _cli("alerts", "list", cwd=tmp_path, env={"DRIFTWATCH_CONFIG": str(config), "DRIFTWATCH_STORE": url})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "***" in result.stderr, output
    for secret in (SECRET, "2Secret"):
        assert secret not in output
    assert "Traceback" not in output


@pytest.mark.slow  # kafka-python gives up on an unreachable broker after about 30 s
def test_ingest_exits_1_when_the_broker_cannot_be_reached(tmp_path):
    config = _config(tmp_path, kafka={"bootstrap_servers": "127.0.0.1:1"})
    upgrade_schema(create_store_engine(f"sqlite:///{tmp_path / 'driftwatch.db'}"))
    result = _cli("ingest", "--until-idle", "1", cwd=tmp_path, env={"DRIFTWATCH_CONFIG": str(config)})
    assert result.returncode == 1, result.stderr  # a runtime failure, not a config error (2)
    assert "ingestion stopped: cannot reach Kafka at 127.0.0.1:1" in result.stderr
