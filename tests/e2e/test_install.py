"""Installing the project prints no warnings: `pip install -e .` (what setup.sh runs)
into a clean virtualenv, with pip's isolated build of the current setuptools."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_license_is_an_spdx_string_for_a_setuptools_that_reads_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"  # a table is deprecated by setuptools
    assert "setuptools>=77" in project["build-system"]["requires"]  # the first to read SPDX strings


def test_an_editable_install_prints_no_warning(tmp_path: Path):
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)  # the test's pip installs into it: no second pip download
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(target / "bin" / "python"), "install", "--no-deps",
         "--disable-pip-version-check", "-e", str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Successfully installed driftwatch" in output
    noise = [line for line in output.splitlines() if "warning" in line.lower() or "deprecated" in line.lower()]
    assert noise == [], output
