"""``projection_offsets``: the next offset each projection applies, per topic partition.

Rows are read and advanced inside the batch's transaction, locked with FOR
UPDATE, so the stored offset always describes exactly what the tables hold,
and two projectors that run by mistake at once apply each record once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg


def claim(conn: psycopg.Connection, projections: Sequence[str], topic: str, partition: int) -> dict[str, int]:
    """Each projection's next offset to apply, its row locked until the transaction ends.

    One round trip for all of them (a pipeline): under load every round trip
    waits for a busy server, and a batch claims one row per projection. The rows
    are locked in name order, the same order for every projector.
    """
    with conn.pipeline():
        conn.execute(
            "INSERT INTO projection_offsets (projection, topic, partition, next_offset) "
            "SELECT name, %s, %s, 0 FROM unnest(%s::text[]) AS name ORDER BY name ON CONFLICT DO NOTHING",
            (topic, partition, list(projections)),
        )
        locked = conn.execute(
            "SELECT projection, next_offset FROM projection_offsets "
            "WHERE projection = ANY(%s) AND topic = %s AND partition = %s ORDER BY projection FOR UPDATE",
            (list(projections), topic, partition),
        )
    starts = {name: int(next_offset) for name, next_offset in locked.fetchall()}
    assert starts.keys() == set(projections)
    return starts


@dataclass(frozen=True, slots=True)
class Advance:
    """A projection's offset row after a batch: where it resumes, the records it passed, its latest event time."""

    projection: str
    next_offset: int
    records: int
    last_time_ms: int | None


def advance(conn: psycopg.Connection, topic: str, partition: int, moves: Sequence[Advance]) -> None:
    """Moves the claimed rows on (one pipelined round trip for all of them)."""
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE projection_offsets SET next_offset = %s, records = records + %s, "
            "last_event_time_ms = GREATEST(last_event_time_ms, %s) "
            "WHERE projection = %s AND topic = %s AND partition = %s",
            [(m.next_offset, m.records, m.last_time_ms, m.projection, topic, partition) for m in moves],
        )


def stored(conn: psycopg.Connection, topic: str) -> dict[str, dict[int, int]]:
    """projection -> partition -> next offset, for one topic."""
    result: dict[str, dict[int, int]] = {}
    for projection, partition, next_offset in conn.execute(
        "SELECT projection, partition, next_offset FROM projection_offsets WHERE topic = %s", (topic,)
    ):
        result.setdefault(projection, {})[partition] = next_offset
    return result
