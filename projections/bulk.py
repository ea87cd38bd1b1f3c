"""Bulk writes of insert-only rows: COPY straight into the table, else through a staging table.

COPY is the fastest way into PostgreSQL. Most batches hold only new rows (a
rebuild's always do), so the rows are first copied straight into the table
under a savepoint: if that goes through, every row was new. If the table
refuses it (a unique key already there, or any other integrity or data error),
the savepoint rolls it back whole and the rows take the staging path: COPY
into a temporary table, then one INSERT ... SELECT that keeps the table's
unique keys in charge (ON CONFLICT DO NOTHING) and says which rows it really
added (RETURNING), which is what deduplication by event id needs. So the
result, and the error a refused row raises, are the staging path's; the direct
COPY only ever succeeds or steps aside.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

# What the table may refuse in the direct COPY; the staging path then decides (or raises) exactly as before.
STEP_ASIDE: tuple[type[psycopg.Error], ...] = (psycopg.errors.IntegrityError, psycopg.errors.DataError)


def _stage(conn: psycopg.Connection, table: str) -> str:
    """A session-local table with ``table``'s columns (created on first use, emptied at commit).

    Created with IF NOT EXISTS every time rather than remembered: a rolled-back
    savepoint may have taken the table away with it.
    """
    name = f"_stage_{table}"
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    return name


def _copy(cur: psycopg.Cursor, table: str, names: str, rows: Sequence[Sequence[Any]]) -> None:
    with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert_staged(conn: psycopg.Connection, table: str, names: str, rows: Sequence[Sequence[Any]], key: str | None) -> list[str]:
    stage = _stage(conn, table)
    with conn.cursor() as cur:
        _copy(cur, stage, names, rows)
        tail = f' RETURNING "{key}"::text' if key else ""
        cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} ON CONFLICT DO NOTHING{tail}")
        added = [r[0] for r in cur.fetchall()] if key else []
        cur.execute(f"DELETE FROM {stage}")  # the same table may be staged again before the commit
    return added


def insert_new(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    key: str | None = None,
) -> list[str]:
    """Inserts the rows whose unique keys are new; returns the ``key`` column, as text, of the rows it added.

    ``key`` must be one of ``columns`` whose values the rows carry as PostgreSQL
    prints them (event ids are canonical UUIDs, ``projections.batch`` checks
    that): after a direct COPY they are taken from the rows, not read back.
    """
    rows = list(rows)
    if not rows:
        return []
    names = ", ".join(f'"{c}"' for c in columns)
    try:
        with conn.transaction(), conn.cursor() as cur:  # a savepoint: a refused COPY leaves nothing behind
            _copy(cur, table, names, rows)
    except STEP_ASIDE:
        return _insert_staged(conn, table, names, rows, key)
    if key is None:
        return []
    at = list(columns).index(key)
    return [row[at] for row in rows]
