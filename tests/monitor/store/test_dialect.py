"""The dialect boundary's bulk reads, on both stores: every row once, values exact, one snapshot."""

from __future__ import annotations

import pyarrow as pa
import pytest
from sqlalchemy import text

from monitor.store.dialect import dialect_of
from monitor.store.window_reader import snapshot_connection

TYPES = {"id": pa.string(), "label": pa.string(), "value": pa.float64()}
# More rows than one of PostgreSQL's CSV chunks (16,384), so several chunks are joined.
ROWS = 40_000
NUMBERS = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {rows}) "
    "SELECT 'p' || x, CASE WHEN x - x / 3 * 3 = 0 THEN NULL WHEN x - x / 3 * 3 = 1 THEN '' ELSE 'l,\"' || x END, "
    "CASE WHEN x - x / 5 * 5 = 0 THEN NULL ELSE x / 8.0 END FROM n"
)


def test_table_reads_every_row_once_with_exact_values(engine):
    dialect = dialect_of(engine)
    with engine.connect() as connection:
        table = dialect.table(connection, NUMBERS.format(rows=ROWS), (), TYPES)
    assert table.schema == pa.schema(list(TYPES.items()))
    rows = sorted(zip(*(table.column(name).to_pylist() for name in TYPES), strict=True),
                  key=lambda row: int(row[0][1:]))
    assert [row[0] for row in rows] == [f"p{x}" for x in range(1, ROWS + 1)]
    assert [row[1] for row in rows] == [None if x % 3 == 0 else "" if x % 3 == 1 else f'l,"{x}'
                                        for x in range(1, ROWS + 1)]
    assert [row[2] for row in rows] == [None if x % 5 == 0 else x / 8 for x in range(1, ROWS + 1)]


def test_table_of_no_rows_has_the_columns(engine):
    with engine.connect() as connection:
        table = dialect_of(engine).table(connection, NUMBERS.format(rows=1) + " WHERE x > 1", (), TYPES)
    assert table.num_rows == 0 and table.schema == pa.schema(list(TYPES.items()))


@pytest.mark.parametrize("fail", [False, True])
def test_alongside_reads_the_snapshot_of_the_transaction(engine, fail):
    """PostgreSQL reads alongside on a second session that imports the snapshot; SQLite on the same one."""
    dialect = dialect_of(engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (x INTEGER)"))
        connection.execute(text("INSERT INTO notes VALUES (1)"))

    def read(other):
        if fail:
            raise LookupError("the read failed")
        return dialect.query(other, "SELECT count(*) FROM notes")[0][0]

    with snapshot_connection(engine) as connection, connection.begin():
        assert dialect.query(connection, "SELECT count(*) FROM notes")[0][0] == 1  # the snapshot is taken
        with engine.begin() as writer:
            writer.execute(text("INSERT INTO notes VALUES (2)"))
        with dialect.alongside(connection, read) as result:
            if fail:
                with pytest.raises(LookupError, match="the read failed"):
                    result()
            else:
                assert result() == 1
    with engine.connect() as connection:
        assert dialect.query(connection, "SELECT count(*) FROM notes")[0][0] == 2


def test_sqlite_inserts_a_batch_in_one_statement(engine):
    """SQLite's bulk writes run one statement per batch, not one per row: the sqlite3 module
    releases the GIL around each statement, and ingestion's writer thread would wait for it
    again after every row while the consumer thread runs Python. (PostgreSQL's are one
    statement too; psycopg has no statement trace to count them with.)"""
    if engine.dialect.name != "sqlite":
        pytest.skip("counted with sqlite3's trace callback")
    dialect = dialect_of(engine)
    columns = ("k", "x", "t")
    rows = [(f"k{i}", i / 7 if i % 3 else None, "a\"\n\u00e9\t" * (i % 2)) for i in range(500)]
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE bulk (id INTEGER PRIMARY KEY, k TEXT UNIQUE, x REAL, t TEXT)"))
        statements: list[str] = []
        connection.connection.driver_connection.set_trace_callback(statements.append)
        inserted = dialect.insert_rows(connection, "bulk", columns, rows, skip_existing=("k",))
        replayed = dialect.insert_rows(connection, "bulk", columns, [("new", 1.5, "z"), rows[3]], skip_existing=("k",))
        updated = dialect.upsert_rows(connection, "bulk", columns, [("k1", 0.1, "u"), ("k2", None, "v")], key=("k",),
                                      update="x = excluded.x")
        connection.connection.driver_connection.set_trace_callback(None)
        back = connection.execute(text("SELECT k, x, t FROM bulk ORDER BY id")).all()
    assert inserted == list(range(500)) and replayed == [0] and updated == 2
    assert sum(statement.startswith("INSERT") for statement in statements) == 3
    expected = {row[0]: row for row in [*rows, ("new", 1.5, "z")]}
    expected["k1"], expected["k2"] = ("k1", 0.1, rows[1][2]), ("k2", None, rows[2][2])
    assert [tuple(row) for row in back] == list(expected.values())
