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

SWAP_ATTEMPTS = 20
SWAP_LOCK_TIMEOUT = "2s"
SWAP_BACKOFF_S = 0.5


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

    The swap needs the old tables' exclusive locks; while it waits, new readers
    queue behind it. A bounded lock wait (retried) keeps a long reader, such as
    a big export, from stalling every other reader behind the swap. A reader that
    holds one table and waits for another can deadlock with the swap, which takes
    the tables one by one; PostgreSQL then rolls the swap back whole, so it is
    retried like a lock timeout.
    """
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            _swap_once(url, schema, build, projections, whole)
            return
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            if attempt == SWAP_ATTEMPTS:
                raise
            time.sleep(SWAP_BACKOFF_S * attempt)


def _swap_once(url: str, schema: str, build: str, projections: Sequence[Projection], whole: bool) -> None:
    checked_schema(schema)
    retired = checked_schema(schema + RETIRED_SUFFIX)
    with connect(url, "public") as conn, conn.transaction():
        conn.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"aitrader-swap-{schema}",))
        conn.execute(f'DROP SCHEMA IF EXISTS "{retired}" CASCADE')
        if whole or not schema_exists(conn, schema):
            if schema_exists(conn, schema):
                conn.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{retired}"')
            conn.execute(f'ALTER SCHEMA "{build}" RENAME TO "{schema}"')
        else:
            _move_tables(conn, schema, build, retired, projections)
            conn.execute(f'DROP SCHEMA "{build}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{retired}" CASCADE')


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
