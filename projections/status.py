"""How far the read models are: stored offsets against the log's end offsets, and the latest event time.

Used by ``aitrader projections status``, the API's ``/ready`` and ``/api/status``,
and the as-of watermark every API response carries.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from contract.topics import Namespace
from eventlog.consumer import LogReader
from projections.registry import PROJECTIONS, TOPICS


@dataclass(frozen=True)
class PartitionLag:
    projection: str
    topic: str
    partition: int
    next_offset: int
    end_offset: int | None
    last_event_time_ms: int | None

    @property
    def lag(self) -> int | None:
        return None if self.end_offset is None else max(0, self.end_offset - self.next_offset)


@dataclass(frozen=True)
class Watermark:
    """What a read reflects: the offsets applied per topic partition and the latest event time among them."""

    offsets: dict[str, dict[int, int]]
    latest_event_time_ms: int | None


def watermark(conn: psycopg.Connection) -> Watermark:
    """The lowest applied offset over projections, per topic partition: everything below it is in every model."""
    offsets: dict[str, dict[int, int]] = {}
    latest: int | None = None
    rows = conn.execute(
        "SELECT topic, partition, min(next_offset), max(last_event_time_ms) FROM projection_offsets "
        "GROUP BY topic, partition ORDER BY topic, partition"
    ).fetchall()
    for topic, partition, next_offset, last_time in rows:
        offsets.setdefault(topic, {})[partition] = int(next_offset)
        if last_time is not None and (latest is None or last_time > latest):
            latest = int(last_time)
    return Watermark(offsets, latest)


def lags(conn: psycopg.Connection, ends: LogReader | None, namespace: Namespace) -> list[PartitionLag]:
    """One row per projection, topic and partition; end offsets from the broker when ``ends`` is given."""
    stored = {
        (p, t, n): (o, last)
        for p, t, n, o, last in conn.execute(
            "SELECT projection, topic, partition, next_offset, last_event_time_ms FROM projection_offsets"
        )
    }
    result = []
    for spec in TOPICS:
        topic = namespace.topic(spec)
        marks = ends.watermarks(topic) if ends is not None else {}
        partitions = sorted(set(marks) | {n for (_, t, n) in stored if t == topic})
        for projection in PROJECTIONS:
            if not projection.reads(spec):
                continue
            for partition in partitions:
                next_offset, last = stored.get((projection.name, topic, partition), (0, None))
                end = marks[partition][1] if partition in marks else None
                result.append(PartitionLag(projection.name, topic, partition, next_offset, end, last))
    return result
