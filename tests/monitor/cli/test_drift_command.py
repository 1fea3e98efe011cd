"""``driftwatch drift REFERENCE CURRENT`` as a real process: exit codes, table and JSON shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.monitor.metrics.evidently_drift import evidently_dataset_drift


def _drift(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "monitor.cli", "drift", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300, check=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("drift-files")
    rng = np.random.default_rng(7)
    n = 600
    reference = pd.DataFrame({
        "amount": rng.lognormal(3, 1, n),
        "age": rng.integers(18, 90, n),
        "country": rng.choice(["DE", "FR", "US"], n),
        "is_new": rng.random(n) < 0.2,
        "zip": rng.choice([10115, 75001, 10001], n),
    })
    reference.to_parquet(folder / "reference.parquet")
    same = pd.DataFrame({
        "amount": rng.lognormal(3, 1, n),
        "age": rng.integers(18, 90, n),
        "country": rng.choice(["DE", "FR", "US"], n),
        "is_new": rng.random(n) < 0.2,
        "zip": rng.choice([10115, 75001, 10001], n),
    })
    same.to_csv(folder / "same.csv", index=False)
    drifted = same.copy()
    drifted["amount"] = rng.lognormal(4, 1, n)
    drifted["age"] = rng.integers(50, 95, n)
    drifted["country"] = rng.choice(["DE", "FR", "US"], n, p=[0.8, 0.1, 0.1])
    drifted.to_parquet(folder / "drifted.parquet")
    drifted.drop(columns=["zip"]).to_parquet(folder / "fewer.parquet")
    return folder


def test_no_drift_exits_0_with_a_table(files):
    result = _drift("reference.parquet", "same.csv", cwd=files)
    assert result.returncode == 0, result.stderr
    for header in ("feature", "method", "score", "threshold", "drifted"):
        assert header in result.stdout
    assert "no dataset drift" in result.stdout
    assert "amount" in result.stdout and "ks" in result.stdout


def test_drift_exits_1_and_json_has_exactly_the_documented_shape(files):
    result = _drift("reference.parquet", "drifted.parquet", "--json", cwd=files)
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"dataset_drift", "drift_share", "features"}
    assert document["dataset_drift"] is True and document["drift_share"] == pytest.approx(3 / 5)
    by_name = {feature["feature"]: feature for feature in document["features"]}
    assert list(by_name) == ["amount", "age", "country", "is_new", "zip"]
    for feature in document["features"]:
        assert set(feature) == {"feature", "type", "method", "score", "threshold", "drifted"}
        assert isinstance(feature["drifted"], bool) and isinstance(feature["score"], float)
    assert {name: (f["type"], f["method"]) for name, f in by_name.items()} == {
        "amount": ("numeric", "ks"), "age": ("numeric", "ks"), "country": ("categorical", "chisquare"),
        "is_new": ("categorical", "z"), "zip": ("numeric", "chisquare"),
    }
    # The verdicts are Evidently's on the same data.
    reference = pd.read_parquet(files / "reference.parquet")
    current = pd.read_parquet(files / "drifted.parquet")
    theirs = evidently_dataset_drift(reference, current, feature_types={n: f["type"] for n, f in by_name.items()})
    assert {name: f["drifted"] for name, f in by_name.items()} == theirs.drifted
    for name, feature in by_name.items():
        assert feature["score"] == pytest.approx(theirs.scores[name], rel=1e-9)


def test_method_threshold_types_and_drift_share_options(files):
    result = _drift("reference.parquet", "drifted.parquet", "--json", "--method", "psi", "--threshold", "0.5",
                    "--categorical", "zip,age", "--drift-share", "0.9", cwd=files)
    document = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr  # fewer than 90% of the features drift at psi >= 0.5
    assert {f["feature"]: (f["type"], f["method"], f["threshold"]) for f in document["features"]} == {
        "amount": ("numeric", "psi", 0.5), "age": ("categorical", "psi", 0.5),
        "country": ("categorical", "psi", 0.5), "is_new": ("categorical", "psi", 0.5),
        "zip": ("categorical", "psi", 0.5),
    }
    result = _drift("reference.parquet", "drifted.parquet", "--json", "--numerical", "country", cwd=files)
    assert result.returncode == 2 and "declared numeric" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("reference.parquet", "missing.csv"), "no such file"),
        (("reference.parquet", "notes.txt"), "unsupported file type"),
        (("reference.parquet", "fewer.parquet"), "different columns"),
        (("reference.parquet", "same.csv", "--method", "nope"), "unknown drift method"),
        (("reference.parquet", "same.csv", "--categorical", "colour"), "not columns of the files"),
        (("reference.parquet", "same.csv", "--drift-share", "1.5"), "drift_share"),
        (("reference.parquet", "same.csv", "--method", "ks", "--json"), "numeric features only"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(files, args, message):
    (files / "notes.txt").write_text("hello")
    result = _drift(*args, cwd=files)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert result.stdout == ""
