"""``event_index``: where every event sits on the log (event id -> topic, partition, offset, time)."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from projections.bulk import insert_new
from projections.readmodels.base import Context, Item

COLUMNS = ("event_id", "event_type", "topic", "partition", "offset", "event_time_ms", "symbol")


def apply(conn: psycopg.Connection, items: Sequence[Item], context: Context) -> None:
    rows = (
        (
            i.event.event_id,
            type(i.event).__name__,
            i.record.topic,
            i.record.partition,
            i.record.offset,
            i.event.event_time_ms,
            getattr(i.event, "symbol", None),
        )
        for i in items
    )
    insert_new(conn, "event_index", COLUMNS, rows)
