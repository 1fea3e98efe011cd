"""A baseline's rows as columns, parsed from JSON once and kept in ``reference_sets.columns``.

A reference set never changes once saved, except for the labels of rows copied from
stored predictions (joined from ``labels`` when read, as they may arrive later). So
the first read parses ``reference_data`` and keeps an Arrow copy of its features
and outputs; every later read takes the copy and joins only the labels. A set whose
features mix JSON types keeps an empty copy and is always read from JSON (so
``type_mismatch_share`` keeps the raw values), as is a set whose copy cannot be
written (a read-only store).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, select, update

from monitor.store.arrow_rows import (
    deserialise_table,
    feature_columns,
    query_rows,
    serialise_table,
    stored_payloads,
    with_features,
)
from monitor.store.stored_rows import OUTPUT_COLUMNS, StoredRows, stored_rows_from_arrow
from monitor.store.tables import reference_sets

__all__ = ["load_reference_columns"]

log = logging.getLogger(__name__)

_OUTPUTS: Final = {"prediction": pa.string(), "prediction_numeric": pa.float64(), "score": pa.float64(),
                   "label": pa.string(), "label_numeric": pa.float64()}
_ROWS: Final = {"row_index": pa.int64(), "features": pa.string(), **_OUTPUTS}
_ROWS_SQL: Final = (
    "SELECT rd.row_index, {features}, rd.prediction, rd.prediction_numeric, rd.score, rd.label, rd.label_numeric "
    "FROM reference_data rd WHERE rd.reference_set_id = {p}"
)
# Labels of copied rows that had none when copied (COALESCE(rd.label, l.label) in the JSON read).
_LABELS: Final = {"row_index": pa.int64(), "label": pa.string(), "label_numeric": pa.float64()}
_LABELS_SQL: Final = (
    "SELECT rd.row_index, l.label, l.label_numeric FROM reference_data rd "
    "JOIN labels l ON l.model = {p} AND l.prediction_id = rd.prediction_id "
    "WHERE rd.reference_set_id = {p} AND rd.label IS NULL"
)
_JSON_ONLY: Final = b""


def _build(engine: Engine, set_id: int, feature_types: Mapping[str, str]) -> bytes:
    features = "rd.features::text" if engine.dialect.name == "postgresql" else "rd.features"
    with engine.connect() as connection, connection.begin():
        rows = query_rows(connection, _ROWS_SQL.replace("{features}", features), (set_id,), _ROWS)
    rows = rows.sort_by("row_index")
    table = with_features(rows.select(["row_index", *_OUTPUTS]), rows.column("features"), feature_types)
    return _JSON_ONLY if table is None else serialise_table(table)


def _stored_copy(engine: Engine, set_id: int, feature_types: Mapping[str, str]) -> bytes | None:
    with engine.connect() as connection, connection.begin():
        row_count = connection.execute(
            select(reference_sets.c.row_count).where(reference_sets.c.id == set_id)).scalar_one()
        (data,) = stored_payloads(connection, "reference_sets", "id = {p}", (set_id,), column="columns")
    if data is not None:
        return data
    if not row_count:
        return None
    data = _build(engine, set_id, feature_types)
    try:
        with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
            connection.execute(update(reference_sets)
                               .where(reference_sets.c.id == set_id, reference_sets.c.columns.is_(None))
                               .values(columns=data))
    except Exception:  # the copy only saves time: a store that refuses it is read from JSON
        log.warning("could not keep the baseline's columnar copy; it is read from JSON", exc_info=True)
    return data


def load_reference_columns(engine: Engine, *, model: str, set_id: int,
                           feature_types: Mapping[str, str]) -> StoredRows | None:
    """The set's rows from its columnar copy (built now if missing), or None to read JSON."""
    data = _stored_copy(engine, set_id, feature_types)
    if not data:
        return None
    table = deserialise_table(data)
    with engine.connect() as connection, connection.begin():
        late = query_rows(connection, _LABELS_SQL, (model, set_id), _LABELS)
    if late.num_rows:
        where = pc.index_in(table.column("row_index"), value_set=late.column("row_index"))
        for name in ("label", "label_numeric"):
            joined = late.column(name).take(where)
            column = pc.coalesce(table.column(name), joined)
            table = table.set_column(table.schema.get_field_index(name), name, column)
    outputs = table.select(list(_OUTPUTS))
    for name in OUTPUT_COLUMNS:
        if name not in _OUTPUTS:
            outputs = outputs.append_column(name, pa.nulls(table.num_rows, _missing_type(name)))
    return stored_rows_from_arrow(outputs, [feature_columns(table)])


def _missing_type(name: str) -> pa.DataType:
    return pa.float64() if name == "latency_ms" else pa.string()
