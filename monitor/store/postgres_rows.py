"""Stored rows from PostgreSQL by ``COPY ... TO STDOUT``: columns without a Python object per row.

The query's result streams as tab-separated CSV (quote character ``\\x01``, which
never occurs in JSON text, so the ``features`` JSON arrives verbatim) and pyarrow's
CSV reader turns each chunk into typed columns. The ``features`` column, joined by
newlines inside Arrow, is already newline-delimited JSON for
:func:`~monitor.store.feature_json.parse_feature_lines`. Parsing runs in a worker
thread (pyarrow releases the GIL) while the next chunk streams in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Connection

from monitor.store.feature_json import FeatureChunk, parse_feature_lines

__all__ = ["PostgresRows", "arrow_outputs_frame", "query_arrow", "features_as_lines", "read_postgres_rows"]

_COPY: Final = "COPY ({query}) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01')"
_QUOTE: Final = b"\x01"
_CHUNK_BYTES: Final = 24 << 20


@dataclass(frozen=True, slots=True)
class PostgresRows:
    """The parsed stream: output columns (Arrow), feature chunks, row count, newest ingested-at text."""

    outputs: pa.Table
    features: list[FeatureChunk]
    n_rows: int
    newest: str | None


@dataclass(frozen=True, slots=True)
class _Chunk:
    outputs: pa.Table
    features: FeatureChunk
    newest: str | None


def _row_end(buffer: bytearray) -> int:
    """Where the last complete CSV row of ``buffer`` ends (0: none yet).

    A row ends at a newline outside quotes; quotes (doubled inside values) come in
    pairs, so a newline is outside quotes when the quotes before it are even.
    """
    end = buffer.rfind(b"\n") + 1
    while end > 0 and buffer.count(_QUOTE, 0, end) % 2:
        end = buffer.rfind(b"\n", 0, end - 1) + 1
    return end


def parse_tab_text(data: bytes, types: Mapping[str, pa.DataType], *, newlines_in_values: bool = True) -> pa.Table:
    """Rows as the bulk reads write them: tab-separated, text quoted with ``\\x01``
    (doubled inside), NULL as an empty unquoted field. ``types``: the columns, in order.

    ``newlines_in_values=False`` is faster when no quoted value can hold a newline.
    """
    return pa_csv.read_csv(
        pa.BufferReader(data),
        read_options=pa_csv.ReadOptions(column_names=list(types), block_size=8 << 20),
        parse_options=pa_csv.ParseOptions(delimiter="\t", quote_char="\x01", double_quote=True,
                                          newlines_in_values=newlines_in_values),
        convert_options=pa_csv.ConvertOptions(column_types=dict(types), null_values=[""], strings_can_be_null=True,
                                              quoted_strings_can_be_null=False),
    )


def features_as_lines(column: pa.ChunkedArray) -> tuple[pa.Buffer, int]:
    """The JSON texts of ``column`` as one newline-delimited buffer (no copy per row)."""
    joined = pc.binary_join_element_wise(column, "", "\n").combine_chunks()
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)
    start, end = int(offsets[joined.offset]), int(offsets[joined.offset + len(joined)])
    return joined.buffers()[2].slice(start, end - start), len(joined)


def _parse(chunk: bytes, names: Sequence[str], types: Mapping[str, pa.DataType],
           feature_types: Mapping[str, str]) -> _Chunk:
    table = parse_tab_text(chunk, types, newlines_in_values=_QUOTE in chunk)
    text, n_rows = features_as_lines(table.column(names[0]))
    newest = pc.max(table.column(names[-1])).as_py()
    return _Chunk(outputs=table.select(list(names[1:-1])), features=parse_feature_lines(text, n_rows, feature_types),
                  newest=newest)


def _csv_field(column: str, kind: pa.DataType) -> str:
    if pa.types.is_string(kind):
        # Quoted with \x01 (doubled inside), so NULL (empty, unquoted) and '' differ.
        return (f"CASE WHEN {column} IS NULL THEN '' "
                f"ELSE E'\\x01' || replace({column}::text, E'\\x01', E'\\x01\\x01') || E'\\x01' END")
    return f"coalesce({column}::text, '')"  # float8 as text is exact (shortest round trip, PostgreSQL 12+)


def query_arrow(connection: Connection, sql: str, params: Sequence[Any], types: Mapping[str, pa.DataType]) -> pa.Table:
    """All rows of ``sql`` (whose columns are ``types``, in order) as one Arrow table.

    The server joins the rows into one tab-separated text (``string_agg``), so the
    client receives one value, not a message per row as ``COPY`` sends (which costs
    microseconds of Python per row). Meant for bounded results: labels of a window,
    one compaction step.
    """
    aliases = [f"c{index}" for index in range(len(types))]
    line = " || E'\\t' || ".join(_csv_field(f"q.{alias}", kind) for alias, kind in zip(aliases, types.values(),
                                                                                     strict=True))
    wrapped = f"SELECT string_agg({line}, E'\\n') FROM ({sql}) AS q({', '.join(aliases)})"
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute("SET LOCAL extra_float_digits = 3")
        cursor.execute(wrapped, params)
        row = cursor.fetchone()
    text = None if row is None else row[0]
    if not text:
        return pa.schema(list(types.items())).empty_table()
    return parse_tab_text(text.encode("utf-8"), types)


def read_postgres_rows(
    connection: Connection,
    sql: str,
    params: Sequence[Any],
    *,
    output_types: Mapping[str, pa.DataType],
    feature_types: Mapping[str, str],
) -> PostgresRows:
    """Stream ``sql`` (features JSON text, the ``output_types`` columns, ingested-at text) and parse it."""
    names = ["features", *output_types, "ingested_at"]
    types = {"features": pa.string(), **output_types, "ingested_at": pa.string()}
    driver = connection.connection.driver_connection
    assert driver is not None
    parsed: list[_Chunk] = []
    pending: deque[Future[_Chunk]] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-csv") as parser, \
            driver.cursor() as cursor, cursor.copy(_COPY.format(query=sql), params) as copy:
        buffer = bytearray()
        for block in copy:
            buffer += block
            if len(buffer) < _CHUNK_BYTES:
                continue
            end = _row_end(buffer)
            if end:
                pending.append(parser.submit(_parse, bytes(buffer[:end]), names, types, feature_types))
                del buffer[:end]
            while len(pending) > 2:
                parsed.append(pending.popleft().result())
        if buffer:
            pending.append(parser.submit(_parse, bytes(buffer), names, types, feature_types))
        parsed.extend(future.result() for future in pending)
    schema = pa.schema([(name, output_types[name]) for name in output_types])
    outputs = pa.concat_tables([chunk.outputs for chunk in parsed]) if parsed else schema.empty_table()
    newest = [chunk.newest for chunk in parsed if chunk.newest is not None]
    return PostgresRows(outputs=outputs, features=[chunk.features for chunk in parsed], n_rows=outputs.num_rows,
                        newest=max(newest) if newest else None)


def arrow_outputs_frame(table: pa.Table, float_columns: frozenset[str]) -> pd.DataFrame:
    """Output columns as :class:`~monitor.store.stored_rows.StoredRows` keeps them."""
    data: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name)
        if name in float_columns:
            data[name] = pd.Series(column.to_numpy(zero_copy_only=False), dtype="float64")
        else:
            data[name] = column.dictionary_encode().to_pandas()  # a categorical: few distinct values
    return pd.DataFrame(data, index=pd.RangeIndex(table.num_rows))
