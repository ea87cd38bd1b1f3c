"""Rebuild read models from offset 0 into a fresh schema, then swap it in atomically.

The build runs in ``<schema>__build`` with the ordinary projector (so it is
itself exactly-once: a killed rebuild resumes from the build's own offsets).
The swap is one transaction, so readers see the old tables or the new ones,
never a half-built model:

* every projection: rename the live schema away, rename the build schema to
  the live name, drop the old one;
* some projections (``names``): move their tables and offset rows from the
  build schema into the live one, the old tables out and dropped.

A projector running against the live schema meanwhile carries on after the
swap from the new offsets (it re-reads stored offsets whenever they move).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg

from contract.topics import Namespace
from eventlog.consumer import LogReader
from projections.db import (
    RETIRED_SUFFIX,
    build_schema,
    checked_schema,
    connect,
    drop_schema,
    schema_exists,
)
from projections.migrate import upgrade_read_models
from projections.projector import DEFAULT_BATCH, BatchReport, Projector, Totals
from projections.readmodels.base import Context
from projections.registry import TOPICS, Projection, by_names

SWAP_PATIENCE_S = 120.0  # how long the swap goes on trying before the rebuild fails (its build is kept)
SWAP_LOCK_TIMEOUT = "2s"  # another swap of the same schema, a leftover retired schema
SWAP_LOCK_WINDOW_MS = 250  # the most the swap waits for readers while it holds a table
SWAP_BACKOFF_S = 0.05


@dataclass
class RebuildReport:
    build_schema: str
    projections: tuple[str, ...]
    totals: Totals
    swapped: bool


def records_to_read(bootstrap: str, namespace: Namespace, projections: Sequence[Projection]) -> int:
    """How many records a rebuild from offset 0 reads (each topic once), for a progress bar."""
    total = 0
    with LogReader(bootstrap) as reader:
        for spec in TOPICS:
            if any(p.reads(spec) for p in projections):
                total += sum(high - low for low, high in reader.watermarks(namespace.topic(spec)).values())
    return total


def prepare_build(url: str, schema: str, fresh: bool) -> str:
    """The build schema, migrated; kept as it is (a resumed build) unless ``fresh``."""
    build = build_schema(schema)
    if fresh:
        drop_schema(url, build)
    upgrade_read_models(url, build)
    return build


def swap(url: str, schema: str, build: str, projections: Sequence[Projection], whole: bool) -> None:
    """Puts the build's tables in place of the live ones in one transaction.

    Readers must never pay for the swap with an error. A reader that reads one
    table, then another, holds the first while it asks for the second; a swap
    that holds the second and waits for the first closes a circle, and
    PostgreSQL cancels whichever of the two began waiting first, often the
    reader. So the swap takes every table it will touch in one ``LOCK TABLE``
    before any DDL, and gives that statement less time than the server's
    ``deadlock_timeout``: a reader only waits for the swap once the statement
    has begun, so the swap gives up (and retries) before any reader's deadlock
    check runs. Once it holds them all it waits for no reader again. The bound
    also keeps a long reader, such as a big export, from stalling every other
    reader queued behind the swap. Under readers that keep the tables busy in
    conflicting orders most attempts give up (7 in 8 in
    ``tests/integration/test_projection_swap.py``), so it tries again at once,
    for ``SWAP_PATIENCE_S``.
    """
    deadline = time.monotonic() + SWAP_PATIENCE_S
    while True:
        try:
            _swap_once(url, schema, build, projections, whole)
            return
        except (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            if time.monotonic() >= deadline:
                raise
            time.sleep(SWAP_BACKOFF_S)


def _swap_once(url: str, schema: str, build: str, projections: Sequence[Projection], whole: bool) -> None:
    checked_schema(schema)
    retired = checked_schema(schema + RETIRED_SUFFIX)
    with connect(url, "public") as conn, conn.transaction():
        conn.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"aitrader-swap-{schema}",))
        conn.execute(f'DROP SCHEMA IF EXISTS "{retired}" CASCADE')
        live = schema_exists(conn, schema)
        if live:
            tables = _tables_of(conn, schema) if whole else _moved_tables(projections)
            _lock_all(conn, schema, tables)
        if whole or not live:
            if live:
                conn.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{retired}"')
            conn.execute(f'ALTER SCHEMA "{build}" RENAME TO "{schema}"')
        else:
            _move_tables(conn, schema, build, retired, projections)
            conn.execute(f'DROP SCHEMA "{build}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{retired}" CASCADE')


def _tables_of(conn: psycopg.Connection, schema: str) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.relname",
        (schema,),
    )
    return [name for (name,) in rows]


def _moved_tables(projections: Sequence[Projection]) -> list[str]:
    # The offsets table too: the swap replaces the moved projections' rows in it.
    return sorted({table for p in projections for table in p.tables} | {"projection_offsets"})


def _lock_all(conn: psycopg.Connection, schema: str, tables: Sequence[str]) -> None:
    """Every table exclusively, or ``QueryCanceled`` within half the server's deadlock check delay."""
    if not tables:
        return
    (deadlock_ms,) = conn.execute("SELECT setting::int FROM pg_settings WHERE name = 'deadlock_timeout'").fetchone()
    bound_ms = max(1, min(SWAP_LOCK_WINDOW_MS, deadlock_ms // 2))
    names = ", ".join(f'"{schema}"."{table}"' for table in tables)
    conn.execute(f"SET LOCAL statement_timeout = {bound_ms}")
    conn.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
    conn.execute("SET LOCAL statement_timeout = DEFAULT")


def _move_tables(conn: psycopg.Connection, schema: str, build: str, retired: str, projections: Sequence[Projection]) -> None:
    conn.execute(f'CREATE SCHEMA "{retired}"')
    for projection in projections:
        for table in projection.tables:
            conn.execute(f'ALTER TABLE "{schema}"."{table}" SET SCHEMA "{retired}"')
            conn.execute(f'ALTER TABLE "{build}"."{table}" SET SCHEMA "{schema}"')
    names = [p.name for p in projections]
    conn.execute(f'DELETE FROM "{schema}".projection_offsets WHERE projection = ANY(%s)', (names,))
    conn.execute(
        f'INSERT INTO "{schema}".projection_offsets SELECT * FROM "{build}".projection_offsets WHERE projection = ANY(%s)',
        (names,),
    )


def rebuild(
    bootstrap: str,
    url: str,
    schema: str,
    namespace: Namespace,
    names: Sequence[str] | None = None,
    context: Context | None = None,
    batch_size: int = DEFAULT_BATCH,
    fresh: bool = False,
    on_batch: Callable[[BatchReport], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> RebuildReport:
    """Projects the whole log into the build schema, then swaps; stopped early, it leaves the build to resume."""
    projections = by_names(names)
    build = prepare_build(url, schema, fresh)
    projector = Projector(bootstrap, url, build, namespace, projections, context, batch_size)
    totals = projector.run(stop_at_end=True, should_stop=should_stop, on_batch=on_batch)
    if should_stop():
        return RebuildReport(build, tuple(p.name for p in projections), totals, swapped=False)
    swap(url, schema, build, projections, whole=not names)
    return RebuildReport(build, tuple(p.name for p in projections), totals, swapped=True)
