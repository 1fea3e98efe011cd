"""The commented starter config that ``driftwatch init --example [PATH]`` writes.

It loads as it is (a test keeps it valid): a local SQLite store, a local broker,
one example model whose baseline is its own first predictions, and one rule with
no channel (add one under ``alerts.channels``).
"""

from __future__ import annotations

from pathlib import Path

from monitor.errors import ConfigError

__all__ = ["STARTER_CONFIG", "write_starter_config"]

STARTER_CONFIG = """\
# driftwatch configuration: a starter written by `driftwatch init --example`.
# Every key not written here has a default. ${VAR} and ${VAR:-default} are read from
# the environment, and DRIFTWATCH_<SECTION>__<KEY> overrides any value
# (e.g. DRIFTWATCH_STORE, DRIFTWATCH_KAFKA__BOOTSTRAP_SERVERS).
# Next: edit the model below, then run `driftwatch init` (creates the store) and
# `driftwatch run` (ingestion + scheduler + alerts).

# Where predictions, labels, metrics and alerts are kept: a SQLite file (created by
# `driftwatch init`), or PostgreSQL: postgresql+psycopg://user@host/db
store: sqlite:///driftwatch.db

kafka:
  bootstrap_servers: ${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}
  predictions_topic: predictions     # one JSON message per prediction
  labels_topic: labels               # the true outcomes, any time later
  group_id: driftwatch

schedule:
  interval: 1m                       # how often due windows are computed

# One entry per model your serving apps send predictions for ("model" in each message).
models:
  my-model:
    task: binary_classification      # or multiclass_classification, regression
    positive_label: 1                # the class that counts as positive (binary only)
    window: 1h                       # tumbling windows aligned to UTC; must divide a day
    features:                        # optional; without it every feature sent is used
      amount:  {type: numeric, min: 0}
      country: {type: categorical}
    reference:                       # the baseline drift is measured against; exactly one of:
      first: 1000                    # the first 1000 predictions of each model version
      # file: reference/my-model.parquet     # a parquet or csv file (features + prediction, label)
      # window: {start: 2026-01-01T00:00Z, end: 2026-01-08T00:00Z}

alerts:
  rules:
    - name: my-model-data-drift
      model: my-model                # or "*" for every model
      metric: dataset_drift_share    # share of drifted features in the window
      when: "> 0.3"                  # > >= < <= == != , or "outside [a, b]"
      for: 2                         # consecutive windows in breach before it fires
      severity: warning              # info | warning | critical
      channels: []                   # names from alerts.channels below
  channels: {}
  # channels:
  #   ml-team: {type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}
  #   retrain: {type: webhook, url: "https://ci.example.com/hooks/retrain", secret: "${RETRAIN_SECRET}"}
"""


def write_starter_config(path: Path) -> None:
    """Write :data:`STARTER_CONFIG` to ``path``; never overwrite a file."""
    if path.exists():
        raise ConfigError(f"{path} already exists; remove it or give another path, "
                          "e.g. `driftwatch init --example new.yaml`")
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write {path}: the folder {path.parent} does not exist; create it first")
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(STARTER_CONFIG)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
