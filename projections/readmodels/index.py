"""``event_index``: where every event sits on the log (event id -> topic, partition, offset, time)."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from projections.bulk import insert_new
from projections.readmodels.base import Context, Item

COLUMNS = ("event_id", "event_type", "topic", "partition", "offset", "event_time_ms", "symbol")


def apply(conn: psycopg.Connection, items: Sequence[Item], context: Context) -> None:
    rows = []
    for item in items:
        event, record = item.event, item.record
        envelope = event.envelope  # read once: ``event_id`` and ``event_time_ms`` are properties over it
        rows.append(
            (
                envelope.event_id,
                type(event).__name__,
                record.topic,
                record.partition,
                record.offset,
                envelope.event_time_ms,
                getattr(event, "symbol", None),
            )
        )
    insert_new(conn, "event_index", COLUMNS, rows)
