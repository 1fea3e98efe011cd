"""The metrics' view of stored rows: :class:`StoredRows`, from a table in the stored-row format.

:mod:`monitor.store.row_format` says what a stored row is (column names, Arrow types,
bytes); this module turns such a table into the pandas columns the metrics read
(:func:`stored_rows`): outputs as categoricals and floats, features with their raw
values (a mixed-kind feature's JSON texts decoded), probabilities as stored. It also
matches a labels read (:data:`~monitor.store.row_format.LABEL_TYPES`) to the rows by
prediction id (:func:`with_labels`, :func:`labelled`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from monitor.store.row_format import (
    FEATURE_PREFIX,
    FLOAT_OUTPUTS,
    LABEL_TYPES,
    OUTPUT_COLUMNS,
    combine,
    detached,
    is_json_field,
)

__all__ = ["StoredRows", "labelled", "stored_rows", "with_labels"]


def with_labels(table: pa.Table, labels: pa.Table) -> pa.Table:
    """``table`` with the ``label``/``label_numeric`` of ``labels`` (:data:`LABEL_TYPES`) matched by prediction id.

    A label already in ``table`` (a baseline file's) is kept.
    """
    where = pc.index_in(table.column("prediction_id"), value_set=labels.column("prediction_id").combine_chunks())
    for name in ("label", "label_numeric"):
        joined = labels.column(name).take(where)
        if name in table.column_names:
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pc.coalesce(table.column(name), joined))
        else:
            table = table.append_column(pa.field(name, LABEL_TYPES[name]), joined)
    return table


def labelled(rows: StoredRows, table: pa.Table, labels: pa.Table) -> StoredRows:
    """``rows`` (:func:`stored_rows` of a table read without labels) with the labels of ``labels``
    matched by prediction id: the same as ``stored_rows(with_labels(table, labels))``, without
    converting the other columns again. ``table`` needs only that table's ``prediction_id`` (and
    its labels, if it carries any).
    """
    names = ["prediction_id", *(name for name in ("label", "label_numeric") if name in table.column_names)]
    joined = with_labels(table.select(names), labels)
    outputs = rows.outputs.copy(deep=False)  # the other columns shared, not copied (the unlabelled rows live on)
    outputs["label"] = _output_series(joined, "label")
    outputs["label_numeric"] = _output_series(joined, "label_numeric")
    return StoredRows(outputs=outputs, features=rows.features, probabilities=rows.probabilities)


@dataclass(frozen=True, slots=True)
class StoredRows:
    """Row-aligned columns of stored predictions, as the metrics read them.

    ``outputs`` has the columns of :data:`OUTPUT_COLUMNS`: ``prediction``,
    ``status`` and ``label`` as categoricals (missing where absent; ``label``
    missing for a prediction without a label), the others float64 (NaN where
    missing). ``features`` holds each feature's raw values (numbers, strings,
    bools, missing), one column per feature that has at least one value in the rows.
    ``probabilities`` is the per-class probabilities column as stored (a map per
    row, null where a prediction has none; None when the rows never carried the
    column, e.g. a baseline stored before it was kept); read it with
    :meth:`class_probabilities`.
    """

    outputs: pd.DataFrame
    features: pd.DataFrame
    probabilities: pa.ChunkedArray | None = None

    def class_probabilities(self) -> pd.DataFrame:
        """One float column per class named in the rows' probabilities (sorted), NaN where a row has none.

        >>> from monitor.store.row_format import OUTPUT_TYPES
        >>> table = pa.table({"probabilities": pa.array([[("b", 0.75), ("a", 0.25)], None],
        ...                                             OUTPUT_TYPES["probabilities"])})
        >>> stored_rows(table).class_probabilities().to_dict("list")
        {'a': [0.25, nan], 'b': [0.75, nan]}
        """
        n_rows = len(self)
        column = self.probabilities
        if column is None or column.null_count == len(column):
            return pd.DataFrame(index=pd.RangeIndex(n_rows))
        starts, rows_of, keys_of, values_of = 0, [], [], []
        for chunk in column.chunks:
            offsets = chunk.offsets.to_numpy()
            first, last = int(offsets[0]), int(offsets[-1])
            rows = np.repeat(np.arange(starts, starts + len(chunk)), np.diff(offsets))
            valid = np.repeat(chunk.is_valid().to_numpy(zero_copy_only=False), np.diff(offsets))
            rows_of.append(rows[valid])
            keys_of.append(np.asarray(chunk.keys.slice(first, last - first).to_numpy(zero_copy_only=False),
                                      dtype=object)[valid])
            values_of.append(chunk.items.slice(first, last - first).to_numpy(zero_copy_only=False)
                             .astype(float)[valid])
            starts += len(chunk)
        keys, values = np.concatenate(keys_of), np.concatenate(values_of)
        classes, codes = np.unique(keys, return_inverse=True)
        matrix = np.full((n_rows, len(classes)), np.nan)
        matrix[np.concatenate(rows_of), codes] = values
        return pd.DataFrame(matrix, columns=[str(name) for name in classes], index=pd.RangeIndex(n_rows))

    def __len__(self) -> int:
        return len(self.outputs)

    def take(self, positions: np.ndarray) -> StoredRows:
        """The rows at ``positions`` (a segment's, a chunk's), re-indexed from 0, probabilities included."""
        probabilities = None if self.probabilities is None else self.probabilities.take(pa.array(positions))
        return StoredRows(outputs=self.outputs.iloc[positions].reset_index(drop=True),
                          features=self.features.iloc[positions].reset_index(drop=True), probabilities=probabilities)

    @classmethod
    def empty(cls) -> StoredRows:
        return stored_rows(combine([]))


def _output_series(table: pa.Table, name: str) -> pd.Series[Any]:
    if name not in table.column_names:
        column = pa.nulls(table.num_rows, pa.float64() if name in FLOAT_OUTPUTS else pa.string())
    else:
        column = table.column(name)
    if name in FLOAT_OUTPUTS:
        return pd.Series(column.to_numpy(zero_copy_only=False), dtype="float64")
    return pd.Series(column.dictionary_encode().to_pandas())  # a categorical: few distinct values


def _json_values(column: pa.ChunkedArray) -> pd.Series[Any]:
    loads = json.loads
    return pd.Series([None if text is None else loads(text) for text in column.to_pylist()], dtype=object)


def stored_rows(table: pa.Table) -> StoredRows:
    """The metrics' view of a stored-format table (labels joined)."""
    n_rows = table.num_rows
    outputs = pd.DataFrame({name: _output_series(table, name) for name in OUTPUT_COLUMNS},
                           index=pd.RangeIndex(n_rows))
    names: list[str] = []
    typed: dict[str, pa.ChunkedArray] = {}
    decoded: dict[str, pd.Series[Any]] = {}
    for field, column in zip(table.schema, table.columns, strict=True):
        if not field.name.startswith(FEATURE_PREFIX) or column.null_count == n_rows:
            continue  # a feature without a single value is treated as absent
        name = field.name.removeprefix(FEATURE_PREFIX)
        names.append(name)
        if is_json_field(field):
            decoded[name] = _json_values(column)
        else:
            typed[name] = column
    # One conversion for all typed columns (threaded; no consolidated 2-D block; strings
    # become categoricals: few distinct values, one object each).
    features = (pa.table(typed).to_pandas(split_blocks=True, strings_to_categorical=True) if typed
                else pd.DataFrame(index=pd.RangeIndex(n_rows)))
    if decoded:
        for name, values in decoded.items():
            features[name] = values
        features = features[names]
    # Its own copy: the table's buffers are the stored bytes, freed once the read is done.
    probabilities = detached(table.column("probabilities")) if "probabilities" in table.column_names else None
    return StoredRows(outputs=outputs, features=features, probabilities=probabilities)
