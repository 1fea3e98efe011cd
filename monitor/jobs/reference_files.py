"""Checking ``models.<name>.reference.file`` before a command computes anything.

A missing or unreadable baseline file would otherwise let every window be computed
without drift (exit 0, "with notes"): the commands that compute windows (``run``,
``schedule``, ``compute``) call :func:`check_reference_files` first and stop with
one error naming the model and the path.

Relative paths are read from the working directory, as the scheduler reads them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from monitor.config.models import DriftwatchConfig
from monitor.errors import ConfigError
from monitor.jobs.data_files import SUPPORTED_SUFFIXES

__all__ = ["check_reference_files", "reference_file_problem"]

_HEAD_BYTES = 64 * 1024


def reference_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot serve as a baseline file, or None when it looks readable.

    Reads only the parquet footer or the CSV header, not the data.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return f"unsupported file type {suffix or '(none)'!r}; use .parquet or .csv"
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if suffix == ".csv":
        return _csv_problem(head)
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except (OSError, pa.ArrowException) as exc:
        return f"is not a readable parquet file ({exc})"
    return None


def _csv_problem(head: bytes) -> str | None:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return "is not UTF-8 text"
        text = head[:exc.start].decode("utf-8")
    header = next(csv.reader(io.StringIO(text)), None)
    if not header or not any(name.strip() for name in header):
        return "is empty (no header row with column names)"
    return None


def check_reference_files(config: DriftwatchConfig, models: Iterable[str] | None = None) -> None:
    """Raise :class:`ConfigError` naming every model whose ``reference.file`` is unusable."""
    chosen = list(config.models) if models is None else list(models)
    problems = []
    for name in chosen:
        reference = config.models[name].reference if name in config.models else None
        if reference is None or reference.file is None:
            continue
        path = Path(reference.file)
        problem = reference_file_problem(path)
        if problem is not None:
            where = "" if path.is_absolute() else f" (relative to the working directory {Path.cwd()})"
            problems.append(f"models.{name}.reference.file: {reference.file}{where} {problem}")
    if problems:
        raise ConfigError("unusable reference file:\n  " + "\n  ".join(problems)
                          + "\nfix the path, create the file, or choose reference.window / reference.first")
