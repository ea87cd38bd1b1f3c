"""One batch of records -> the projections' tables and offsets, inside the caller's transaction.

Decode once; an undecodable record, or one whose envelope cannot be keyed, is
poison for every projection. Each projection then applies the records at or
after its stored offset and advances the offset in the same transaction. A
record that violates a model constraint (a check, a type, a value the
accounting refuses) is poison for that projection only: the batch is retried
in halves under savepoints until the bad records are alone, so one bad record
costs a few retries instead of one savepoint per record.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from kernel.consumer import RawRecord, UndecodableRecord, decode
from kernel.events import Event
from kernel.serde import EventCodec
from projections import offsets
from projections.readmodels.base import Context, Item
from projections.registry import Projection

DECODE_STAGE = "projections"
CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
# What a record can do wrong against a model; anything else (a lost connection) aborts the batch.
MODEL_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.errors.IntegrityError,
    psycopg.errors.DataError,
    ValueError,
    decimal.InvalidOperation,
)


@dataclass(frozen=True, slots=True)
class Poison:
    record: RawRecord
    stage: str
    reason: str
    error_type: str


class OffsetsMovedBack(RuntimeError):
    """Stored offsets went below what this reader already covered (a reset by someone else): re-read."""


@dataclass
class Decoded:
    items: list[Item]
    poison: list[Poison]


def _envelope_problem(event: Event) -> str | None:
    """Event ids key the tables and are matched as text: they must be UUIDs as PostgreSQL prints them."""
    if CANONICAL_UUID.match(event.event_id):
        return None
    return f"event id {event.event_id!r} is not a UUID in canonical form (lower-case, hyphenated)"


def decode_batch(codec: EventCodec, records: Sequence[RawRecord]) -> Decoded:
    """Typed events in log order; a second copy of an event id inside the batch is dropped here."""
    items: list[Item] = []
    poison: list[Poison] = []
    seen: set[str] = set()
    for record in records:
        try:
            event = decode(codec, record)
        except UndecodableRecord as exc:
            poison.append(Poison(record, DECODE_STAGE, exc.reason, "DecodeError"))
            continue
        problem = _envelope_problem(event)
        if problem:
            poison.append(Poison(record, DECODE_STAGE, problem, "BadEnvelope"))
        elif event.event_id not in seen:
            seen.add(event.event_id)
            items.append(Item(record, event))
    return Decoded(items, poison)


def _run(conn: psycopg.Connection, projection: Projection, items: Sequence[Item], context: Context) -> None:
    with conn.transaction():  # a savepoint inside the batch's transaction
        for step in projection.steps:
            step(conn, items, context)


def _isolate(conn: psycopg.Connection, projection: Projection, items: Sequence[Item], context: Context) -> list[Poison]:
    """Applies ``items`` in order; returns the ones the model refuses, found by halving."""
    if not items:
        return []
    try:
        _run(conn, projection, items, context)
        return []
    except MODEL_ERRORS as exc:
        if len(items) == 1:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return [Poison(items[0].record, f"projection:{projection.name}", reason, type(exc).__name__)]
    middle = len(items) // 2
    return _isolate(conn, projection, items[:middle], context) + _isolate(conn, projection, items[middle:], context)


def apply_batch(
    conn: psycopg.Connection,
    projections: Sequence[Projection],
    records: Sequence[RawRecord],
    decoded: Decoded,
    context: Context,
    covered_from: int,
) -> tuple[int, list[Poison]]:
    """Applies one partition's batch (``decoded`` by ``decode_batch``) to every projection.

    Returns (records applied, poison to dead-letter). ``covered_from`` is the first offset the reader asked for: a projection whose
    stored offset is below it would miss records, so that raises ``OffsetsMovedBack``.
    """
    topic, partition, last = records[0].topic, records[0].partition, records[-1].offset
    starts = {p.name: offsets.claim(conn, p.name, topic, partition) for p in projections}
    pending = [p for p in projections if starts[p.name] <= last]
    if not pending:
        return 0, []
    moved = {n: s for n, s in starts.items() if s < covered_from}
    if moved:
        raise OffsetsMovedBack(f"{topic}[{partition}]: stored offsets {moved} are below {covered_from}")
    lowest = min(starts[p.name] for p in pending)
    dead = [p for p in decoded.poison if p.record.offset >= lowest]
    applied = 0
    for projection in pending:
        mine = [i for i in decoded.items if i.record.offset >= starts[projection.name]]
        dead += _isolate(conn, projection, mine, context)
        last_time = max((i.event.event_time_ms for i in mine), default=None)
        offsets.advance(conn, projection.name, topic, partition, last + 1, len(mine), last_time)
        applied = max(applied, sum(1 for r in records if r.offset >= starts[projection.name]))
    return applied, dead
