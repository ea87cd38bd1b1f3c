"""The rebuild's swap on a real PostgreSQL, against readers that hold one table while they read another.

A reader transaction that reads table A, then table B, holds A while it asks
for B. The swap needs every table exclusively; if it holds B and waits for A,
the two wait on each other, and PostgreSQL cancels whichever of them started
waiting first. Readers must never be that victim: here they read in both
orders, with a pause between the two tables so the overlap is certain and a
shorter one between transactions (requests arriving), across several swaps.
Each generation of tables holds its own number of rows in both, so a reader
that saw one generation's A and another's B would count a mix.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from projections.db import connect
from projections.rebuild import prepare_build, swap
from projections.registry import PROJECTIONS, by_names
from tests.scratch import drop_with_companions, fresh_schema

pytestmark = pytest.mark.infra

SWAPS = 4
PAUSE_S = 0.02  # between a reader's two tables: long enough that a swap lands inside it
IDLE_S = 0.01  # between a reader's transactions; readers that never let go would starve any swap


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    name = fresh_schema(database_url, "test")
    yield name
    drop_with_companions(database_url, name)


def _fill(url: str, schema: str, rows: int) -> None:
    """``rows`` rows in both tables the readers count: the index projection's table and its offset rows."""
    with connect(url, schema) as conn, conn.transaction():
        for n in range(rows):
            conn.execute("INSERT INTO event_index VALUES (gen_random_uuid(), 'Tick', 't', 0, %s, 0, NULL)", (n,))
            conn.execute("INSERT INTO projection_offsets VALUES ('index', 't', %s, 0, 0, NULL)", (n,))


@pytest.mark.parametrize("whole", [True, False], ids=["every-projection", "one-projection"])
def test_readers_holding_one_table_while_reading_another_are_never_a_swaps_deadlock_victim(
    database_url: str, schema: str, whole: bool
) -> None:
    # One projection: its table moves, and its rows of projection_offsets are replaced, in the live schema.
    projections = PROJECTIONS if whole else by_names(["index"])
    _fill(database_url, schema, 1)
    errors: list[Exception] = []
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def read(first: str, second: str) -> None:
        with connect(database_url, schema) as conn:
            while not done.is_set():
                try:
                    with conn.transaction():
                        a = conn.execute(f"SELECT count(*) FROM {first}").fetchone()[0]
                        time.sleep(PAUSE_S)
                        b = conn.execute(f"SELECT count(*) FROM {second}").fetchone()[0]
                    seen.append((a, b))
                    time.sleep(IDLE_S)
                except psycopg.Error as exc:
                    errors.append(exc)

    readers = [
        threading.Thread(target=read, args=("event_index", "projection_offsets")),
        threading.Thread(target=read, args=("projection_offsets", "event_index")),
    ]
    for reader in readers:
        reader.start()
    try:
        for generation in range(2, SWAPS + 2):
            build = prepare_build(database_url, schema, fresh=True)
            _fill(database_url, build, generation)
            swap(database_url, schema, build, projections, whole)
    finally:
        done.set()
        for reader in readers:
            reader.join()

    assert errors == []
    assert all(a == b for a, b in seen), "a reader saw one generation's table beside another's"
    assert {a for a, _ in seen} >= {1, SWAPS + 1}  # the readers ran before the first swap and after the last
    with connect(database_url, schema) as conn:
        assert conn.execute("SELECT count(*) FROM event_index").fetchone()[0] == SWAPS + 1
