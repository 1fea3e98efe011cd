"""The drift benchmark the README's numbers come from still runs against the current code (tiny sizes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_drift_benchmark_runs_and_agrees_with_evidently(tmp_path):
    out = tmp_path / "drift.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "drift.py"), "--backends", "sqlite", "--rows", "3000",
         "--reference-rows", "1000", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [result] = json.loads(out.read_text())["results"]
    assert result["verdicts_identical"] is True
    assert result["driftwatch_next_window_seconds"] > 0
