"""Checks that turn a frame's columns into CBPE / reconstruction inputs, or one clear error.

Every message names the file, the column and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from monitor.errors import InputFileError
from monitor.metrics.estimation.chunks import DEFAULT_CHUNK_COUNT
from monitor.metrics.estimation.pca import is_categorical

__all__ = ["binary_column", "check_enough_rows", "feature_columns", "require_columns", "score_column"]


def require_columns(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputFileError(f"{source}: no column {', '.join(map(repr, missing))}; "
                             f"its columns are {', '.join(map(str, frame.columns))}")


def score_column(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """Scores as floats in [0, 1], none missing."""
    require_columns(frame, [column], source)
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise InputFileError(f"{source}: column {column!r} holds {values.dtype} values; scores must be "
                             "probabilities between 0 and 1")
    scores = values.to_numpy(dtype=float)
    if np.isnan(scores).any():
        raise InputFileError(f"{source}: column {column!r} has {int(np.isnan(scores).sum())} missing scores; "
                             "every row needs one")
    if len(scores) and (scores.min() < 0 or scores.max() > 1):
        raise InputFileError(f"{source}: column {column!r} is not a probability (values from {scores.min():g} "
                             f"to {scores.max():g}); give the positive-class probability, between 0 and 1")
    return np.asarray(scores)


def binary_column(frame: pd.DataFrame, column: str, source: str, *, allow_missing: bool = False,
                  both_classes: bool = False) -> np.ndarray:
    """A 0/1 column as floats (NaN for a missing value where ``allow_missing``)."""
    require_columns(frame, [column], source)
    values = frame[column]
    if pd.api.types.is_bool_dtype(values):
        values = values.astype(float)
    if not pd.api.types.is_numeric_dtype(values):
        raise InputFileError(f"{source}: column {column!r} holds {values.dtype} values; binary classes must be "
                             "0 and 1")
    array = values.to_numpy(dtype=float)
    known = array[~np.isnan(array)]
    if not allow_missing and len(known) < len(array):
        raise InputFileError(f"{source}: column {column!r} has {len(array) - len(known)} missing values; "
                             "the reference needs every label and prediction")
    unexpected = sorted(set(np.unique(known).tolist()) - {0.0, 1.0})
    if unexpected:
        raise InputFileError(f"{source}: column {column!r} has values {', '.join(f'{v:g}' for v in unexpected[:5])}"
                             "; binary classes must be 0 and 1")
    if both_classes and len(np.unique(known)) < 2:
        only = "no values" if len(known) == 0 else f"only class {known[0]:g}"
        raise InputFileError(f"{source}: column {column!r} has {only}; the reference needs both classes "
                             "to learn from")
    return np.asarray(array)


def feature_columns(reference: pd.DataFrame, analysis: pd.DataFrame, asked: Sequence[str],
                    reference_source: str, analysis_source: str) -> list[str]:
    """The features to use: the ones asked for, else every numeric, string or boolean column in both files."""
    if asked:
        require_columns(reference, asked, reference_source)
        require_columns(analysis, asked, analysis_source)
        features = list(asked)
    else:
        features = [column for column in reference.columns if column in analysis.columns]
        features = [column for column in features
                    if is_categorical(reference[column]) or pd.api.types.is_numeric_dtype(reference[column])]
    unusable = [column for column in features
                if not (is_categorical(reference[column]) or pd.api.types.is_numeric_dtype(reference[column]))]
    if unusable:
        raise InputFileError(f"{reference_source}: column(s) {', '.join(map(repr, unusable))} are neither numbers "
                             "nor categories; leave them out of --features")
    if not features:
        raise InputFileError(f"{reference_source}: no numeric or categorical column shared with {analysis_source}; "
                             "name the features with --features")
    empty = [column for column in features if reference[column].isna().all()]
    if empty:
        raise InputFileError(f"{reference_source}: column(s) {', '.join(map(repr, empty))} have no values; "
                             "leave them out of --features")
    for column in features:
        if is_categorical(reference[column]) != is_categorical(analysis[column]):
            raise InputFileError(f"{analysis_source}: column {column!r} is {analysis[column].dtype} but "
                                 f"{reference[column].dtype} in {reference_source}; make the types match")
    return features


def check_enough_rows(rows: int, source: str, *, chunk_size: int | None, chunks: int | None) -> None:
    """Refuse a file with fewer rows than one full chunk (or than the number of chunks)."""
    if chunk_size is not None and rows < chunk_size:
        raise InputFileError(f"{source}: {rows} rows is fewer than one chunk of {chunk_size}; "
                             "use a smaller --chunk-size")
    count = DEFAULT_CHUNK_COUNT if chunk_size is None and chunks is None else chunks
    if count is not None and rows < count:
        raise InputFileError(f"{source}: {rows} rows cannot make {count} chunks; use a smaller --chunks")


def class_scores(text: str) -> dict[str, str]:
    """Parse ``class=column,class=column`` (multiclass ``--y-pred-proba``).

    >>> class_scores("a=p_a, b=p_b,c=p_c")
    {'a': 'p_a', 'b': 'p_b', 'c': 'p_c'}
    """
    mapping: dict[str, str] = {}
    for part in (piece.strip() for piece in text.split(",") if piece.strip()):
        name, separator, column = part.partition("=")
        if not separator or not name.strip() or not column.strip():
            raise InputFileError(f"--y-pred-proba {text!r}: write one class=column pair per class, comma-separated, "
                                 "e.g. cat=p_cat,dog=p_dog,bird=p_bird")
        mapping[name.strip()] = column.strip()
    if len(mapping) < 3:
        raise InputFileError(f"--y-pred-proba {text!r} names {len(mapping)} class(es); multiclass needs at least 3 "
                             "(use --task binary_classification for two)")
    return mapping


def class_column(frame: pd.DataFrame, column: str, source: str, classes: Sequence[str], *,
                 allow_missing: bool = False) -> np.ndarray:
    """Class names as strings (None where missing and ``allow_missing``); a class outside ``classes`` is refused."""
    require_columns(frame, [column], source)
    values = frame[column]
    missing = values.isna()
    if missing.any() and not allow_missing:
        raise InputFileError(f"{source}: column {column!r} has {int(missing.sum())} missing values; every row "
                             "needs one")
    names = np.array([None if gone else str(value) for value, gone in zip(values, missing, strict=True)],
                     dtype=object)
    unseen = sorted({name for name in names if name is not None} - set(classes))
    if unseen:
        raise InputFileError(f"{source}: column {column!r} has class(es) {', '.join(map(repr, unseen[:5]))} that "
                             f"--y-pred-proba does not name (known: {', '.join(classes)})")
    return names


def number_column(frame: pd.DataFrame, column: str, source: str, *, allow_missing: bool = False) -> np.ndarray:
    """A numeric column as floats (NaN where missing and ``allow_missing``)."""
    require_columns(frame, [column], source)
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise InputFileError(f"{source}: column {column!r} holds {values.dtype} values; a regression needs numbers")
    array = values.to_numpy(dtype=float)
    missing = int(np.isnan(array).sum())
    if missing and not allow_missing:
        raise InputFileError(f"{source}: column {column!r} has {missing} missing values; the reference needs every "
                             "label and prediction")
    return np.asarray(array)
