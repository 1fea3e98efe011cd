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

from monitor.jobs.offline_drift import check_drift_files
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
        assert set(feature) == {"feature", "type", "method", "score", "threshold", "threshold_source", "learned",
                                "drifted", "not_judged"}
        assert isinstance(feature["drifted"], bool) and isinstance(feature["score"], float)
        assert feature["not_judged"] is None
        assert (feature["threshold_source"], feature["learned"]) == ("fixed", None)
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
        (("reference.parquet", "same.csv", "--feature-method", "country"), "must be COLUMN=METHOD"),
        (("reference.parquet", "same.csv", "--feature-method", "colour=psi"), "'colour', which is not a column"),
        (("reference.parquet", "same.csv", "--feature-method", "country=ks"),
         "--feature-method country=ks applies to numeric features only"),
        (("reference.parquet", "same.csv", "--feature-threshold", "country=high"), "is neither a number nor"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(files, args, message):
    (files / "notes.txt").write_text("hello")
    result = _drift(*args, cwd=files)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert result.stdout == ""


# --- Degenerate input: every case is a verdict the user can trust, or exit 2 naming file, column, problem.


@pytest.fixture(scope="module")
def degenerate(files: Path) -> Path:
    reference = pd.read_parquet(files / "reference.parquet")
    same = pd.read_csv(files / "same.csv")
    same.head(0).to_csv(files / "header_only.csv", index=False)
    same.head(1).to_csv(files / "one_row.csv", index=False)
    one_missing = same.copy()
    one_missing["amount"] = np.nan
    one_missing.to_csv(files / "amount_missing.csv", index=False)
    three_missing = one_missing.copy()
    three_missing[["age", "zip"]] = np.nan
    three_missing.to_csv(files / "three_missing.csv", index=False)
    blind = reference.copy()
    blind["age"] = np.nan
    blind.to_csv(files / "reference_age_missing.csv", index=False)
    constant = pd.DataFrame({"level": [3.0] * 200, "tier": ["gold"] * 200})
    constant.to_csv(files / "constant.csv", index=False)
    constant.assign(level=4.0).to_csv(files / "constant_moved.csv", index=False)
    text_country = same.copy()
    text_country["age"] = text_country["age"].map(lambda years: f"{years} years")
    text_country.to_csv(files / "age_as_text.csv", index=False)
    return files


@pytest.mark.parametrize(
    ("current", "message"),
    [
        ("header_only.csv", "header_only.csv has no rows"),
        ("one_row.csv", "one_row.csv has only 1 row"),
        ("age_as_text.csv", "column 'age' looks numeric in reference.parquet but categorical in age_as_text.csv"),
        ("fewer.parquet", "fewer.parquet lacks ['zip']"),
    ],
    ids=["no-rows", "one-row", "type-differs", "fewer-columns"],
)
def test_a_current_file_that_cannot_be_judged_exits_2_naming_the_file(degenerate, current, message):
    result = _drift("reference.parquet", current, "--json", cwd=degenerate)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert result.stdout == ""  # no verdict at all, least of all "dataset_drift": false


def test_a_header_only_reference_and_an_all_missing_reference_column_exit_2(degenerate):
    result = _drift("header_only.csv", "same.csv", cwd=degenerate)
    assert result.returncode == 2 and "header_only.csv has no rows" in result.stderr
    result = _drift("reference_age_missing.csv", "same.csv", cwd=degenerate)
    assert result.returncode == 2, result.stdout
    assert "reference_age_missing.csv column 'age' has no values" in result.stderr
    assert result.stdout == ""


def test_unjudged_columns_that_could_tip_the_verdict_exit_2_and_json_says_null(degenerate):
    result = _drift("reference.parquet", "three_missing.csv", "--json", cwd=degenerate)
    assert result.returncode == 2, (result.stdout, result.stderr)
    document = json.loads(result.stdout)
    assert document["dataset_drift"] is None and document["drift_share"] is None
    unjudged = {f["feature"]: f for f in document["features"] if f["not_judged"]}
    assert sorted(unjudged) == ["age", "amount", "zip"]
    assert all(f["score"] is None and f["drifted"] is None for f in unjudged.values())
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: drift cannot be judged: ")
    for name in ("amount", "age", "zip"):
        assert f"three_missing.csv column '{name}': the current sample has no values" in line

    table = _drift("reference.parquet", "three_missing.csv", cwd=degenerate)
    assert table.returncode == 2 and "dataset drift not judged" in table.stdout and "not judged" in table.stdout
    assert "no dataset drift" not in table.stdout


def test_one_unjudged_column_that_cannot_tip_the_verdict_passes_with_a_warning(degenerate):
    result = _drift("reference.parquet", "amount_missing.csv", "--json", cwd=degenerate)
    assert result.returncode == 0, (result.stdout, result.stderr)  # 0 of 4 judged drift; 1 more could not reach 0.5
    document = json.loads(result.stdout)
    assert document["dataset_drift"] is False
    amount = next(f for f in document["features"] if f["feature"] == "amount")
    assert amount["drifted"] is None and "no values" in amount["not_judged"]
    assert "warning: not judged" in result.stderr and "amount_missing.csv column 'amount'" in result.stderr


def test_constant_columns_get_a_real_verdict(degenerate):
    same = _drift("constant.csv", "constant.csv", "--json", cwd=degenerate)
    assert same.returncode == 0, same.stderr
    assert [f["drifted"] for f in json.loads(same.stdout)["features"]] == [False, False]
    moved = _drift("constant.csv", "constant_moved.csv", "--json", cwd=degenerate)
    assert moved.returncode == 1, moved.stderr
    assert [(f["feature"], f["drifted"]) for f in json.loads(moved.stdout)["features"]] == [
        ("level", True), ("tier", False)]


def test_feature_method_and_threshold_options(files):
    refused = _drift("reference.parquet", "drifted.parquet", "--method", "ks", cwd=files)
    assert refused.returncode == 2
    assert "--feature-method country=chisquare" in refused.stderr and "per_feature" not in refused.stderr

    result = _drift("reference.parquet", "drifted.parquet", "--json", "--method", "ks",
                    "--feature-method", "country=chisquare", "--feature-method", "is_new=auto",
                    "--feature-threshold", "country=0.01", cwd=files)
    assert result.returncode in (0, 1), result.stderr
    by_name = {f["feature"]: (f["method"], f["threshold"]) for f in json.loads(result.stdout)["features"]}
    assert by_name == {"amount": ("ks", 0.05), "age": ("ks", 0.05), "country": ("chisquare", 0.01),
                       "is_new": ("z", 0.05), "zip": ("ks", 0.05)}


def test_help_shows_boolean_flags_without_a_value(tmp_path):
    env = {**os.environ, "COLUMNS": "200"}
    for command in (["drift"], ["alerts", "list"], []):
        result = subprocess.run([sys.executable, "-m", "monitor.cli", *command, "--help"], capture_output=True,
                                text=True, cwd=tmp_path, env=env, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert "<bool>" not in result.stdout, result.stdout
    drift_help = subprocess.run([sys.executable, "-m", "monitor.cli", "drift", "--help"], capture_output=True,
                                text=True, cwd=tmp_path, env=env, timeout=120, check=False).stdout
    assert "--feature-method" in drift_help and "COLUMN=METHOD" in drift_help and "--feature-threshold" in drift_help
    assert "--method" in drift_help and "<str>" in drift_help  # options with a value keep their type


@pytest.fixture(scope="module")
def small_windows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4,000-row reference with a 40-valued categorical (4 common, 36 rare) and windows of 200 rows:
    the fixed rule flags the clean window's categorical by chance; a learned threshold does not."""
    folder = tmp_path_factory.mktemp("learned-threshold")
    rng = np.random.default_rng(14)
    values = np.array([f"c{index}" for index in range(40)], dtype=object)
    shares = np.array([0.2] * 4 + [0.2 / 36] * 36)

    def frame(rows: int, *, mean: float = 0.0, shift_shares: bool = False) -> pd.DataFrame:
        p = shares.copy()
        if shift_shares:
            p[0] *= 2
            p[1:] *= (1 - p[0]) / p[1:].sum()
        return pd.DataFrame({"x": rng.normal(mean, 1.0, rows), "c": rng.choice(values, rows, p=p)})

    frame(4000).to_parquet(folder / "reference.parquet")
    frame(200).to_parquet(folder / "clean.parquet")
    frame(200, mean=1.0, shift_shares=True).to_parquet(folder / "shifted.parquet")
    frame(900).to_parquet(folder / "big.parquet")
    return folder


@pytest.mark.slow
def test_threshold_reference_learns_from_chunks_and_stops_the_false_alarm(small_windows):
    fixed = _drift("reference.parquet", "clean.parquet", "--json", cwd=small_windows)
    fixed_features = {row["feature"]: row for row in json.loads(fixed.stdout)["features"]}
    assert fixed_features["c"]["drifted"] is True  # the fixed rule cries wolf on the clean window
    assert fixed_features["c"]["threshold_source"] == "fixed" and fixed_features["c"]["learned"] is None

    learned = _drift("reference.parquet", "clean.parquet", "--json", "--threshold", "reference", cwd=small_windows)
    assert learned.returncode == 0, learned.stderr
    document = json.loads(learned.stdout)
    features = {row["feature"]: row for row in document["features"]}
    assert document["dataset_drift"] is False
    for name in ("x", "c"):
        row = features[name]
        assert row["threshold_source"] == "reference" and row["drifted"] is False
        assert row["learned"]["chunk_size"] == 200 and row["learned"]["chunks"] == 20
        assert row["learned"]["std_multiplier"] == 3.0 and row["learned"]["scale"] == "distance"
        expected = row["learned"]["mean"] + 3 * row["learned"]["std"]
        assert row["threshold"] == pytest.approx(expected)
    assert features["c"]["threshold"] > fixed_features["c"]["threshold"]

    shifted = _drift("reference.parquet", "shifted.parquet", "--json", "--threshold", "reference", cwd=small_windows)
    assert shifted.returncode == 1, shifted.stderr
    assert all(row["drifted"] for row in json.loads(shifted.stdout)["features"])


def test_threshold_reference_table_std_option_and_per_feature(small_windows):
    table = _drift("reference.parquet", "clean.parquet", "--threshold", "reference", cwd=small_windows)
    assert table.returncode == 0, table.stderr
    assert "(learned)" in table.stdout
    reference, clean = small_windows / "reference.parquet", small_windows / "clean.parquet"
    # A smaller k gives a smaller threshold.
    loose = check_drift_files(reference, clean, threshold="reference", threshold_std=1.0).to_json()
    strict = check_drift_files(reference, clean, threshold="reference").to_json()
    assert loose["features"][0]["threshold"] < strict["features"][0]["threshold"]
    # Only c learns its threshold; x keeps the method default.
    mixed = check_drift_files(reference, clean, feature_thresholds=["c=reference"]).to_json()
    assert {row["feature"]: row["threshold_source"] for row in mixed["features"]} == {"x": "fixed", "c": "reference"}
    # A p-value method learns on -log10(p): the threshold is a p-value in (0, 1).
    ks = check_drift_files(reference, clean, feature_methods=["x=ks"], feature_thresholds=["x=reference"]).to_json()
    x = next(row for row in ks["features"] if row["feature"] == "x")
    assert x["learned"]["scale"] == "-log10(p_value)" and 0 < x["threshold"] < 0.05


@pytest.mark.parametrize(("args", "message"), [
    (("big.parquet", "reference.parquet", "--threshold", "reference"), "at least 20000 rows, but it has 900"),
    (("reference.parquet", "big.parquet", "--threshold", "reference"), "at least 4500 rows, but it has 4000"),
    (("reference.parquet", "clean.parquet", "--threshold", "refrence"), "neither a number nor 'reference'"),
    (("reference.parquet", "clean.parquet", "--threshold", "reference", "--threshold-std", "0"),
     "--threshold-std must be a number > 0"),
])
def test_threshold_reference_bad_input_exits_2(small_windows, args, message):
    result = _drift(*args, cwd=small_windows)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
