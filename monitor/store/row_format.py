"""The stored-row format: how predictions (and baselines) look as columns.

Every prediction is stored twice, in the same transaction: as a row of
``predictions`` (the source of truth, for SQL users) and in a columnar copy, an
Arrow table of its batch (``prediction_batches``, see :mod:`monitor.store.batches`).
Windows and baselines are read only from the columnar copies
(:mod:`monitor.store.window_reader`), so this module is the one place that says
what a stored row is:

- :data:`OUTPUT_TYPES`: the prediction's outputs and bookkeeping, by column name;
  ``event_time`` and ``ingested_at`` are UTC microsecond timestamps;
  ``probabilities`` are the per-class probabilities (a map class -> float);
- one column per feature, named :data:`FEATURE_PREFIX` + the feature's name (so a
  feature called ``score`` never collides with an output). A feature whose values
  are all numbers, all strings or all booleans gets a typed column; one that mixes
  kinds (a number here, a string there: what ``type_mismatch_share`` measures) is a
  column of per-value JSON texts, flagged :data:`JSON_VALUES` in the field's
  metadata and decoded back to the raw Python values on read, so the metrics see
  exactly what was sent;
- labels are not part of a prediction's copy: they change after it was written, so
  a read joins the current ``labels`` rows (:data:`LABEL_TYPES`) by prediction id;
- tables are stored as uncompressed Arrow IPC streams: read without a copy. (lz4 saved
  about a sixth of the space on a million rows of 25 features but made writing a
  batch 2.7x and reading a window ~0.5 s slower; streams written lz4-compressed by
  earlier versions still read.)

The stored time text of SQLite (:data:`TIME_FORMAT`) is defined here too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from operator import attrgetter, itemgetter
from typing import Any, Final, Protocol

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "FEATURE_PREFIX",
    "FLOAT_OUTPUTS",
    "JSON_VALUES",
    "LABEL_TYPES",
    "OUTPUT_COLUMNS",
    "OUTPUT_TYPES",
    "TIME_FORMAT",
    "RowLike",
    "combine",
    "deserialise",
    "detached",
    "feature_column",
    "features_table",
    "in_range",
    "is_json_field",
    "newest",
    "parse_time_text",
    "rows_table",
    "serialise",
    "time_text",
    "time_texts",
]

FEATURE_PREFIX: Final = "f:"
JSON_VALUES: Final = b"driftwatch.json_values"
"""Field metadata key: the column holds one JSON text per value (a feature of mixed kinds)."""
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S.%f"
"""Timestamps as SQLite stores them (UTC, microseconds); PostgreSQL stores timestamptz."""
TIME_TYPE: Final = pa.timestamp("us", tz="UTC")
_UTC_WALL_TIME: Final = pa.timestamp("us")
OUTPUT_TYPES: Final = {
    "prediction_id": pa.string(),
    "event_time": TIME_TYPE,
    "ingested_at": TIME_TYPE,
    "prediction": pa.string(),
    "prediction_numeric": pa.float64(),
    "score": pa.float64(),
    "probabilities": pa.map_(pa.string(), pa.float64()),
    "latency_ms": pa.float64(),
    "status": pa.string(),
}
LABEL_TYPES: Final = {"prediction_id": pa.string(), "label": pa.string(), "label_numeric": pa.float64()}
"""The columns of a labels read: the prediction each label is for and the label."""
OUTPUT_COLUMNS: Final = ("prediction", "prediction_numeric", "score", "latency_ms", "status", "label", "label_numeric")
"""The columns of :attr:`StoredRows.outputs`."""
FLOAT_OUTPUTS: Final = frozenset({"prediction_numeric", "score", "latency_ms", "label_numeric"})
"""The columns of :data:`OUTPUT_COLUMNS` that are numbers (the others are texts)."""
_ROW_OUTPUTS: Final = tuple(name for name in OUTPUT_TYPES if name != "ingested_at")
_ROW_VALUES: Final = attrgetter(*_ROW_OUTPUTS, "features")
_TYPED_FEATURES: Final = (pa.float64(), pa.int64(), pa.string(), pa.bool_())
_IPC: Final = pa.ipc.IpcWriteOptions(compression=None)
_JSON_FIELD_METADATA: Final = {JSON_VALUES: b"1"}


class RowLike(Protocol):
    """A prediction to store: an ingested record, or a test's or benchmark's row."""

    @property
    def prediction_id(self) -> str: ...
    @property
    def event_time(self) -> datetime: ...
    @property
    def features(self) -> Mapping[str, Any]: ...
    @property
    def prediction(self) -> str: ...
    @property
    def prediction_numeric(self) -> float | None: ...
    @property
    def score(self) -> float | None: ...
    @property
    def probabilities(self) -> Mapping[str, float] | None: ...
    @property
    def latency_ms(self) -> float | None: ...
    @property
    def status(self) -> str: ...


def time_text(moment: datetime) -> str:
    """A UTC datetime as SQLite stores it.

    >>> time_text(datetime(2026, 3, 2, 1, 2, 3, 4, tzinfo=UTC))
    '2026-03-02 01:02:03.000004'
    """
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")  # TIME_FORMAT, twice as fast as strftime


def time_texts(moments: Sequence[datetime]) -> list[str]:
    """:func:`time_text` of many aware datetimes, by one Arrow cast (a fifth of the time per value).

    >>> time_texts([datetime(2026, 3, 2, 1, 2, 3, 4, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)])
    ['2026-03-02 01:02:03.000004', '0001-01-01 00:00:00.000000']
    """
    texts: list[str] = pa.array(moments, TIME_TYPE).cast(_UTC_WALL_TIME).cast(pa.string()).to_pylist()
    return texts


def parse_time_text(text: str) -> datetime:
    """:func:`time_text` back to an aware datetime (SQLite also stores whole seconds without a fraction)."""
    fmt = TIME_FORMAT if "." in text else TIME_FORMAT.removesuffix(".%f")
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


# -- features ---------------------------------------------------------------------------------


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, allow_nan=True)


def _float_sized(value: Any) -> Any:
    """A value, or None (missing) for an integer no float can hold.

    Ingestion refuses such numbers; one stored before (or by hand) must not make its
    whole window fail, so it counts as a missing value of its feature.

    >>> _float_sized(12), _float_sized(10**400)
    (12, None)
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**1023:
        try:
            float(value)
        except OverflowError:
            return None
    return value


def feature_column(values: Sequence[Any]) -> pa.Array:
    """One feature's raw values (None: missing) as a column: typed, or JSON texts when kinds mix.

    >>> feature_column([1, 2.5, None]).type, feature_column(["a", None]).type
    (DataType(double), DataType(string))
    >>> feature_column([1, "a"]).to_pylist()
    ['1', '"a"']
    """
    return _feature_column(values)[0]


def _feature_column(values: Sequence[Any]) -> tuple[pa.Array, bool]:
    """:func:`feature_column`, and whether it holds JSON texts."""
    try:
        column = pa.array(values, from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        values = [_float_sized(value) for value in values]
        try:
            column = pa.array(values, from_pandas=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            column = None
    if column is not None and (column.type in _TYPED_FEATURES or column.type == pa.null()) \
            and not _bools_as_numbers(column, values):
        return column, False
    return pa.array([_json_text(value) for value in values], type=pa.string()), True


_ZERO_ONE: Final = pa.array([0.0, 1.0])


def _bools_as_numbers(column: pa.Array, values: Iterable[Any]) -> bool:
    """Whether Arrow read booleans among numbers as 0.0/1.0 (it does when a float comes first).

    >>> import pyarrow as pa
    >>> _bools_as_numbers(pa.array([0.5, True]), [0.5, True]), _bools_as_numbers(pa.array([0.5, 1.0]), [0.5, 1.0])
    (True, False)
    """
    if column.type != pa.float64() or not pc.any(pc.is_in(column, value_set=_ZERO_ONE)).as_py():
        return False
    return any(value is True or value is False for value in values)


def is_json_field(field: pa.Field) -> bool:
    return bool(field.metadata) and JSON_VALUES in field.metadata


def _feature_field(name: str, column: pa.Array | pa.ChunkedArray, *, json_values: bool) -> pa.Field:
    return pa.field(FEATURE_PREFIX + name, column.type, metadata=_JSON_FIELD_METADATA if json_values else None)


def features_table(columns: Mapping[str, Sequence[Any]]) -> pa.Table:
    """Feature columns (prefixed, JSON-flagged when mixed) from each feature's raw values."""
    fields, arrays = [], []
    for name, values in columns.items():
        column, json_values = _feature_column(values)
        fields.append(_feature_field(name, column, json_values=json_values))
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _feature_values(rows: Sequence[Mapping[str, Any]], names: Iterable[str] | None = None) -> dict[str, list[Any]]:
    if names is None:
        seen: dict[str, None] = {}
        for features in rows:
            seen.update(dict.fromkeys(features))
        names = seen
    return {name: [features.get(name) for features in rows] for name in names}


def rows_features(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """The feature columns of rows' feature objects, as :func:`features_table` makes them.

    The common case (every row has the same features) turns the objects into one list of
    values per feature in C, then each into a column; otherwise all the objects become
    one Arrow struct array (its type inference sees every row), and only a feature of
    mixed or nested kinds is built value by value.

    >>> rows_features([{"a": 1, "b": "x"}, {"a": 2.5, "c": True}]).to_pydict()
    {'f:a': [1.0, 2.5], 'f:b': ['x', None], 'f:c': [None, True]}
    >>> rows_features([{"a": 1}, {"a": "x"}]).schema.field("f:a").metadata
    {b'driftwatch.json_values': b'1'}
    >>> rows_features([{"a": 1, "b": "x"}, {"b": "y", "a": True}]).to_pydict()
    {'f:a': ['1', 'true'], 'f:b': ['x', 'y']}
    """
    names = list(rows[0]) if rows else []
    if len(names) > 1 and set(map(len, rows)) == {len(names)}:
        try:  # every row has exactly these names (as many, and each of them)
            values = zip(*map(itemgetter(*names), rows), strict=True)
        except KeyError:
            pass
        else:
            return features_table(dict(zip(names, values, strict=True)))
    try:
        objects = pa.array(rows, from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return features_table(_feature_values(rows))  # some feature mixes kinds
    columns = dict(zip((field.name for field in objects.type), objects.flatten(), strict=True))
    other = [name for name, column in columns.items()
             if not (column.type in _TYPED_FEATURES or column.type == pa.null())
             or _bools_as_numbers(column, (features.get(name) for features in rows))]
    if other:
        rebuilt = features_table(_feature_values(rows, other))
        columns.update(zip(other, rebuilt.columns, strict=True))
        fields = {field.name.removeprefix(FEATURE_PREFIX): field for field in rebuilt.schema}
    else:
        fields = {}
    return pa.Table.from_arrays(
        list(columns.values()),
        schema=pa.schema([fields.get(name) or _feature_field(name, column, json_values=False)
                          for name, column in columns.items()]))


def rows_table(rows: Sequence[RowLike], *, ingested_at: datetime | Sequence[datetime]) -> pa.Table:
    """The stored-format table of ``rows`` (one model version's predictions), ingested at ``ingested_at``
    (one moment for all, or one per row)."""
    # One list per attribute, transposed in C (a list comprehension per column took twice as long).
    *values, features = list(zip(*map(_ROW_VALUES, rows), strict=True)) or [()] * (len(_ROW_OUTPUTS) + 1)
    outputs = {name: pa.array(column, OUTPUT_TYPES[name]) for name, column in zip(_ROW_OUTPUTS, values, strict=True)}
    outputs["ingested_at"] = (pa.repeat(pa.scalar(ingested_at, TIME_TYPE), len(rows))
                              if isinstance(ingested_at, datetime) else pa.array(ingested_at, TIME_TYPE))
    table = pa.table({name: outputs[name] for name in OUTPUT_TYPES})
    features = rows_features(features)
    for field, column in zip(features.schema, features.columns, strict=True):
        table = table.append_column(field, column)
    return table


# -- tables ---------------------------------------------------------------------------------


def serialise(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_IPC) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def deserialise(data: bytes) -> pa.Table:
    """A table from :func:`serialise`'s bytes (also from an lz4-compressed stream, as stored before).

    >>> table = pa.table({"a": [1.5, None]})
    >>> deserialise(serialise(table)).equals(table)
    True
    >>> sink = pa.BufferOutputStream()
    >>> with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="lz4")) as writer:
    ...     writer.write_table(table)
    >>> deserialise(bytes(sink.getvalue())).equals(table)
    True
    """
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def detached(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` in memory of its own.

    A table read by :func:`deserialise` shares the stored bytes' buffer: keeping any one of
    its columns keeps the whole stored batch (every column) alive. Copy what must outlive
    the read.

    >>> stored = deserialise(serialise(pa.table({"a": ["x", None]}))).column("a")
    >>> own = detached(stored)
    >>> own.equals(stored), own.chunk(0).buffers()[2].address != stored.chunk(0).buffers()[2].address
    (True, True)
    """
    memory = pa.default_cpu_memory_manager()
    return pa.chunked_array([chunk.copy_to(memory) for chunk in column.chunks], column.type)


def _as_json(column: pa.ChunkedArray, field: pa.Field) -> pa.ChunkedArray:
    """A feature column as JSON texts (for joining it with a column of another kind)."""
    if is_json_field(field) or column.type == pa.null():
        return column.cast(pa.string())
    return pa.chunked_array([pa.array([_json_text(value) for value in column.to_pylist()], pa.string())])


def combine(tables: Sequence[pa.Table]) -> pa.Table:
    """Stored-format tables as one: each feature keeps its type when the parts agree (numbers widen
    to float), else becomes JSON texts; a feature missing from a part is null there."""
    tables = [table for table in tables if table.num_rows] or list(tables[:1])
    if not tables:
        return pa.schema(list(OUTPUT_TYPES.items())).empty_table()
    if len(tables) == 1:
        return tables[0]
    columns: dict[str, list[tuple[pa.Field, pa.ChunkedArray] | None]] = {}
    for index, table in enumerate(tables):
        for field, column in zip(table.schema, table.columns, strict=True):
            columns.setdefault(field.name, [None] * len(tables))[index] = (field, column)
    arrays, fields = [], []
    for name, parts in columns.items():
        present = [part for part in parts if part is not None]
        kinds = {part[1].type for part in present} - {pa.null()}
        json_values = any(is_json_field(field) for field, _ in present)
        if not json_values and kinds <= {pa.int64(), pa.float64()} and len(kinds) == 2:
            kinds = {pa.float64()}
        if len(kinds) > 1 or json_values:
            kind, json_values = pa.string(), True
        else:
            kind = next(iter(kinds), pa.null())
        chunks: list[pa.Array] = []
        for table, part in zip(tables, parts, strict=True):
            if part is None:
                chunks.append(pa.nulls(table.num_rows, kind))
                continue
            field, column = part
            column = _as_json(column, field) if json_values else column.cast(kind)
            chunks.extend(column.chunks)
        field = present[0][0]
        fields.append(pa.field(name, kind, metadata=_JSON_FIELD_METADATA if json_values else field.metadata))
        arrays.append(pa.chunked_array(chunks, kind))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def newest(columns: Iterable[pa.ChunkedArray]) -> datetime | None:
    """The newest timestamp among ``columns`` (None: all empty)."""
    values = [pc.max(column).as_py() for column in columns if len(column)]
    found = [value for value in values if value is not None]
    return max(found) if found else None


def in_range(table: pa.Table, start: datetime, end: datetime) -> pa.Table:
    """The rows of ``table`` with ``start <= event_time < end``."""
    events = table.column("event_time")
    if not len(events):
        return table
    low, high = pc.min(events).as_py(), pc.max(events).as_py()
    if low >= start and high < end:
        return table
    keep = pc.and_(pc.greater_equal(events, pa.scalar(start, TIME_TYPE)), pc.less(events, pa.scalar(end, TIME_TYPE)))
    return table.filter(keep)
