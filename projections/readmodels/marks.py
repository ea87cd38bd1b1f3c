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
    last: dict[str, tuple[Key, Decimal]] = {}
    last_of_day: dict[tuple[str, str], tuple[Key, Decimal]] = {}
    day_cache: dict[tuple[str, int], str] = {}
    for item in items:
        tick = item.event
        if not isinstance(tick, Tick) or tick.venue not in VENUE_CALENDARS:
            continue  # a tick on no known venue: the kernel refused it, so it marks nothing
        key = (tick.envelope.event_time_ms, tick.sequence, tick.envelope.event_id)
        best = last.get(tick.symbol)
        if best is None or key > best[0]:
            last[tick.symbol] = (key, tick.price)
        # Sessions open and close on whole minutes, so one calendar lookup per venue and minute is exact.
        minute = (tick.venue, key[0] // 60_000)
        day = day_cache.get(minute)
        if day is None:
            day = day_cache[minute] = context.trading_day(tick.venue, key[0])
        best = last_of_day.get((tick.symbol, day))
        if best is None or key > best[0]:
            last_of_day[(tick.symbol, day)] = (key, tick.price)
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

