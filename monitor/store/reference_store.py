"""Baselines in ``reference_sets`` / ``reference_data``: saved once, read by every window.

A reference set belongs to a model and a version key: a real ``model_version`` (a
baseline of the first N predictions of that version) or ``'*'`` (one baseline for
every version: a file, or a time window of stored predictions). ``source`` records
where it came from; a different source in the config means a new baseline.

Rows copied from stored predictions keep their ``prediction_id``, so labels that
arrive after the baseline was taken are joined when it is read. ``reference_data``
holds the rows for SQL users; ``reference_sets.columns`` holds the same rows in the
stored-row format (:mod:`monitor.store.row_format`), written in the transaction that
saves the set, and read by :func:`monitor.store.window_reader.load_reference_table`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import BigInteger, Connection, Engine, delete, func, insert, literal, select, update

from monitor.store.dialect import dialect_of
from monitor.store.row_format import FEATURE_PREFIX, OUTPUT_TYPES, combine, deserialise, features_table, serialise
from monitor.store.stored_rows import StoredRows, stored_rows
from monitor.store.tables import prediction_batches, predictions, reference_data, reference_models, reference_sets
from monitor.store.window_reader import load_reference_table

__all__ = [
    "ALL_VERSIONS",
    "ReferenceRecord",
    "ReferenceSetInfo",
    "count_version_predictions",
    "find_reference_set",
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
    probabilities: Mapping[str, float] | None = None  # per class (multiclass)
    latency_ms: float | None = None
    status: str | None = None  # "ok" / "error"; None: the file does not say


# The set's description without its columnar copy (tens of MB, read only by load_reference_table).
_INFO_COLUMNS: Final = (reference_sets.c.id, reference_sets.c.model, reference_sets.c.model_version,
                        reference_sets.c.source, reference_sets.c.row_count, reference_sets.c.created_at)


def _info(row: Any) -> ReferenceSetInfo:
    return ReferenceSetInfo(
        id=int(row.id), model=row.model, model_version=row.model_version, source=row.source,
        row_count=int(row.row_count), created_at=row.created_at,
    )


def find_reference_set(connection: Connection, *, model: str, model_version: str) -> ReferenceSetInfo | None:
    row = connection.execute(
        select(*_INFO_COLUMNS).where(reference_sets.c.model == model, reference_sets.c.model_version == model_version)
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
    result = connection.execute(
        dialect_of(connection).upsert(reference_sets)
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
    row = connection.execute(select(*_INFO_COLUMNS).where(reference_sets.c.id == set_id)).one()
    return _info(row)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _plain(value: Any) -> Any:
    """A file's feature value as JSON would keep it (as ``_features_json`` writes it)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return _json_value(value)
    return str(value)


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
        _save_columns(connection, set_id, _records_table(records))
        return _finish_set(connection, set_id)


_ROW_COLUMNS = ("reference_set_id", "row_index", "features", "prediction", "prediction_numeric", "score", "label",
                "label_numeric")


def _insert_rows(connection: Connection, rows: list[tuple[Any, ...]]) -> None:
    dialect_of(connection).insert_rows(connection, "reference_data", _ROW_COLUMNS, rows)


def _records_table(records: Sequence[ReferenceRecord]) -> pa.Table:
    """A file's rows in the stored-row format (no prediction ids, labels from the file)."""
    table = pa.table({
        "prediction_id": pa.nulls(len(records), pa.string()),
        "prediction": pa.array([record.prediction for record in records], pa.string()),
        "prediction_numeric": pa.array([record.prediction_numeric for record in records], pa.float64()),
        "score": pa.array([record.score for record in records], pa.float64()),
        "label": pa.array([record.label for record in records], pa.string()),
        "label_numeric": pa.array([record.label_numeric for record in records], pa.float64()),
        "probabilities": pa.array([None if record.probabilities is None else list(record.probabilities.items())
                                   for record in records], OUTPUT_TYPES["probabilities"]),
        "latency_ms": pa.array([record.latency_ms for record in records], pa.float64()),
        "status": pa.array([record.status for record in records], pa.string()),
    })
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(str(name) for name in record.features))
    features = features_table({name: [_plain(record.features.get(name)) for record in records]
                               for name in names})
    for field, column in zip(features.schema, features.columns, strict=True):
        table = table.append_column(field, column)
    return table


_COPIED = ("prediction_id", "prediction", "prediction_numeric", "score", "probabilities", "latency_ms", "status")


def _save_columns(connection: Connection, set_id: int, table: pa.Table) -> None:
    connection.execute(update(reference_sets).where(reference_sets.c.id == set_id).values(columns=serialise(table)))


def _copied_table(connection: Connection, set_id: int, model: str, version_filter: str | None) -> pa.Table:
    """The stored-format rows of the predictions copied into set ``set_id``, in its row order."""
    chosen = connection.execute(
        select(reference_data.c.prediction_id).where(reference_data.c.reference_set_id == set_id)
        .order_by(reference_data.c.row_index)
    ).scalars().all()
    span = connection.execute(
        select(func.min(predictions.c.event_time), func.max(predictions.c.event_time))
        .where(predictions.c.model == model,
               predictions.c.prediction_id.in_(select(reference_data.c.prediction_id)
                                               .where(reference_data.c.reference_set_id == set_id)))
    ).one()
    dialect = dialect_of(connection)
    where = "model = {p} AND max_event_time >= {p} AND min_event_time <= {p}"
    params: list[Any] = [model, dialect.time_param(span[0]), dialect.time_param(span[1])]
    if version_filter is not None:
        where += " AND model_version = {p}"
        params.append(version_filter)
    parts = [deserialise(data) for data in dialect.blobs(connection, prediction_batches.name, "data", where, params)]
    rows = combine(parts)
    wanted = pa.array(chosen, pa.string())
    found = pc.index_in(wanted, value_set=rows.column("prediction_id").combine_chunks())
    # What a baseline keeps of a prediction: its outputs (per-class probabilities too), latency, status and
    # features.
    kept = [name for name in rows.column_names if name in _COPIED or name.startswith(FEATURE_PREFIX)]
    return rows.select(kept).take(found)


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
        _save_columns(connection, set_id, _copied_table(connection, set_id, model, version_filter))
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


def load_reference_rows(engine: Engine, info: ReferenceSetInfo,
                        feature_types: Mapping[str, str] | None = None) -> StoredRows:
    """The baseline's columns, with the labels stored so far for copied predictions.

    ``feature_types`` is not needed (kept for callers).
    """
    with engine.connect() as connection, connection.begin():
        return stored_rows(load_reference_table(connection, model=info.model, set_id=info.id))
