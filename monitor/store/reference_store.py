"""Baselines in ``reference_sets`` / ``reference_data``: saved once, read by every window.

A reference set belongs to a model and a version key: a real ``model_version`` (a
baseline of the first N predictions of that version) or ``'*'`` (one baseline for
every version: a file, or a time window of stored predictions). ``source`` records
where it came from; a different source in the config means a new baseline.

Rows copied from stored predictions keep their ``prediction_id``, so labels that
arrive after the baseline was taken are joined when it is read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, delete, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.store.reference_columns import load_reference_columns
from monitor.store.stored_rows import StoredRows, read_stored_rows
from monitor.store.tables import predictions, reference_data, reference_models, reference_sets

__all__ = [
    "ALL_VERSIONS",
    "ReferenceRecord",
    "ReferenceSetInfo",
    "count_version_predictions",
    "find_reference_set",
    "load_reference_json",
    "load_reference_rows",
    "save_reference_records",
    "save_reference_from_predictions",
]

ALL_VERSIONS = "*"


@dataclass(frozen=True, slots=True)
class ReferenceSetInfo:
    id: int
    model: str
    model_version: str
    source: str
    row_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReferenceRecord:
    """One baseline row from a file: raw features, and the optional outputs."""

    features: Mapping[str, Any]
    prediction: str | None = None
    prediction_numeric: float | None = None
    score: float | None = None
    label: str | None = None
    label_numeric: float | None = None


def _info(row: Any) -> ReferenceSetInfo:
    return ReferenceSetInfo(
        id=int(row.id), model=row.model, model_version=row.model_version, source=row.source,
        row_count=int(row.row_count), created_at=row.created_at,
    )


def find_reference_set(connection: Connection, *, model: str, model_version: str) -> ReferenceSetInfo | None:
    row = connection.execute(
        select(reference_sets).where(reference_sets.c.model == model, reference_sets.c.model_version == model_version)
    ).first()
    return None if row is None else _info(row)


def _claim_set(
    connection: Connection, *, model: str, model_version: str, source: str, created_at: datetime
) -> int | None:
    """Insert the set row (replacing one from another source); None if it already exists."""
    existing = find_reference_set(connection, model=model, model_version=model_version)
    if existing is not None:
        if existing.source == source:
            return None
        connection.execute(delete(reference_data).where(reference_data.c.reference_set_id == existing.id))
        connection.execute(delete(reference_models).where(reference_models.c.reference_set_id == existing.id))
        connection.execute(delete(reference_sets).where(reference_sets.c.id == existing.id))
    dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    result = connection.execute(
        dialect_insert(reference_sets)
        .values(model=model, model_version=model_version, source=source, row_count=0, created_at=created_at)
        .on_conflict_do_nothing(index_elements=["model", "model_version"])
        .returning(reference_sets.c.id)
    ).first()
    return None if result is None else int(result[0])


def _finish_set(connection: Connection, set_id: int) -> ReferenceSetInfo:
    count = connection.execute(
        select(func.count()).select_from(reference_data).where(reference_data.c.reference_set_id == set_id)
    ).scalar_one()
    connection.execute(reference_sets.update().where(reference_sets.c.id == set_id).values(row_count=int(count)))
    row = connection.execute(select(reference_sets).where(reference_sets.c.id == set_id)).one()
    return _info(row)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _features_json(features: Mapping[str, Any]) -> str:
    return json.dumps({str(k): _json_value(v) for k, v in features.items()}, default=str, allow_nan=False)


def save_reference_records(
    engine: Engine,
    *,
    model: str,
    model_version: str,
    source: str,
    records: Sequence[ReferenceRecord],
    created_at: datetime,
) -> ReferenceSetInfo:
    """Store a baseline built outside the store (a file), once.

    If a set from the same source already exists it is kept (another scheduler
    was first); a set from another source is replaced.
    """
    with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
        set_id = _claim_set(connection, model=model, model_version=model_version, source=source,
                            created_at=created_at)
        if set_id is None:
            existing = find_reference_set(connection, model=model, model_version=model_version)
            assert existing is not None
            return existing
        rows = [
            (set_id, index, _features_json(record.features), record.prediction, record.prediction_numeric,
             record.score, record.label, record.label_numeric)
            for index, record in enumerate(records)
        ]
        _insert_rows(connection, rows)
        return _finish_set(connection, set_id)


_ROW_COLUMNS = ("reference_set_id", "row_index", "features", "prediction", "prediction_numeric", "score", "label",
                "label_numeric")


def _insert_rows(connection: Connection, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    columns = ", ".join(_ROW_COLUMNS)
    if connection.dialect.name == "postgresql":
        with driver.cursor().copy(f"COPY reference_data ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        placeholders = ", ".join("?" for _ in _ROW_COLUMNS)
        driver.cursor().executemany(f"INSERT INTO reference_data ({columns}) VALUES ({placeholders})", rows)


def save_reference_from_predictions(
    engine: Engine,
    *,
    model: str,
    model_version: str,
    source: str,
    created_at: datetime,
    version_filter: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> ReferenceSetInfo | None:
    """Copy stored predictions into a baseline (oldest first by event time).

    ``version_filter`` keeps one model version; ``start``/``end`` a time window;
    ``limit`` the first N. Returns None (and stores nothing) when no prediction
    matches.
    """
    order = (predictions.c.event_time, predictions.c.id)
    conditions = [predictions.c.model == model]
    if version_filter is not None:
        conditions.append(predictions.c.model_version == version_filter)
    if start is not None:
        conditions.append(predictions.c.event_time >= start)
    if end is not None:
        conditions.append(predictions.c.event_time < end)
    with engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin() as transaction:
        set_id = _claim_set(connection, model=model, model_version=model_version, source=source,
                            created_at=created_at)
        if set_id is None:
            return find_reference_set(connection, model=model, model_version=model_version)
        chosen = (
            select(
                literal(set_id, BigInteger).label("reference_set_id"),
                (func.row_number().over(order_by=order) - 1).label("row_index"),
                predictions.c.features,
                predictions.c.prediction,
                predictions.c.prediction_numeric,
                predictions.c.score,
                predictions.c.prediction_id,
            )
            .where(*conditions)
            .order_by(*order)
            .limit(limit)
        )
        connection.execute(
            insert(reference_data).from_select(
                ["reference_set_id", "row_index", "features", "prediction", "prediction_numeric", "score",
                 "prediction_id"],
                chosen,
            )
        )
        info = _finish_set(connection, set_id)
        if info.row_count == 0:
            transaction.rollback()
            return None
        return info


def count_version_predictions(engine: Engine, *, model: str, model_version: str, at_most: int) -> int:
    """How many predictions a version has, counting no further than ``at_most``."""
    first = (
        select(predictions.c.id)
        .where(predictions.c.model == model, predictions.c.model_version == model_version)
        .limit(at_most)
        .subquery()
    )
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(first)).scalar_one())


_SQLITE_REFERENCE = """
SELECT rd.features, rd.prediction, rd.prediction_numeric, rd.score, NULL, NULL,
       COALESCE(rd.label, l.label), COALESCE(rd.label_numeric, l.label_numeric), NULL
FROM reference_data rd
LEFT JOIN labels l ON l.model = ? AND l.prediction_id = rd.prediction_id
WHERE rd.reference_set_id = ?
ORDER BY rd.row_index
"""
_PG_REFERENCE = """
SELECT rd.features::text, rd.prediction, rd.prediction_numeric, rd.score, NULL, NULL,
       COALESCE(rd.label, l.label), COALESCE(rd.label_numeric, l.label_numeric), NULL
FROM reference_data rd
LEFT JOIN labels l ON l.model = %s AND l.prediction_id = rd.prediction_id
WHERE rd.reference_set_id = %s
ORDER BY rd.row_index
"""


def load_reference_rows(engine: Engine, info: ReferenceSetInfo, feature_types: Mapping[str, str]) -> StoredRows:
    """The baseline's columns, with the labels stored so far for copied predictions.

    From the set's columnar copy (:mod:`monitor.store.reference_columns`) when it has
    one, else from JSON.
    """
    columns = load_reference_columns(engine, model=info.model, set_id=info.id, feature_types=feature_types)
    return columns if columns is not None else load_reference_json(engine, info, feature_types)


def load_reference_json(engine: Engine, info: ReferenceSetInfo, feature_types: Mapping[str, str]) -> StoredRows:
    """:func:`load_reference_rows` parsing every row's JSON (no columnar copy)."""
    sql = _PG_REFERENCE if engine.dialect.name == "postgresql" else _SQLITE_REFERENCE
    with engine.connect() as connection, connection.begin():
        return read_stored_rows(connection, sql, (info.model, info.id), feature_types).rows
