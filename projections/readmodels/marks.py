"""Marks from ticks: each symbol's last trade, overall (``positions``) and per trading day (``pnl_daily``).

"Last" is the greatest (event time, sequence, event id), compared in SQL on
upsert, so a duplicate or a late batch can never move a mark backwards and the
result does not depend on batch boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import psycopg

from contract.events import Tick
from marketdata.calendar import VENUE_CALENDARS
from projections.readmodels.base import Context, Item
from projections.readmodels.valuation import revalue_days, revalue_positions

Key = tuple[int, int, str]

LATER = "(excluded.mark_time_ms, excluded.mark_seq, excluded.mark_event_id) > ({t}.mark_time_ms, {t}.mark_seq, {t}.mark_event_id)"
SET_MARK = (
    "mark_price = excluded.mark_price, mark_time_ms = excluded.mark_time_ms, "
    "mark_seq = excluded.mark_seq, mark_event_id = excluded.mark_event_id"
)


def apply(conn: psycopg.Connection, items: Sequence[Item], context: Context) -> None:
    # The latest trade of each (symbol, venue, minute) first: one dictionary step per tick. Sessions open and close
    # on whole minutes, so a minute lies in one trading day, and the latest of those per symbol (and per symbol and
    # day) is the latest of the ticks themselves (keys are distinct: event ids are unique within a batch).
    latest: dict[tuple[str, str, int], tuple[Key, Decimal]] = {}
    for item in items:
        tick = item.event
        if not isinstance(tick, Tick) or tick.venue not in VENUE_CALENDARS:
            continue  # a tick on no known venue: the kernel refused it, so it marks nothing
        envelope = tick.envelope
        time_ms = envelope.event_time_ms
        key = (time_ms, tick.sequence, envelope.event_id)
        minute = (tick.symbol, tick.venue, time_ms // 60_000)
        best = latest.get(minute)
        if best is None or key > best[0]:
            latest[minute] = (key, tick.price)
    last: dict[str, tuple[Key, Decimal]] = {}
    last_of_day: dict[tuple[str, str], tuple[Key, Decimal]] = {}
    for (symbol, venue, _), mark in latest.items():
        day = context.trading_day(venue, mark[0][0])
        for winners, at in ((last, symbol), (last_of_day, (symbol, day))):
            best = winners.get(at)
            if best is None or mark[0] > best[0]:
                winners[at] = mark
    if not last:
        return

    def row(mark: tuple[Key, Decimal]) -> tuple[Decimal, int, int, str]:
        (time_ms, sequence, event_id), price = mark
        return (price, time_ms, sequence, event_id)

    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO positions (symbol, mark_price, mark_time_ms, mark_seq, mark_event_id) VALUES (%s, %s, %s, %s, %s) "
            f"ON CONFLICT (symbol) DO UPDATE SET {SET_MARK} "
            f"WHERE positions.mark_time_ms IS NULL OR {LATER.format(t='positions')}",
            [(s, *row(m)) for s, m in sorted(last.items())],
        )
        cur.executemany(
            "INSERT INTO pnl_daily (symbol, trading_day, mark_price, mark_time_ms, mark_seq, mark_event_id) "
            "VALUES (%s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT (symbol, trading_day) DO UPDATE SET {SET_MARK} "
            f"WHERE pnl_daily.mark_time_ms IS NULL OR {LATER.format(t='pnl_daily')}",
            [(s, d, *row(m)) for (s, d), m in sorted(last_of_day.items())],
        )
    first_day: dict[str, str] = {}
    for symbol, day in last_of_day:
        first_day[symbol] = min(day, first_day.get(symbol, day))
    revalue_days(conn, first_day)
    revalue_positions(conn, set(last))

