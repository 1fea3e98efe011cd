"""Every difference between SQLite and PostgreSQL that driftwatch's bulk reads and writes meet.

The rest of the store speaks to one :class:`StoreDialect` (``dialect_of(engine)``),
the way an HTTP client keeps its transports behind one boundary:

- ``upsert``: SQLAlchemy's ``INSERT ... ON CONFLICT`` construct of the backend;
- ``insert_rows`` / ``upsert_rows``: many rows into a table on the driver's own cursor,
  as one ``INSERT ... SELECT`` from a JSON array of the rows per batch (``_json_insert``,
  ``_jsonb_insert``: one statement, one parameter made by msgspec, no Python per row),
  optionally skipping rows whose key exists and saying which were inserted (SQLite: by
  the new rowids, one writer at a time; PostgreSQL: ``RETURNING`` the keys, sent back
  only when a row was skipped), or updating them;
- ``time_param``: a timestamp as the driver binds it for hand-written SQL (SQLite
  stores text, :data:`monitor.store.row_format.TIME_FORMAT`), ``time_params`` many at once;
- ``query``: hand-written SQL (``{p}`` placeholders) straight on the driver's cursor
  (no SQLAlchemy row per result row); ``table``: the same into Arrow columns (PostgreSQL
  writes the rows as CSV text, thousands of rows per result value, parsed by Arrow's
  reader: no Python object per row or value; SQLite converts a block of rows at a time,
  so only one block's row tuples are alive at once); ``alongside``: a read started in the
  same snapshot while the caller goes on (PostgreSQL: a second session importing the
  exported snapshot, in another thread; SQLite: on the same connection, when its result
  is asked for); and ``blobs``: large binary columns (SQLite
  reads each as an incremental blob, about ten times faster than ``SELECT`` for a
  blob spanning thousands of overflow pages; PostgreSQL sends bytea in binary);
- ``snapshot``/``immediate``: a read that sees one snapshot (REPEATABLE READ on
  PostgreSQL; SQLite's WAL readers already do) and a write transaction that takes
  the write lock at BEGIN (SQLite; PostgreSQL locks rows as it goes);
- ``bucket_sql``: an event time's window number (``floor(epoch / size)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any, Final, TypeVar

import msgspec
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, Engine, String, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.store.row_format import TIME_TYPE, parse_time_text, time_text, time_texts
from monitor.store.tables import metadata

__all__ = ["StoreDialect", "dialect_of"]

T = TypeVar("T")

_BLOCK_ROWS: Final = 65_536  # rows converted to Arrow at a time (SQLite)
_SNAPSHOT_ID: Final = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")
# Rows and bytes per bulk-insert statement: a batch of ingestion is one; a large reference set
# or very wide rows several (PostgreSQL's jsonb holds at most 256 MB, SQLite a 1 GB text).
_JSON_ROWS: Final = 20_000
_JSON_BYTES: Final = 64 * 1024 * 1024
# Rows per CSV chunk (PostgreSQL's table): a value is at most 1 GB, so rows may average 64 KB.
_CHUNK_ROWS: Final = 16_384


def _csv_field(column: str, kind: pa.DataType) -> str:
    """PostgreSQL SQL writing ``column`` as one CSV field that Arrow's reader reads as ``kind``."""
    if kind == pa.string():
        return f"""coalesce('"' || replace({column}, '"', '""') || '"', '')"""
    if kind in (pa.float64(), pa.int64(), TIME_TYPE):
        return f"coalesce({column}::text, '')"
    raise ValueError(f"no CSV field for Arrow type {kind}")


def _driver(connection: Connection) -> Any:
    driver = connection.connection.driver_connection
    assert driver is not None
    return driver


class StoreDialect:
    """The interface (and the parts both backends share)."""

    name: str = ""
    placeholder: str = "?"

    def sql(self, text: str) -> str:
        """``{p}`` placeholders as the driver wants them."""
        return text.replace("{p}", self.placeholder)

    def upsert(self, table: Table) -> PgInsert | SqliteInsert:
        raise NotImplementedError

    def time_param(self, moment: datetime) -> Any:
        raise NotImplementedError

    def time_params(self, moments: Sequence[datetime]) -> Sequence[Any]:
        """:meth:`time_param` of each of ``moments`` (aware datetimes)."""
        raise NotImplementedError

    def parse_time(self, value: Any) -> datetime | None:
        raise NotImplementedError

    def snapshot(self, engine: Engine) -> Connection:
        return engine.connect()

    def immediate(self, engine: Engine) -> Connection:
        return engine.connect()

    @contextmanager
    def alongside(self, connection: Connection, read: Callable[[Connection], T]) -> Iterator[Callable[[], T]]:
        """Start ``read`` in ``connection``'s snapshot; the context gives a function returning its result.

        PostgreSQL runs ``read`` at once in another thread, on a second session that imports the
        transaction's exported snapshot, so its server work runs in another backend process, on
        another core, while the caller goes on. SQLite runs it on ``connection`` when its result
        is asked for (one file's snapshot cannot be shared by two connections, and a second thread's
        statements on the same connection would hold up each other's row steps).
        ``read`` gets a connection fit for :meth:`query`, :meth:`table` and :meth:`blobs` only.
        """
        yield lambda: read(connection)

    def query(self, connection: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def table(self, connection: Connection, sql: str, params: Sequence[Any],
              types: Mapping[str, pa.DataType]) -> pa.Table:
        """The rows of ``sql`` as an Arrow table with the columns (in order) and types of ``types``.

        A time column is read as :data:`~monitor.store.row_format.TIME_TYPE` on PostgreSQL and
        as the stored text on SQLite (:meth:`parse_time` reads it).
        """
        raise NotImplementedError

    def blobs(self, connection: Connection, table: str, column: str, where: str,
              params: Sequence[Any] = ()) -> list[bytes]:
        raise NotImplementedError

    def insert_rows(self, connection: Connection, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]], *, skip_existing: Sequence[str] = ()) -> list[int]:
        """Insert ``rows``; with ``skip_existing`` (a unique key), rows whose key exists are skipped.

        Returns the indexes (into ``rows``) of the rows inserted. ``rows`` must not
        repeat a key; on SQLite, call it in an :meth:`immediate` transaction. Values are
        text, numbers, booleans or None (rows travel as JSON: bytes would arrive as base64);
        a time is :meth:`time_param`'s.
        """
        raise NotImplementedError

    def upsert_rows(self, connection: Connection, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]], *, key: Sequence[str], update: str) -> int:
        """Insert ``rows``, or on a duplicate ``key`` run ``ON CONFLICT DO UPDATE SET {update}``.

        Returns how many rows were inserted or updated. ``rows`` must not repeat a key.
        """
        raise NotImplementedError

    def bucket_sql(self, column: str, size: str) -> str:
        raise NotImplementedError


class _SQLite(StoreDialect):
    name = "sqlite"
    placeholder = "?"

    def upsert(self, table: Table) -> PgInsert | SqliteInsert:
        return sqlite_insert(table)

    def time_param(self, moment: datetime) -> Any:
        return time_text(moment)

    def time_params(self, moments: Sequence[datetime]) -> Sequence[Any]:
        return time_texts(moments)

    def parse_time(self, value: Any) -> datetime | None:
        return None if value is None else parse_time_text(value)

    def immediate(self, engine: Engine) -> Connection:
        return engine.connect().execution_options(sqlite_immediate=True)

    def query(self, connection: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = _driver(connection).cursor()
        try:
            return list(cursor.execute(self.sql(sql), tuple(params)).fetchall())
        finally:
            cursor.close()

    def table(self, connection: Connection, sql: str, params: Sequence[Any],
              types: Mapping[str, pa.DataType]) -> pa.Table:
        kinds = [pa.string() if kind == TIME_TYPE else kind for kind in types.values()]
        cursor = _driver(connection).cursor()
        blocks = []
        try:
            cursor.execute(self.sql(sql), tuple(params))
            while rows := cursor.fetchmany(_BLOCK_ROWS):
                columns = list(zip(*rows, strict=True))
                del rows
                blocks.append(pa.record_batch([pa.array(values, kind) for values, kind in zip(columns, kinds,
                                                                                              strict=True)],
                                              names=list(types)))
        finally:
            cursor.close()
        return pa.Table.from_batches(blocks, schema=pa.schema(zip(types, kinds, strict=True)))

    def blobs(self, connection: Connection, table: str, column: str, where: str,
              params: Sequence[Any] = ()) -> list[bytes]:
        driver = _driver(connection)
        found = []
        for (row_id,) in self.query(connection, f"SELECT id FROM {table} WHERE {where} ORDER BY id", params):
            with driver.blobopen(table, column, row_id, readonly=True) as blob:
                found.append(blob.read())
        return found

    def insert_rows(self, connection: Connection, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]], *, skip_existing: Sequence[str] = ()) -> list[int]:
        if not rows:
            return []
        driver = _driver(connection)
        cursor = driver.cursor()
        conflict = f" ON CONFLICT ({', '.join(skip_existing)}) DO NOTHING" if skip_existing else ""
        (high,) = cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
        before = driver.total_changes
        sql = _json_insert(table, tuple(columns)) + conflict
        for _, _, payload in _json_parts(rows):
            cursor.execute(sql, (payload,))
        if driver.total_changes - before == len(rows):
            return list(range(len(rows)))
        # One writer at a time: the new rows are the ids above the highest before.
        keys = [columns.index(name) for name in skip_existing]
        inserted = set(cursor.execute(f"SELECT {', '.join(skip_existing)} FROM {table} WHERE id > ?",
                                      (high,)).fetchall())
        return [index for index, row in enumerate(rows) if tuple(row[key] for key in keys) in inserted]

    def upsert_rows(self, connection: Connection, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]], *, key: Sequence[str], update: str) -> int:
        if not rows:
            return 0
        driver = _driver(connection)
        before = driver.total_changes
        sql = _json_insert(table, tuple(columns)) + f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {update}"
        cursor = driver.cursor()
        for _, _, payload in _json_parts(rows):
            cursor.execute(sql, (payload,))
        return int(driver.total_changes - before)

    def bucket_sql(self, column: str, size: str) -> str:
        seconds = f"CAST(strftime('%s', {column}) AS INTEGER)"
        # Floor division that stays right before 1970 (SQLite's / truncates toward zero).
        return f"(({seconds}) - ((({seconds}) % {size}) + {size}) % {size}) / {size}"


class _Postgres(StoreDialect):
    name = "postgresql"
    placeholder = "%s"

    def upsert(self, table: Table) -> PgInsert | SqliteInsert:
        return pg_insert(table)

    def time_param(self, moment: datetime) -> Any:
        return moment

    def time_params(self, moments: Sequence[datetime]) -> Sequence[Any]:
        return moments

    def parse_time(self, value: Any) -> datetime | None:
        return value if value is None or isinstance(value, datetime) else datetime.fromisoformat(value)

    def snapshot(self, engine: Engine) -> Connection:
        return engine.connect().execution_options(isolation_level="REPEATABLE READ")

    @contextmanager
    def alongside(self, connection: Connection, read: Callable[[Connection], T]) -> Iterator[Callable[[], T]]:
        (snapshot,) = self.query(connection, "SELECT pg_export_snapshot()")[0]
        if not _SNAPSHOT_ID.fullmatch(snapshot):
            raise ValueError(f"unexpected snapshot id {snapshot!r} from pg_export_snapshot()")
        with (self.snapshot(connection.engine) as other, other.begin(),
              ThreadPoolExecutor(1, thread_name_prefix="driftwatch-alongside") as thread):
            other.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            yield thread.submit(read, other).result

    def query(self, connection: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with _driver(connection).cursor() as cursor:
            return list(cursor.execute(self.sql(sql), tuple(params)).fetchall())

    def table(self, connection: Connection, sql: str, params: Sequence[Any],
              types: Mapping[str, pa.DataType]) -> pa.Table:
        # The server writes the rows as CSV text, a few thousand rows per result value
        # (string_agg), sent as bytes: the driver makes one object per chunk, not one per
        # row (COPY's rows cost ~1 us of Python each, GIL held). NULL is an unquoted empty
        # field, a text a quoted one; floats print their shortest exact form (read back to
        # the same double), times their offset.
        fields = " || ',' || ".join(_csv_field(f"c{index}", kind) for index, kind in enumerate(types.values()))
        names = ", ".join(f"c{index}" for index in range(len(types)))
        chunks = (f"SELECT convert_to(string_agg(line, E'\\n'), 'UTF8') FROM (SELECT {fields} AS line, "
                  f"(row_number() OVER ()) / {_CHUNK_ROWS} AS chunk FROM ({self.sql(sql)}) AS q({names})) AS r "
                  "GROUP BY chunk")
        with _driver(connection).cursor() as cursor:
            found = [chunk for (chunk,) in cursor.execute(chunks, tuple(params), binary=True).fetchall()]
        if not found:  # Arrow's reader refuses an empty file
            return pa.schema(list(types.items())).empty_table()
        # Every line ends with a newline: Arrow's reader rejects an empty last field at the very end.
        data = b"\n".join([*found, b""])
        return pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(column_names=list(types)),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(column_types=dict(types), null_values=[""], strings_can_be_null=True,
                                                  quoted_strings_can_be_null=False),
        )

    def blobs(self, connection: Connection, table: str, column: str, where: str,
              params: Sequence[Any] = ()) -> list[bytes]:
        sql = self.sql(f"SELECT {column} FROM {table} WHERE {where} ORDER BY id")
        with _driver(connection).cursor() as cursor:
            return [bytes(data) for (data,) in cursor.execute(sql, tuple(params), binary=True).fetchall()]

    def insert_rows(self, connection: Connection, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]], *, skip_existing: Sequence[str] = ()) -> list[int]:
        if not rows:
            return []
        keys = ", ".join(skip_existing) or "1"
        conflict = f" ON CONFLICT ({keys}) DO NOTHING" if skip_existing else ""
        # The keys of the rows inserted come back only when some row was skipped.
        sql = (f"WITH new AS ({_jsonb_insert(table, tuple(columns))}{conflict} RETURNING {keys}) "
               f"SELECT count(*), CASE WHEN count(*) < %s THEN jsonb_agg(jsonb_build_array({keys})) END FROM new")
        where = [columns.index(name) for name in skip_existing]
        inserted: list[int] = []
        with _driver(connection).cursor() as cursor:
            for start, part, payload in _json_parts(rows):
                found, new_keys = cursor.execute(sql, (payload.decode("utf-8"), len(part))).fetchone()
                if found == len(part):
                    inserted.extend(range(start, start + len(part)))
                    continue
                new = {tuple(key) for key in new_keys or ()}
                inserted.extend(start + index for index, row in enumerate(part)
                                if tuple(row[key] for key in where) in new)
        return inserted

    def upsert_rows(self, connection: Connection, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]], *, key: Sequence[str], update: str) -> int:
        if not rows:
            return 0
        sql = _jsonb_insert(table, tuple(columns)) + f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {update}"
        changed = 0
        with _driver(connection).cursor() as cursor:
            for _, _, payload in _json_parts(rows):
                cursor.execute(sql, (payload.decode("utf-8"),))  # text: psycopg would send bytes as bytea
                changed += cursor.rowcount
        return changed

    def bucket_sql(self, column: str, size: str) -> str:
        return f"floor(extract(epoch from {column}) / {size})::bigint"


_json_rows: Final = msgspec.json.Encoder().encode
_POSTGRESQL: Final = postgresql.dialect()  # type: ignore[no-untyped-call]


@cache
def _json_insert(table: str, columns: tuple[str, ...]) -> str:
    """SQLite: insert the rows of one JSON array parameter (an array of arrays, in ``columns``' order).

    One statement for a whole batch instead of ``executemany``'s statement per row: the
    sqlite3 module releases the GIL around every step, so each row of an ``executemany``
    waits for the GIL again, up to the interpreter's switch interval (5 ms) while another
    thread (the consumer, decoding the next batch) runs Python. SQLite reads a JSON number
    back as the same double (shortest round-trip text, parsed by SQLite; a property test
    holds it to that); ``WHERE true`` lets an ``ON CONFLICT`` clause follow the ``SELECT``.
    (``json_extract`` with a literal path takes a third less time than ``value ->> i``.)

    >>> _json_insert("t", ("a", "b"))
    "INSERT INTO t (a, b) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?) WHERE true"
    """
    picks = ", ".join(f"json_extract(value, '$[{index}]')" for index in range(len(columns)))
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picks} FROM json_each(?) WHERE true"


@cache
def _jsonb_insert(table: str, columns: tuple[str, ...]) -> str:
    """PostgreSQL: insert the rows of one JSON array parameter, in its order, in one statement.

    The server parses the array (as jsonb: each value is then found without parsing
    again) and reads each value with its column type's input function: a number's
    shortest text gives back the same double, a time its microseconds; a JSON text
    (``features``) goes in as sent. Text columns take the text as it is, so a value too
    long for its column is refused, not cut. The client sends one parameter, made by
    msgspec in C: no Python per row (``COPY``'s rows each cost a Python call, and
    released the GIL at every buffer flush).

    >>> _jsonb_insert("labels", ("prediction_id", "label_numeric", "event_time"))  # doctest: +NORMALIZE_WHITESPACE
    'INSERT INTO labels (prediction_id, label_numeric, event_time) SELECT (e ->> 0), (e ->> 1)::FLOAT,
    (e ->> 2)::TIMESTAMP WITH TIME ZONE FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS r(e, n) ORDER BY n'
    """
    picks = ", ".join(f"(e ->> {index}){_pg_cast(table, name)}" for index, name in enumerate(columns))
    return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picks} "
            "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS r(e, n) ORDER BY n")


def _pg_cast(table: str, column: str) -> str:
    """The cast of a JSON value's text to ``column``'s PostgreSQL type (none for text)."""
    kind = metadata.tables[table].c[column].type
    if isinstance(kind, String):  # VARCHAR(n) and TEXT: a cast to VARCHAR(n) would cut a longer value
        return ""
    return "::" + kind.compile(dialect=_POSTGRESQL)


def _json_parts(rows: Sequence[Sequence[Any]]) -> Iterator[tuple[int, Sequence[Sequence[Any]], bytes]]:
    """``rows`` as JSON arrays of at most :data:`_JSON_ROWS` rows and :data:`_JSON_BYTES` bytes (a
    single larger row goes alone), one statement each: ``(first row's index, rows, array)``.

    >>> [(start, len(part), payload) for start, part, payload in _json_parts([("a", 1.5), ("b", None)])]
    [(0, 2, b'[["a",1.5],["b",null]]')]
    """
    pending = [(start, rows[start:start + _JSON_ROWS]) for start in range(0, len(rows), _JSON_ROWS)]
    while pending:
        start, part = pending.pop(0)
        payload = _json_rows(part)
        if len(payload) > _JSON_BYTES and len(part) > 1:
            half = len(part) // 2
            pending[:0] = [(start, part[:half]), (start + half, part[half:])]
            continue
        yield start, part, payload


_DIALECTS: Final = {"sqlite": _SQLite(), "postgresql": _Postgres()}


def dialect_of(bind: Engine | Connection) -> StoreDialect:
    """The store's dialect (SQLite or PostgreSQL)."""
    return _DIALECTS[bind.dialect.name]
