"""``driftwatch estimate`` and ``driftwatch multivariate`` as real processes: exit codes, JSON shape, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BINARY = ["--task", "binary_classification", "--y-pred-proba", "score", "--y-pred", "pred", "--y-true", "label"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300, check=False)


def _scored(rng: np.random.Generator, n: int, low: float = 0.0, high: float = 1.0) -> pd.DataFrame:
    proba = rng.uniform(low, high, n)
    x1 = rng.normal(0, 1, n)
    return pd.DataFrame({
        "x1": x1,
        "x2": x1 + rng.normal(0, 0.3, n),
        "city": rng.choice(["a", "b", "c"], n),
        "score": proba,
        "pred": (proba >= 0.5).astype(int),
        "label": (rng.random(n) < proba).astype(int),  # calibrated scores
    })


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("estimate-files")
    rng = np.random.default_rng(11)
    _scored(rng, 20_000).to_parquet(folder / "reference.parquet")
    same = _scored(rng, 10_000)
    same.drop(columns=["label"]).to_csv(folder / "same.csv", index=False)
    same.to_parquet(folder / "same_labelled.parquet")
    _scored(rng, 10_000, 0.35, 0.65).to_parquet(folder / "unsure.parquet")  # the model lost its confidence
    broken = _scored(rng, 10_000)
    broken["x2"] = rng.normal(0, 1, len(broken))  # x1 and x2 no longer move together
    broken.to_parquet(folder / "broken.parquet")
    reference = pd.read_parquet(folder / "reference.parquet")
    reference.drop(columns=["label"]).to_parquet(folder / "no_labels.parquet")
    reference.assign(label=1).to_parquet(folder / "one_class.parquet")
    reference.assign(score=reference["score"] * 10).to_parquet(folder / "not_proba.parquet")
    reference.head(500).to_parquet(folder / "tiny.parquet")
    return folder


def test_estimate_without_labels_exits_0_with_a_table(files):
    result = _run("estimate", "reference.parquet", "same.csv", *BINARY, "--chunk-size", "2000", cwd=files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "roc_auc" in result.stdout and "no alert" in result.stdout


def test_estimate_json_shape_and_realized_values(files):
    result = _run("estimate", "reference.parquet", "same_labelled.parquet", *BINARY, "--chunk-size", "2000",
                  "--metrics", "roc_auc,accuracy", "--json", cwd=files)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["method"] == "cbpe"
    assert [(c["index"], c["start_row"], c["end_row"]) for c in report["chunks"]] == [
        (i, 2000 * i, 2000 * i + 1999) for i in range(5)]
    for chunk in report["chunks"]:
        assert set(chunk["metrics"]) == {"roc_auc", "accuracy"}
        accuracy = chunk["metrics"]["accuracy"]
        assert {"value", "realized", "lower_band", "upper_band", "lower_threshold", "upper_threshold",
                "alert"} <= set(accuracy)
        assert accuracy["lower_band"] < accuracy["value"] < accuracy["upper_band"]
        # calibrated scores: the estimate sits close to the accuracy the labels give
        assert abs(accuracy["value"] - accuracy["realized"]) < 0.03


def test_estimate_alerts_when_the_model_loses_confidence(files):
    result = _run("estimate", "reference.parquet", "unsure.parquet", *BINARY, "--chunk-size", "2000", "--json",
                  cwd=files)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert all(chunk["metrics"]["accuracy"]["alert"] for chunk in report["chunks"])
    assert all(chunk["metrics"]["accuracy"]["value"] < chunk["metrics"]["accuracy"]["lower_threshold"]
               for chunk in report["chunks"])


@pytest.mark.parametrize(("reference", "extra", "message"), [
    ("no_labels.parquet", [], "no_labels.parquet: no column 'label'"),
    ("one_class.parquet", [], "one_class.parquet: column 'label' has only class 1"),
    ("not_proba.parquet", [], "not_proba.parquet: column 'score' is not a probability"),
    ("tiny.parquet", ["--chunk-size", "2000"], "tiny.parquet: 500 rows is fewer than one chunk of 2000"),
    ("reference.parquet", ["--metrics", "auc"], "unknown metric 'auc'"),
])
def test_estimate_bad_input_exits_2_with_one_clear_line(files, reference, extra, message):
    result = _run("estimate", reference, "same.csv", *BINARY, *extra, cwd=files)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_estimate_refuses_an_unknown_task_and_classification_without_scores(files):
    result = _run("estimate", "reference.parquet", "same.csv", *BINARY[2:], "--task", "ranking", cwd=files)
    assert result.returncode == 2
    assert "--task 'ranking' is unknown" in result.stderr
    result = _run("estimate", "reference.parquet", "same.csv", *BINARY[:2], *BINARY[4:], cwd=files)
    assert result.returncode == 2
    assert "needs --y-pred-proba" in result.stderr


def test_multivariate_same_distribution_exits_0(files):
    result = _run("multivariate", "reference.parquet", "same.csv", "--features", "x1,x2,city", "--chunk-size",
                  "2000", "--json", cwd=files)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["method"] == "pca_reconstruction"
    assert len(report["chunks"]) == 5
    assert all(set(chunk["metrics"]) == {"reconstruction_error"} for chunk in report["chunks"])


def test_multivariate_alerts_when_features_stop_moving_together(files):
    result = _run("multivariate", "reference.parquet", "broken.parquet", "--features", "x1,x2,city",
                  "--chunk-size", "2000", cwd=files)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "alert" in result.stdout


def test_multivariate_unknown_feature_exits_2(files):
    result = _run("multivariate", "reference.parquet", "same.csv", "--features", "x1,nope", cwd=files)
    assert result.returncode == 2
    assert "reference.parquet: no column 'nope'" in " ".join(result.stderr.split())


GOLDEN = Path(__file__).resolve().parents[1] / "metrics" / "estimation" / "golden"
MULTICLASS = ["--task", "multiclass_classification", "--y-pred", "y_pred", "--y-true", "y_true", "--y-pred-proba",
              "prepaid_card=y_pred_proba_prepaid_card,highstreet_card=y_pred_proba_highstreet_card,"
              "upmarket_card=y_pred_proba_upmarket_card"]


def test_estimate_multiclass_gives_nannymls_numbers_and_exits_1_on_its_drop():
    golden = json.loads((GOLDEN / "multiclass_cbpe.json").read_text())
    result = _run("estimate", "multiclass_reference.parquet", "multiclass_analysis.parquet", *MULTICLASS,
                  "--chunk-size", "6000", "--metrics", "roc_auc,accuracy", "--json", cwd=GOLDEN)
    assert result.returncode == 1, result.stderr
    chunks = json.loads(result.stdout)["chunks"]
    assert [chunk["metrics"]["accuracy"]["value"] for chunk in chunks] == pytest.approx(
        [chunk["accuracy"]["value"] for chunk in golden["chunks"]], rel=1e-6)
    assert [chunk["metrics"]["roc_auc"]["alert"] for chunk in chunks] == [
        chunk["roc_auc"]["alert"] for chunk in golden["chunks"]]


def test_estimate_multiclass_emits_the_confusion_matrix_cells_by_default_as_nannyml():
    golden = json.loads((GOLDEN / "multiclass_cbpe.json").read_text())
    result = _run("estimate", "multiclass_reference.parquet", "multiclass_analysis.parquet", *MULTICLASS,
                  "--chunk-size", "6000", "--json", cwd=GOLDEN)
    assert result.returncode == 1, result.stderr
    chunks = json.loads(result.stdout)["chunks"]
    cells = [name for name in golden["metrics"] if name.startswith("true_")]
    assert len(cells) == 9 and all(set(cells) <= set(chunk["metrics"]) for chunk in chunks)
    for ours, theirs in zip(chunks, golden["chunks"], strict=True):
        for cell in cells:
            got, want = ours["metrics"][cell], theirs[cell]
            assert (got["value"], got["upper_threshold"], got["upper_band"]) == pytest.approx(
                (want["value"], want["upper_threshold"], want["upper_confidence_boundary"]), rel=1e-6)
            assert (got["realized"], got["alert"]) == (pytest.approx(want["realized"]), want["alert"])


def test_estimate_multiclass_refuses_an_unseen_class(tmp_path):
    analysis = pd.read_parquet(GOLDEN / "multiclass_analysis.parquet").head(12_000)
    analysis.loc[5, "y_pred"] = "gold_card"
    analysis.to_parquet(tmp_path / "unseen.parquet")
    result = _run("estimate", str(GOLDEN / "multiclass_reference.parquet"), "unseen.parquet", *MULTICLASS,
                  "--chunk-size", "6000", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "unseen.parquet: column 'y_pred' has class(es) 'gold_card' that --y-pred-proba does not name" in " ".join(
        result.stderr.split())


@pytest.mark.slow
def test_estimate_regression_gives_nannymls_dle_numbers_and_exits_1_on_its_drop():
    golden = json.loads((GOLDEN / "car_price_dle.json").read_text())
    result = _run("estimate", "car_price_reference.parquet", "car_price_analysis.parquet", "--task", "regression",
                  "--y-pred", "y_pred", "--y-true", "y_true", "--chunk-size", "6000", "--metrics", "mae,rmse",
                  "--json", cwd=GOLDEN)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["method"] == "dle"
    for ours, theirs in zip(report["chunks"], golden["chunks"], strict=True):
        assert ours["metrics"]["mae"]["value"] == pytest.approx(theirs["mae"]["value"], rel=1e-3)
        assert ours["metrics"]["rmse"]["alert"] == theirs["rmse"]["alert"]
        assert ours["metrics"]["mae"]["realized"] == pytest.approx(theirs["mae"]["realized"], rel=1e-9)


def test_estimate_regression_refuses_mape_with_zero_labels(tmp_path):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(size=200), "y_pred": rng.normal(size=200), "y_true": rng.normal(size=200)})
    frame.loc[3, "y_true"] = 0.0
    frame.to_parquet(tmp_path / "zeros.parquet")
    result = _run("estimate", "zeros.parquet", "zeros.parquet", "--task", "regression", "--y-pred", "y_pred",
                  "--y-true", "y_true", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "zeros.parquet: column 'y_true' has zeros, so MAPE is undefined" in " ".join(result.stderr.split())


@pytest.mark.slow
def test_multivariate_classifier_tells_broken_relations_apart(files):
    result = _run("multivariate", "reference.parquet", "broken.parquet", "--features", "x1,x2,city",
                  "--chunk-size", "5000", "--method", "classifier", "--json", cwd=files)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["method"] == "domain_classifier"
    for chunk in report["chunks"]:
        auroc = chunk["metrics"]["auroc"]
        assert auroc["value"] > auroc["upper_threshold"] == 0.65
        assert auroc["lower_band"] is None and auroc["alert"]
