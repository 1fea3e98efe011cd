"""Every difference between SQLite and PostgreSQL that driftwatch's bulk reads and writes meet.

The rest of the store speaks to one :class:`StoreDialect` (``dialect_of(engine)``),
the way an HTTP client keeps its transports behind one boundary:

- ``upsert``: SQLAlchemy's ``INSERT ... ON CONFLICT`` construct of the backend;
- ``insert_rows``: many rows into a table on the driver's own cursor (``COPY`` on
  PostgreSQL; on SQLite one ``INSERT ... SELECT`` from a JSON array of the rows, see
  ``_json_insert``), optionally skipping rows whose key exists
  and saying which were inserted (SQLite: by the new rowids, one writer at a time;
  PostgreSQL: ``COPY``, and on a duplicate key a staging table and
  ``INSERT ... ON CONFLICT DO NOTHING RETURNING``);
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
from typing import Any, Final, TypeVar

import msgspec
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.store.row_format import TIME_TYPE, parse_time_text, time_text, time_texts

__all__ = ["StoreDialect", "dialect_of"]

T = TypeVar("T")

_BLOCK_ROWS: Final = 65_536  # rows converted to Arrow at a time (SQLite)
_SNAPSHOT_ID: Final = re.compile(r"[0-9A-F]+(-[0-9A-F]+)+")
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
        repeat a key; on SQLite, call it in an :meth:`immediate` transaction.
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
        cursor.execute(_json_insert(table, columns) + conflict, (_json_rows(rows),))
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
        conflict = f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {update}"
        driver.cursor().execute(_json_insert(table, columns) + conflict, (_json_rows(rows),))
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
        import psycopg

        names = ", ".join(columns)
        cursor = _driver(connection).cursor()
        # Almost every batch is new rows: COPY them straight into the table. A
        # duplicate key makes the COPY fail; then (and only then) the rows go through
        # a staging table and INSERT ... ON CONFLICT DO NOTHING. (An explicit
        # savepoint: psycopg's transaction() would COMMIT the caller's transaction if
        # this were its first statement.)
        cursor.execute("SAVEPOINT dw_direct")
        try:
            _copy(cursor, table, names, rows)
        except psycopg.errors.UniqueViolation:
            if not skip_existing:
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT dw_direct")
        else:
            cursor.execute("RELEASE SAVEPOINT dw_direct")
            return list(range(len(rows)))
        staging = _staging(cursor, table)
        _copy(cursor, staging, f"{names}, _dw_row", [(*row, index) for index, row in enumerate(rows)])
        keys = ", ".join(skip_existing)
        cursor.execute(
            f"WITH new AS (INSERT INTO {table} ({names}) SELECT {names} FROM {staging} ORDER BY {keys} "
            f"ON CONFLICT ({keys}) DO NOTHING RETURNING {keys}) "
            f"SELECT s._dw_row FROM {staging} s JOIN new USING ({keys}) ORDER BY s._dw_row"
        )
        return [int(index) for (index,) in cursor.fetchall()]

    def upsert_rows(self, connection: Connection, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]], *, key: Sequence[str], update: str) -> int:
        if not rows:
            return 0
        names, keys = ", ".join(columns), ", ".join(key)
        cursor = _driver(connection).cursor()
        staging = _staging(cursor, table)
        _copy(cursor, staging, names, rows)
        # In key order, so two writers of overlapping rows wait for each other one way only.
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} ORDER BY {keys} "
                       f"ON CONFLICT ({keys}) DO UPDATE SET {update}")
        return int(cursor.rowcount)

    def bucket_sql(self, column: str, size: str) -> str:
        return f"floor(extract(epoch from {column}) / {size})::bigint"


_json_rows: Final = msgspec.json.Encoder().encode


def _json_insert(table: str, columns: Sequence[str]) -> str:
    """SQLite: insert the rows of one JSON array parameter (an array of arrays, in ``columns``' order).

    One statement for a whole batch instead of ``executemany``'s statement per row: the
    sqlite3 module releases the GIL around every step, so each row of an ``executemany``
    waits for the GIL again, up to the interpreter's switch interval (5 ms) while another
    thread (the consumer, decoding the next batch) runs Python. SQLite reads a JSON number
    back as the same double (shortest round-trip text, parsed by SQLite; a property test
    holds it to that); ``WHERE true`` lets an ``ON CONFLICT`` clause follow the ``SELECT``.
    (``json_extract`` with a literal path takes a third less time than ``value ->> i``.)

    >>> _json_insert("t", ["a", "b"])
    "INSERT INTO t (a, b) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?) WHERE true"
    """
    picks = ", ".join(f"json_extract(value, '$[{index}]')" for index in range(len(columns)))
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picks} FROM json_each(?) WHERE true"


def _staging(cursor: Any, table: str) -> str:
    """An empty temporary copy of ``table`` (plus ``_dw_row``) for this transaction.

    Created in the caller's transaction, not remembered: a rolled back batch takes it along.
    """
    staging = f"_dw_{table}"
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS, "
                   "_dw_row integer) ON COMMIT DELETE ROWS")
    cursor.execute(f"TRUNCATE {staging}")
    return staging


def _copy(cursor: Any, table: str, names: str, rows: Sequence[Sequence[Any]]) -> None:
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


_DIALECTS: Final = {"sqlite": _SQLite(), "postgresql": _Postgres()}


def dialect_of(bind: Engine | Connection) -> StoreDialect:
    """The store's dialect (SQLite or PostgreSQL)."""
    return _DIALECTS[bind.dialect.name]
