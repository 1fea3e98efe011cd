"""Regenerate ``sql/schema.sql`` (PostgreSQL) and ``sql/schema.sqlite.sql`` from the tables.

    python -m monitor.store.render_sql
"""

from __future__ import annotations

from pathlib import Path

from monitor.store.schema import render_schema_sql

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
FILES = {"schema.sql": "postgresql", "schema.sqlite.sql": "sqlite"}


def main() -> None:
    for name, dialect in FILES.items():
        (SQL_DIR / name).write_text(render_schema_sql(dialect))
        print(f"wrote {SQL_DIR / name}")


if __name__ == "__main__":
    main()
