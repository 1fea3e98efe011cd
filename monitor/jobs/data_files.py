"""Reading tabular data files (parquet or CSV) for references and the offline drift check."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from monitor.errors import InputFileError

__all__ = ["SUPPORTED_SUFFIXES", "read_data_file"]

SUPPORTED_SUFFIXES = (".parquet", ".pq", ".csv")


def read_data_file(path: str | Path) -> pd.DataFrame:
    """Read a parquet or CSV file into a frame; every failure is an :class:`InputFileError`.

    CSV columns get pandas' usual inference (numbers, else strings); empty cells are
    missing values.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputFileError(f"{file}: unsupported file type {suffix or '(none)'!r}; use .parquet or .csv")
    if not file.is_file():
        raise InputFileError(f"{file}: no such file; check the path")
    try:
        frame = pd.read_csv(file) if suffix == ".csv" else pd.read_parquet(file)
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{file}: cannot be read as {suffix[1:]}: {exc}") from exc
    if frame.columns.duplicated().any():
        duplicates = sorted({str(name) for name in frame.columns[frame.columns.duplicated()]})
        raise InputFileError(f"{file}: duplicate column names {duplicates}; rename them")
    frame.columns = [str(name) for name in frame.columns]
    return frame
