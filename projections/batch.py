"""One batch of records -> the projections' tables and offsets, inside the caller's transaction.

Decode once; an undecodable record, or one whose envelope cannot be keyed, is
input we cannot read: poison for every projection, dead-lettered and passed.

A record that decodes but that a projection's model refuses (a check, a type,
a value the accounting refuses) is a bug of ours or of a producer. Passing it
would lose it from that read model for good, so it stops the projection
instead: the projection keeps the records before it, its offset stays on it,
and ``apply_batch`` reports a ``Refusal`` for the projector to raise once the
rest is committed. Only an ops decision recorded on the log
(``ProjectionRecordSkipped``) lets such a record pass, dead-lettered with the
decision's reason and actor.
"""

from __future__ import annotations

import decimal
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psycopg

from contract.events import Event, ProjectionRecordSkipped
from contract.serde import EventCodec
from eventlog.consumer import RawRecord, UndecodableRecord, decode
from oms.instruments import UnknownInstrument
from projections import offsets
from projections.readmodels.base import Context, Item
from projections.registry import Projection

DECODE_STAGE = "projections"
SKIPPED_BY_OPS = "SkippedByOps"
CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
# What a record can do wrong against a model: it stops the projection. Anything else (a lost connection) aborts the batch.
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


@dataclass(frozen=True, slots=True)
class Refusal:
    """A decoded record that ``projection``'s model refused and no ops decision skips."""

    projection: str
    item: Item
    error: str
    error_type: str


Skips = Mapping[tuple[str, int], ProjectionRecordSkipped]
"""(projection, offset) -> the ops decision to skip that record, for one batch's topic partition."""


@dataclass
class BatchResult:
    applied: int
    dead: list[Poison]
    refusals: list[Refusal]


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


def _first_refused(
    conn: psycopg.Connection, projection: Projection, items: Sequence[Item], context: Context, at: int = 0
) -> tuple[int, BaseException] | None:
    """Applies ``items`` in log order up to the first one the model refuses; returns its index and the error.

    Each slice runs under its own savepoint, so a slice that applies stays
    applied and a refused one leaves nothing. Halving (the whole list, then the
    first half, and the second half only once the first applied) finds the
    first refused record in about 2·log2(n) attempts instead of one savepoint
    per record. It finds that record so the error can name it, and so the
    records before it still commit: the projection stops exactly at it, with
    nothing after it applied (a later record may depend on the refused one).
    Committing that prefix rather than rolling the whole batch back leaves the
    tables in the state the refused record met, and the stored offset naming it.
    """
    if not items:
        return None
    try:
        _run(conn, projection, items, context)
        return None
    except UnknownInstrument:
        raise  # not the record's fault: its kernel's announcement is not read yet (the projector waits for it)
    except MODEL_ERRORS as exc:
        if len(items) == 1:
            return at, exc
    middle = len(items) // 2
    return _first_refused(conn, projection, items[:middle], context, at) or _first_refused(
        conn, projection, items[middle:], context, at + middle
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _apply_projection(
    conn: psycopg.Connection, projection: Projection, items: Sequence[Item], context: Context, skips: Skips
) -> tuple[Sequence[Item], list[Poison], Refusal | None]:
    """Applies one projection's items: (the items it consumed, the skipped ones to dead-letter, the refusal that stops it)."""
    dead: list[Poison] = []
    done = 0
    while (found := _first_refused(conn, projection, items[done:], context)) is not None:
        index, exc = found
        item = items[done + index]
        decision = skips.get((projection.name, item.record.offset))
        if decision is None:
            return items[: done + index], dead, Refusal(projection.name, item, _first_line(exc), type(exc).__name__)
        reason = (
            f"skipped by {decision.actor} (decision {decision.event_id}): {decision.reason}; "
            f"refused with {type(exc).__name__}: {_first_line(exc)}"
        )
        dead.append(Poison(item.record, f"projection:{projection.name}", reason, SKIPPED_BY_OPS))
        done += index + 1
    return items, dead, None


def apply_batch(
    conn: psycopg.Connection,
    projections: Sequence[Projection],
    records: Sequence[RawRecord],
    decoded: Decoded,
    context: Context,
    covered_from: int,
    skips: Skips | None = None,
) -> BatchResult:
    """Applies one partition's batch (``decoded`` by ``decode_batch``) to every projection.

    ``covered_from`` is the first offset the reader asked for: a projection whose
    stored offset is below it would miss records, so that raises ``OffsetsMovedBack``.
    A projection that meets a refused record without a decision in ``skips``
    advances its offset to that record, not past it; the others go on.
    """
    topic, partition, last = records[0].topic, records[0].partition, records[-1].offset
    starts = offsets.claim(conn, [p.name for p in projections], topic, partition)
    pending = [p for p in projections if starts[p.name] <= last]
    if not pending:
        return BatchResult(0, [], [])
    moved = {n: s for n, s in starts.items() if s < covered_from}
    if moved:
        raise OffsetsMovedBack(f"{topic}[{partition}]: stored offsets {moved} are below {covered_from}")
    dead: list[Poison] = []
    refusals: list[Refusal] = []
    moves: list[offsets.Advance] = []
    applied = 0
    reached = 0
    # Both lists are in log order, so each projection's slice of them is found by bisection, not by a scan.
    record_offsets = [r.offset for r in records]
    item_offsets = [i.record.offset for i in decoded.items]
    item_times = [i.event.event_time_ms for i in decoded.items]
    for projection in pending:
        start = starts[projection.name]
        first = bisect_left(item_offsets, start)
        mine = decoded.items[first:]
        consumed, skipped, refusal = _apply_projection(conn, projection, mine, context, skips or {})
        end = last + 1 if refusal is None else refusal.item.record.offset
        last_time = max(item_times[first : first + len(consumed)], default=None)
        # Records passed, copies and poison included: a count of consumed items would hang on where batches break
        # (a copy is dropped inside a batch, kept across two), so a crash would change it.
        passed = bisect_left(record_offsets, end) - bisect_left(record_offsets, start)
        moves.append(offsets.Advance(projection.name, end, passed, last_time))
        dead += skipped
        refusals += [refusal] if refusal else []
        applied = max(applied, passed)
        reached = max(reached, end)
    offsets.advance(conn, topic, partition, moves)
    # Unreadable records are dead-lettered once some projection passes them; a stopped one meets them again later.
    lowest = min(starts[p.name] for p in pending)
    dead += [p for p in decoded.poison if lowest <= p.record.offset < reached]
    return BatchResult(applied, sorted(dead, key=lambda p: p.record.offset), refusals)
