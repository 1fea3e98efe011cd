"""Config loading: defaults, substitution, overrides, and one clear error per mistake."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import load_config, parse_condition, parse_duration
from monitor.config.loader import config_from_mapping
from monitor.errors import ConfigError

GOOD = """\
store: sqlite:///x.db
kafka:
  bootstrap_servers: ${BROKER:-127.0.0.1:9092}
schedule:
  interval: 30s
models:
  fraud:
    task: binary_classification
    positive_label: 1
    window: 1h
    features:
      amount:  {type: numeric, min: 0}
      country: {type: categorical, values: [DE, FR, US]}
    reference:
      file: data/fraud_reference.parquet
    drift:
      method: auto
      per_feature: {amount: {method: psi, threshold: 0.2}}
      drift_share: 0.5
alerts:
  rules:
    - name: fraud-data-drift
      model: fraud
      metric: dataset_drift_share
      when: "> 0.3"
      for: 2
      severity: critical
      channels: [ml-team, retrain-fraud]
  repeat_interval: 4h
  channels:
    ml-team: {type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}
    retrain-fraud: {type: webhook, url: "https://ci.example.com/hooks/retrain", secret: "${RETRAIN_SECRET}"}
"""
ENV = {"SLACK_WEBHOOK_URL": "https://hooks.slack.example/T1/B2/xyz", "RETRAIN_SECRET": "s3cret"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftwatch.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_design_example_loads_with_defaults_and_substitution(tmp_path):
    config = load_config(_write(tmp_path, GOOD), environ=ENV)
    assert config.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert config.kafka.predictions_topic == "predictions"
    assert config.schedule.interval == timedelta(seconds=30)
    assert config.models["fraud"].drift.per_feature["amount"].method == "psi"
    rule = config.alerts.rules[0]
    assert (rule.for_, rule.severity, rule.condition.holds(0.31), rule.condition.holds(0.3)) == (2, "critical",
                                                                                                True, False)
    slack = config.alerts.channels["ml-team"]
    assert slack.webhook_url.get_secret_value() == ENV["SLACK_WEBHOOK_URL"]  # type: ignore[union-attr]
    assert "xyz" not in repr(config)


def test_environment_overrides_any_value(tmp_path):
    env = {**ENV, "DRIFTWATCH_STORE": "postgresql+psycopg://u@db/x", "DRIFTWATCH_KAFKA__GROUP_ID": "g2",
           "DRIFTWATCH_INGEST__BATCH_SIZE": "123", "BROKER": "10.0.0.1:9092"}
    config = load_config(_write(tmp_path, GOOD), environ=env)
    assert (config.store, config.kafka.group_id, config.ingest.batch_size) == ("postgresql+psycopg://u@db/x", "g2",
                                                                                123)
    assert config.kafka.bootstrap_servers == "10.0.0.1:9092"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("  interval: 30s", "  interval: 30 seconds"), ["driftwatch.yaml:5", "schedule.interval", "30 seconds",
                                                          "ms, s, m, h, d, w"]),
        (("  bootstrap_servers:", "  bootstrap_server:"), ["driftwatch.yaml:3", "unknown key 'bootstrap_server'"]),
        (("channels: [ml-team, retrain-fraud]", "channels: [ml-team, pager]"), ["no channel 'pager'"]),
        (("      model: fraud", "      model: fruad"), ["no model 'fruad'", "known: ['fraud']"]),
        (("metric: dataset_drift_share", "metric: drift_share"), ["driftwatch.yaml:24", "unknown metric"]),
        (('when: "> 0.3"', 'when: "bigger than 0.3"'), ["not understood", "outside [a, b]"]),
        (("task: binary_classification", "task: ranking"), ["models.fraud.task", "binary_classification"]),
        (("    positive_label: 1\n", ""), ["needs positive_label"]),
        (("method: psi", "method: magic"), ["unknown drift method 'magic'"]),
        (("{type: slack,", "{type: teams,"), ["channel type must be one of slack, email, webhook"]),
        (("window: 1h", "window: 7m"), ["window must divide a day"]),
        (("    reference:\n      file: data/fraud_reference.parquet\n", "    reference: {}\n"),
         ["exactly one of reference.file"]),
        (("  repeat_interval: 4h", "  repeat_interval: -4h"), ["alerts.repeat_interval"]),
        (("      metric: dataset_drift_share\n", "      metric: feature_drift_score\n      feature: amout\n"),
         ["alerts.rules[fraud-data-drift].feature", "no feature 'amout'", "known: ['amount', 'country']"]),
        (("      model: fraud\n      metric: dataset_drift_share\n",
          "      model: '*'\n      metric: feature_drift_score\n      feature: amout\n"),
         ["no model has a feature 'amout'", "known: ['amount', 'country']", "use '*'"]),
    ],
)
def test_each_mistake_gives_one_clear_error(tmp_path, change, expected):
    old, new = change
    assert old in GOOD
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, GOOD.replace(old, new, 1)), environ=ENV)
    message = str(caught.value)
    for fragment in expected:
        assert fragment in message, message


def test_a_rule_feature_is_checked_only_where_it_can_be_known(tmp_path):
    # A model that declares no features takes them from its reference file: then the
    # name cannot be checked at load time, and the config loads.
    undeclared = GOOD.replace("""    features:
      amount:  {type: numeric, min: 0}
      country: {type: categorical, values: [DE, FR, US]}
""", "").replace("      metric: dataset_drift_share\n", "      metric: feature_drift_score\n      feature: amout\n")
    assert load_config(_write(tmp_path, undeclared), environ=ENV).alerts.rules[0].feature == "amout"
    star = GOOD.replace("      model: fraud\n      metric: dataset_drift_share\n",
                        "      model: '*'\n      metric: feature_drift_score\n      feature: country\n")
    assert load_config(_write(tmp_path, star), environ=ENV).alerts.rules[0].model == "*"


def test_missing_environment_variable_names_key_and_line(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, GOOD), environ={"SLACK_WEBHOOK_URL": "x"})
    assert "driftwatch.yaml:32" in str(caught.value)
    assert "alerts.channels.retrain-fraud.secret uses ${RETRAIN_SECRET}" in str(caught.value)


def test_yaml_syntax_error_and_duplicate_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"driftwatch.yaml:3: not valid YAML"):
        load_config(_write(tmp_path, "store: x\nkafka: [1, 2\n"), environ={})
    with pytest.raises(ConfigError, match="key 'store' appears twice"):
        load_config(_write(tmp_path, "store: a\nstore: b\n"), environ={})


def test_durations_and_conditions():
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2w") == timedelta(days=14)
    for bad in ("", "5", "1x", "-5m", "0s", True):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_condition("outside [0.1, 0.9]").holds(0.95)
    assert not parse_condition("outside [0.1, 0.9]").holds(0.5)
    assert parse_condition("!= 0").holds(1) and not parse_condition(">= 1").holds(float("nan"))
    with pytest.raises(ValueError, match="reversed"):
        parse_condition("outside [1, 0]")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("kafka:\n  bootstrap_servers: [\n", "not valid YAML"),
        ("models:\n  fraud:\n    task: regression\n    windw: 1h\n", "unknown key 'windw'"),
        ("store: mysql://x/y\n", "store backend 'mysql' is not supported"),
        ("store: '::not a url'\n", "is not valid"),
        ("ingest:\n  workers: 0\n", "ingest.workers"),
        ("alerts:\n  channels:\n    x: {type: webhook, url: '${NOPE}'}\n", "NOPE is not set"),
    ],
)
def test_cli_exits_2_with_one_message(tmp_path, text, fragment):
    path = _write(tmp_path, text)
    result = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(path), "init"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_missing_config_file(tmp_path):
    result = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(tmp_path / "nope.yaml"), "init"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_the_readme_configuration_reference_loads(tmp_path):
    """The README's configuration reference is a config that loads (every key spelled right)."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    [reference] = [block for block in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "alerts:" in block]
    environ = {name: "https://example.com/x" for name in re.findall(r"\$\{(\w+)", reference)}
    config = load_config(_write(tmp_path, reference), environ=environ)
    assert config.models["fraud"].features["amount"].max == 100000
    assert config.alerts.channels["oncall"].ssl is False  # type: ignore[union-attr]
    assert config.dashboard.auto_refresh.total_seconds() == 30
    assert (config.prometheus.port, config.prometheus.max_features) == (9464, 200)


def test_prometheus_is_off_by_default_and_checked(tmp_path: Path):
    assert config_from_mapping({}, environ={}).prometheus.port is None
    assert config_from_mapping({}, environ={"DRIFTWATCH_PROMETHEUS__PORT": "9464"}).prometheus.port == 9464
    with pytest.raises(ConfigError, match=r"prometheus\.port"):
        config_from_mapping({"prometheus": {"port": 70000}}, environ={})
    with pytest.raises(ConfigError, match=r"prometheus\.max_features"):
        config_from_mapping({"prometheus": {"max_features": 0}}, environ={})


@pytest.mark.parametrize(
    ("change", "environ", "where"),
    [
        # A bad value from the environment names the variable, not the file.
        (None, {"DRIFTWATCH_INGEST__BATCH_SIZE": "abc"}, "environment variable DRIFTWATCH_INGEST__BATCH_SIZE: "
                                                         "ingest.batch_size"),
        (None, {"DRIFTWATCH_KAFKA__SESSION_TIMEOUT": "soon"}, "environment variable DRIFTWATCH_KAFKA__SESSION_TIMEOUT"),
        (None, {"DRIFTWATCH_INGEST__BATCHSIZE": "5"}, "environment variable DRIFTWATCH_INGEST__BATCHSIZE: "
                                                      "ingest.batchsize: unknown key"),
        # Errors from the file name the line of the key at fault.
        (("channels: [ml-team, retrain-fraud]", "channels: [ml-team, pager]"), {}, "driftwatch.yaml:28: "),
        (("      model: fraud", "      model: fruad"), {}, "driftwatch.yaml:23: "),
        (("window: 1h", "window: 7m"), {}, "driftwatch.yaml:10: models.fraud.window: window must divide a day"),
        (("{amount: {method", "{amont: {method"), {}, "driftwatch.yaml:18: models.fraud.drift.per_feature.amont"),
        (("min: 0}", "min: 0, values: [1]}"), {}, "driftwatch.yaml:12: models.fraud.features.amount.values"),
        (("      metric: dataset_drift_share\n", "      metric: feature_drift_score\n      feature: amout\n"), {},
         "driftwatch.yaml:25: alerts.rules[fraud-data-drift].feature"),
    ],
)
def test_errors_name_the_variable_or_the_line_of_the_key(tmp_path, change, environ, where):
    text = GOOD if change is None else GOOD.replace(*change, 1)
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text), environ={**ENV, **environ})
    message = str(caught.value)
    assert where in message, message
    if environ:
        assert "driftwatch.yaml" not in message, message


@pytest.mark.parametrize(
    ("change", "suggestion"),
    [
        (("metric: dataset_drift_share", "metric: dataset_drift_shar"), "did you mean 'dataset_drift_share'?"),
        (("      model: fraud", "      model: fruad"), "did you mean 'fraud'?"),
        (("channels: [ml-team, retrain-fraud]", "channels: [ml-teem, retrain-fraud]"), "did you mean 'ml-team'?"),
        (("method: psi", "method: pssi"), "did you mean 'psi'?"),
        (("  bootstrap_servers:", "  bootstrap_server:"), "did you mean 'bootstrap_servers'?"),
        (("      for: 2", "      fro: 2"), "did you mean 'for'?"),
        (("      metric: dataset_drift_share\n", "      metric: feature_drift_score\n      feature: amout\n"),
         "did you mean 'amount'?"),
    ],
)
def test_a_misspelt_name_gets_a_suggestion_and_the_choices(tmp_path, change, suggestion):
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, GOOD.replace(*change, 1)), environ=ENV)
    message = str(caught.value)
    assert suggestion in message, message
    assert "DESIGN" not in message


def test_an_unknown_metric_lists_every_valid_name(tmp_path):
    from monitor.metrics.names import ALL_METRICS

    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, GOOD.replace("metric: dataset_drift_share", "metric: vibes", 1)), environ=ENV)
    message = str(caught.value)
    assert "unknown metric 'vibes'; use one of: " in message and "did you mean" not in message
    assert all(name in message for name in ALL_METRICS)


def test_the_starter_config_is_valid(tmp_path):
    from monitor.config.starter import STARTER_CONFIG

    path = tmp_path / "starter.yaml"
    path.write_text(STARTER_CONFIG)
    config = load_config(path, environ={})
    assert config.store == "sqlite:///driftwatch.db"
    assert config.models["my-model"].reference is not None and config.models["my-model"].reference.first == 1000
    assert [rule.metric for rule in config.alerts.rules] == ["dataset_drift_share"]
    # Its commented-out alternatives are valid too.
    uncommented = STARTER_CONFIG.replace("  channels: {}\n", "").replace("  # channels:", "  channels:").replace(
        "  #   ", "    ")
    secrets = {"SLACK_WEBHOOK_URL": "https://x", "RETRAIN_SECRET": "s"}
    config = load_config(_write(tmp_path, uncommented), environ=secrets)
    assert sorted(config.alerts.channels) == ["ml-team", "retrain"]


def test_no_user_facing_text_points_outside_the_repository():
    root = Path(__file__).resolve().parents[3]
    files = [root / "README.md", root / "Makefile", root / "Dockerfile", root / "docker-compose.yml"]
    for folder in ("monitor", "alerts", "dashboard", "scripts", "deploy"):
        files += [path for path in (root / folder).rglob("*") if path.suffix in (".py", ".sh", ".md", ".yaml", ".yml")]
    offenders = [f"{path.relative_to(root)}: {word}" for path in files if path.is_file()
                 for word in ("DESIGN.md", "STYLE.md", "../shared", "/work/shared") if word in path.read_text()]
    assert offenders == []


def test_drift_threshold_reference_is_accepted_model_wide_and_per_feature(tmp_path):
    text = GOOD.replace("      method: auto\n",
                        "      method: auto\n      threshold: reference\n      threshold_std: 2.5\n")
    text = text.replace("{amount: {method: psi, threshold: 0.2}}", "{amount: {threshold: reference}, country: "
                                                                    "{threshold: 0.1}}")
    drift = load_config(_write(tmp_path, text), environ=ENV).models["fraud"].drift
    assert (drift.threshold, drift.threshold_std) == ("reference", 2.5)
    assert drift.per_feature["amount"].threshold == "reference"
    assert drift.per_feature["country"].threshold == 0.1
    assert load_config(_write(tmp_path, GOOD), environ=ENV).models["fraud"].drift.threshold_std == 3.0


@pytest.mark.parametrize(("change", "message"), [
    (("{amount: {method: psi, threshold: 0.2}}", "{amount: {threshold: refrence}}"),
     "models.fraud.drift.per_feature.amount.threshold: threshold must be a number or 'reference'"),
    (("{amount: {method: psi, threshold: 0.2}}", "{amount: {threshold: refrence}}"), "did you mean 'reference'?"),
    (("      method: auto\n", "      method: auto\n      threshold: -0.1\n"), "finite number >= 0 or 'reference'"),
    (("      method: auto\n", "      method: auto\n      threshold_std: 0\n"),
     "models.fraud.drift.threshold_std: Input should be greater than 0"),
])
def test_a_bad_drift_threshold_is_named(tmp_path, change, message):
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, GOOD.replace(*change, 1)), environ=ENV)
    assert message in str(caught.value), str(caught.value)
