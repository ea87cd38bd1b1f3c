"""``projection_offsets``: the next offset each projection applies, per topic partition.

Rows are read and advanced inside the batch's transaction, locked with FOR
UPDATE, so the stored offset always describes exactly what the tables hold,
and two projectors that run by mistake at once apply each record once.
"""

from __future__ import annotations

import psycopg


def claim(conn: psycopg.Connection, projection: str, topic: str, partition: int) -> int:
    """The next offset to apply, with the row locked until the transaction ends."""
    conn.execute(
        "INSERT INTO projection_offsets (projection, topic, partition, next_offset) VALUES (%s, %s, %s, 0) "
        "ON CONFLICT DO NOTHING",
        (projection, topic, partition),
    )
    row = conn.execute(
        "SELECT next_offset FROM projection_offsets WHERE projection = %s AND topic = %s AND partition = %s FOR UPDATE",
        (projection, topic, partition),
    ).fetchone()
    assert row is not None
    return int(row[0])


def advance(
    conn: psycopg.Connection, projection: str, topic: str, partition: int, next_offset: int, records: int, last_time_ms: int | None
) -> None:
    conn.execute(
        "UPDATE projection_offsets SET next_offset = %s, records = records + %s, "
        "last_event_time_ms = GREATEST(last_event_time_ms, %s) "
        "WHERE projection = %s AND topic = %s AND partition = %s",
        (next_offset, records, last_time_ms, projection, topic, partition),
    )


def stored(conn: psycopg.Connection, topic: str) -> dict[str, dict[int, int]]:
    """projection -> partition -> next offset, for one topic."""
    result: dict[str, dict[int, int]] = {}
    for projection, partition, next_offset in conn.execute(
        "SELECT projection, partition, next_offset FROM projection_offsets WHERE topic = %s", (topic,)
    ):
        result.setdefault(projection, {})[partition] = next_offset
    return result
