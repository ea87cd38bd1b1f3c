"""``projections.bulk.insert_new`` on a real PostgreSQL: the direct COPY and the staging path agree.

The direct COPY may only succeed when every row is new; anything the table
refuses must end exactly as the staging path (ON CONFLICT DO NOTHING) ends it:
the same rows added, the same keys returned, the same error for a bad row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest

from projections.bulk import insert_new
from projections.db import connect
from tests.scratch import drop_with_companions, fresh_schema

pytestmark = pytest.mark.infra

COLUMNS = ("event_id", "fill_id", "order_id", "symbol", "side", "quantity", "price", "fee", "liquidity", "event_time_ms", "trading_day")


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    name = fresh_schema(database_url, "test")
    with connect(database_url, name) as connection:
        yield connection
    drop_with_companions(database_url, name)


def fill(n: int, quantity: str = "1", fill_id: str | None = None) -> tuple:
    event_id = str(uuid.UUID(int=n))
    return (event_id, fill_id or f"F{n}", event_id, "ES", "BUY", Decimal(quantity), Decimal("4500.25"), Decimal("0"),
            "TAKER", 1_378_200_000_000 + n, "2013-09-03")


def stored(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT event_id::text, fill_id, quantity FROM fills ORDER BY event_id").fetchall()


def test_new_rows_are_copied_and_their_keys_returned(conn: psycopg.Connection) -> None:
    rows = [fill(n) for n in range(1, 6)]
    with conn.transaction():
        added = insert_new(conn, "fills", COLUMNS, iter(rows), key="event_id")
    assert added == [r[0] for r in rows]
    assert stored(conn) == [(r[0], r[1], r[5]) for r in rows]


def test_rows_already_there_are_kept_and_only_the_new_ones_returned(conn: psycopg.Connection) -> None:
    with conn.transaction():
        insert_new(conn, "fills", COLUMNS, [fill(2, "7"), fill(4, "7")], key="event_id")
    with conn.transaction():
        # 2 is there by event id, 5 by fill id (F4), 3 twice in the batch: the first copy wins.
        added = insert_new(
            conn, "fills", COLUMNS, [fill(1), fill(2), fill(3), fill(3, "9"), fill(5, fill_id="F4")], key="event_id"
        )
    assert sorted(added) == [fill(1)[0], fill(3)[0]]
    assert stored(conn) == [
        (fill(1)[0], "F1", Decimal(1)),
        (fill(2)[0], "F2", Decimal(7)),
        (fill(3)[0], "F3", Decimal(1)),
        (fill(4)[0], "F4", Decimal(7)),
    ]


def test_a_row_the_table_refuses_raises_the_staging_paths_error_and_adds_nothing(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation) as refused:
        with conn.transaction():
            insert_new(conn, "fills", COLUMNS, [fill(1), fill(2, "0")], key="event_id")
    assert "fills_quantity_positive" in str(refused.value)
    # The error is the INSERT ... SELECT's, as before the direct COPY existed, not the COPY's.
    assert refused.value.diag.context is None or "COPY fills" not in refused.value.diag.context
    assert stored(conn) == []


def test_without_a_key_nothing_is_returned_and_an_empty_batch_writes_nothing(conn: psycopg.Connection) -> None:
    with conn.transaction():
        assert insert_new(conn, "fills", COLUMNS, [fill(1)]) == []
        assert insert_new(conn, "fills", COLUMNS, [], key="event_id") == []
    assert len(stored(conn)) == 1
