"""Regenerate the NannyML golden files that tests/monitor/metrics/estimation compare with.

NannyML is never a dependency of driftwatch: this script makes a throwaway virtualenv,
installs NannyML 0.13.1 there, and runs itself inside it on NannyML's own shipped
datasets. It writes the input frames (parquet) and NannyML's results (JSON) under
tests/monitor/metrics/estimation/golden/.

    python scripts/nannyml_golden.py            # venv under /tmp/driftwatch-nannyml-venv
    python scripts/nannyml_golden.py --venv DIR
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import venv
from pathlib import Path
from typing import Any

NANNYML = "nannyml==0.13.1"
# NannyML imports statsmodels without declaring it, and predates pandas 3: pin pandas to
# the 2.x driftwatch itself runs on.
EXTRAS = ["statsmodels", "pandas>=2.2,<3"]
GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "monitor" / "metrics" / "estimation" / "golden"
CAR_LOAN_FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length", "repaid_loan_on_prev_car",
                     "size_of_downpayment", "driver_tenure"]
CBPE_METRICS = ["roc_auc", "f1", "precision", "recall", "specificity", "accuracy", "confusion_matrix"]
CHUNK_SIZE = 5000
MULTICLASS_CHUNK_SIZE = 6000
DLE_CHUNK_SIZE = 6000
DC_CHUNK_SIZE, DC_REFERENCE_ROWS, DC_ANALYSIS_START, DC_ANALYSIS_ROWS = 2000, 10_000, 20_000, 10_000


def nannyml_environment() -> dict[str, str]:
    """The environment to run NannyML in (its usage logging off)."""
    return {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}


def ensure_venv(env_dir: Path) -> Path:
    """Create (or reuse) the throwaway virtualenv with NannyML installed; returns its python."""
    python = env_dir / "bin" / "python"
    if not python.exists():
        venv.create(env_dir, with_pip=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", NANNYML, *EXTRAS], check=True,
                   env=nannyml_environment())
    return python


def _outside(args: argparse.Namespace) -> None:
    python = ensure_venv(Path(args.venv))
    subprocess.run([str(python), __file__, "--inside", str(args.out)], check=True, env=nannyml_environment())


def _records(frame: Any, metric_names: list[str]) -> list[dict[str, Any]]:
    """NannyML's analysis-period rows as plain JSON: chunk bounds and each metric's fields."""
    import math

    rows = []
    for _, row in frame.iterrows():
        record: dict[str, Any] = {"start_index": int(row[("chunk", "start_index")]),
                                  "end_index": int(row[("chunk", "end_index")])}
        for name in metric_names:
            fields = {}
            for (top, field), value in row.items():
                if top != name:
                    continue
                if isinstance(value, bool) or type(value).__name__ == "bool_":
                    fields[field] = bool(value)
                elif value is None or (isinstance(value, float) and math.isnan(value)):
                    fields[field] = None
                else:
                    fields[field] = float(value)
            record[name] = fields
        rows.append(record)
    return rows


def _inside(out: Path) -> None:
    import nannyml as nml
    import numpy as np
    import pandas as pd
    import sklearn

    out.mkdir(parents=True, exist_ok=True)
    versions = {"nannyml": nml.__version__, "numpy": np.__version__, "pandas": pd.__version__,
                "scikit-learn": sklearn.__version__}

    reference, analysis, targets = nml.load_synthetic_car_loan_dataset()
    analysis = analysis.merge(targets, on="id")  # labels present: NannyML reports the realized values too
    columns = [*CAR_LOAN_FEATURES, "y_pred_proba", "y_pred", "repaid"]
    reference[columns].to_parquet(out / "car_loan_reference.parquet", compression="zstd", index=False)
    analysis[columns].to_parquet(out / "car_loan_analysis.parquet", compression="zstd", index=False)

    estimator = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="repaid", metrics=CBPE_METRICS,
                         chunk_size=CHUNK_SIZE, problem_type="classification_binary")
    estimator.fit(reference[columns])
    estimated = estimator.estimate(analysis[columns]).filter(period="analysis").to_df()
    names = ["roc_auc", "f1", "precision", "recall", "specificity", "accuracy", "true_positive", "true_negative",
             "false_positive", "false_negative"]
    cbpe = {"versions": versions, "chunk_size": CHUNK_SIZE, "needs_calibration": bool(estimator.needs_calibration),
            "metrics": names, "chunks": _records(estimated, names)}
    (out / "car_loan_cbpe.json").write_text(json.dumps(cbpe, indent=1) + "\n")

    calculator = nml.DataReconstructionDriftCalculator(column_names=CAR_LOAN_FEATURES, chunk_size=CHUNK_SIZE)
    calculator.fit(reference[columns])
    drift = calculator.calculate(analysis[columns]).filter(period="analysis").to_df()
    pca = {"versions": versions, "chunk_size": CHUNK_SIZE, "features": CAR_LOAN_FEATURES,
           "chunks": _records(drift, ["reconstruction_error"])}
    (out / "car_loan_pca.json").write_text(json.dumps(pca, indent=1) + "\n")
    reference, analysis, targets = nml.load_synthetic_multiclass_classification_dataset()
    analysis = analysis.merge(targets, on="id")
    classes = ["prepaid_card", "highstreet_card", "upmarket_card"]
    proba = {name: f"y_pred_proba_{name}" for name in classes}
    columns = [*proba.values(), "y_pred", "y_true"]
    reference[columns].to_parquet(out / "multiclass_reference.parquet", compression="zstd", index=False)
    analysis[columns].to_parquet(out / "multiclass_analysis.parquet", compression="zstd", index=False)
    scalars = ["roc_auc", "f1", "precision", "recall", "specificity", "accuracy"]
    # The confusion matrix's cells, as NannyML names them: true_<class>_pred_<class> (counts).
    names = [*scalars, *(f"true_{a}_pred_{b}" for a in sorted(classes) for b in sorted(classes))]
    estimator = nml.CBPE(y_pred_proba=proba, y_pred="y_pred", y_true="y_true", metrics=[*scalars, "confusion_matrix"],
                         chunk_size=MULTICLASS_CHUNK_SIZE, problem_type="classification_multiclass")
    estimator.fit(reference[columns])
    estimated = estimator.estimate(analysis[columns]).filter(period="analysis").to_df()
    calibrated = {name: type(calibrator).__name__ != "NoopCalibrator"
                  for name, calibrator in estimator._calibrators.items()}
    multiclass = {"versions": versions, "chunk_size": MULTICLASS_CHUNK_SIZE, "classes": classes,
                  "calibrated": calibrated, "metrics": names, "chunks": _records(estimated, names)}
    (out / "multiclass_cbpe.json").write_text(json.dumps(multiclass, indent=1) + "\n")
    reference, analysis, targets = nml.load_synthetic_car_price_dataset()
    analysis = analysis.merge(targets, on="id")
    features = ["car_age", "km_driven", "price_new", "accident_count", "door_count", "fuel", "transmission"]
    columns = [*features, "y_pred", "y_true"]
    reference[columns].to_parquet(out / "car_price_reference.parquet", compression="zstd", index=False)
    analysis[columns].to_parquet(out / "car_price_analysis.parquet", compression="zstd", index=False)
    names = ["mae", "mape", "mse", "rmse"]
    dle = nml.DLE(feature_column_names=features, y_pred="y_pred", y_true="y_true", metrics=names,
                  chunk_size=DLE_CHUNK_SIZE)
    dle.fit(reference[columns])
    estimated = dle.estimate(analysis[columns]).filter(period="analysis").to_df()
    import lightgbm

    regression = {"versions": {**versions, "lightgbm": lightgbm.__version__}, "chunk_size": DLE_CHUNK_SIZE,
                  "features": features, "metrics": names, "chunks": _records(estimated, names)}
    (out / "car_price_dle.json").write_text(json.dumps(regression, indent=1) + "\n")
    # Domain classifier: five LightGBM fits per chunk, so a slice of the car-loan frames keeps it quick
    # (rows 20000-29999 of the analysis span the change at row 25000).
    reference, analysis, _ = nml.load_synthetic_car_loan_dataset()
    reference = reference.iloc[:DC_REFERENCE_ROWS].reset_index(drop=True)
    analysis = analysis.iloc[DC_ANALYSIS_START:DC_ANALYSIS_START + DC_ANALYSIS_ROWS].reset_index(drop=True)
    classifier = nml.DomainClassifierCalculator(feature_column_names=CAR_LOAN_FEATURES, chunk_size=DC_CHUNK_SIZE)
    classifier.fit(reference)
    scored = classifier.calculate(analysis).filter(period="analysis").to_df()
    domain = {"versions": versions, "chunk_size": DC_CHUNK_SIZE, "features": CAR_LOAN_FEATURES,
              "reference_rows": DC_REFERENCE_ROWS, "analysis_start": DC_ANALYSIS_START,
              "analysis_rows": DC_ANALYSIS_ROWS, "chunks": _records(scored, ["domain_classifier_auroc"])}
    (out / "car_loan_domain_classifier.json").write_text(json.dumps(domain, indent=1) + "\n")
    print(f"golden files written to {out} ({versions})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", default="/tmp/driftwatch-nannyml-venv", help="Throwaway virtualenv for NannyML.")
    parser.add_argument("--out", type=Path, default=GOLDEN, help="Folder for the golden files.")
    parser.add_argument("--inside", type=Path, help=argparse.SUPPRESS)  # run inside the NannyML venv
    args = parser.parse_args()
    if args.inside is not None:
        _inside(args.inside)
    else:
        _outside(args)


if __name__ == "__main__":
    main()
