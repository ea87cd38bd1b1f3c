"""Bulk writes: COPY rows into a temporary staging table, then one INSERT ... SELECT.

COPY is the fastest way into PostgreSQL; the INSERT from the stage keeps the
table's unique keys in charge (ON CONFLICT DO NOTHING) and says which rows it
really added (RETURNING), which is what deduplication by event id needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg


def _stage(conn: psycopg.Connection, table: str) -> str:
    """A session-local table with ``table``'s columns (created on first use, emptied at commit).

    Created with IF NOT EXISTS every time rather than remembered: a rolled-back
    savepoint may have taken the table away with it.
    """
    name = f"_stage_{table}"
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    return name


def insert_new(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    returning: str | None = None,
) -> list[Any]:
    """Inserts the rows whose unique keys are new; returns ``returning`` of the rows it added."""
    stage = _stage(conn, table)
    names = ", ".join(f'"{c}"' for c in columns)
    with conn.cursor() as cur:
        with cur.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        tail = f" RETURNING {returning}" if returning else ""
        cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} ON CONFLICT DO NOTHING{tail}")
        added = [r[0] for r in cur.fetchall()] if returning else []
        cur.execute(f"DELETE FROM {stage}")  # the same table may be staged again before the commit
    return added
