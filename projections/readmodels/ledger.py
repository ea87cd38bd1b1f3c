"""``fills``, ``positions`` and the realized side of ``pnl_daily``, from the fills topic.

Positions use the OMS's own accounting (``oms.positions.Position``: FIFO lots,
exact Decimals), so the read model and the kernel cannot disagree on P&L. Only
fills that the ``fills`` insert really added move a position: a fill read twice
is refused by its unique keys (event id, fill id) and changes nothing. Fills of
a symbol are applied in log order (one partition per symbol), the order the
kernel booked them in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from contract.events import OrderFilled
from oms.positions import Position
from projections.bulk import insert_new
from projections.readmodels.base import Context, Item
from projections.readmodels.valuation import revalue_days, revalue_positions, state_json

COLUMNS = (
    "event_id", "fill_id", "order_id", "symbol", "side", "quantity", "price", "fee", "liquidity", "event_time_ms", "trading_day",
)


@dataclass
class DayTotals:
    realized: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    fills: int = 0
    close: dict[str, Any] = field(default_factory=dict)


def _load_positions(conn: psycopg.Connection, symbols: list[str]) -> dict[str, Position]:
    rows = conn.execute(
        "SELECT symbol, state FROM positions WHERE symbol = ANY(%s) AND state IS NOT NULL FOR UPDATE", (symbols,)
    ).fetchall()
    return {symbol: Position.from_state(state) for symbol, state in rows}


def apply(conn: psycopg.Connection, items: Sequence[Item], context: Context) -> None:
    filled = [(i.record.partition, i.event) for i in items if isinstance(i.event, OrderFilled)]
    if not filled:
        return
    fills = [f for _, f in filled]
    instruments = {f.symbol: context.instrument(partition, f.symbol) for partition, f in filled}
    days = {f.event_id: context.trading_day(instruments[f.symbol].venue, f.event_time_ms) for f in fills}
    rows = (
        (f.event_id, f.fill_id, f.order_id, f.symbol, f.side.value, f.last_qty, f.last_price, f.fee, f.liquidity,
         f.event_time_ms, days[f.event_id])
        for f in fills
    )
    added = set(insert_new(conn, "fills", COLUMNS, rows, key="event_id"))
    new = [f for f in fills if f.event_id in added]
    if not new:
        return
    symbols = sorted({f.symbol for f in new})
    books = _load_positions(conn, symbols)
    per_fill = []
    per_day: dict[tuple[str, str], DayTotals] = defaultdict(DayTotals)
    counts: dict[str, tuple[int, int]] = {}
    for fill in new:
        position = books.get(fill.symbol) or Position(fill.symbol, instruments[fill.symbol].multiplier)
        before = position.realized_pnl
        position.apply_fill(fill)
        books[fill.symbol] = position
        realized = position.realized_pnl - before
        per_fill.append((realized, position.quantity, fill.event_id))
        totals = per_day[(fill.symbol, days[fill.event_id])]
        totals.realized += realized
        totals.fees += fill.fee
        totals.fills += 1
        totals.close = position.to_state()
        n, last = counts.get(fill.symbol, (0, fill.event_time_ms))
        counts[fill.symbol] = (n + 1, max(last, fill.event_time_ms))
    with conn.cursor() as cur:
        cur.executemany("UPDATE fills SET realized_pnl = %s, position_after = %s WHERE event_id = %s", per_fill)
        cur.executemany(
            "INSERT INTO positions (symbol, state, fill_count, last_fill_time_ms) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (symbol) DO UPDATE SET state = excluded.state, "
            "fill_count = positions.fill_count + excluded.fill_count, "
            "last_fill_time_ms = GREATEST(positions.last_fill_time_ms, excluded.last_fill_time_ms)",
            [(s, state_json(books[s]), n, last) for s, (n, last) in sorted(counts.items())],
        )
        cur.executemany(
            "INSERT INTO pnl_daily (symbol, trading_day, realized_pnl, fees, fill_count, close_state) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (symbol, trading_day) DO UPDATE SET "
            "realized_pnl = pnl_daily.realized_pnl + excluded.realized_pnl, fees = pnl_daily.fees + excluded.fees, "
            "fill_count = pnl_daily.fill_count + excluded.fill_count, close_state = excluded.close_state",
            [(s, d, t.realized, t.fees, t.fills, Jsonb(t.close)) for (s, d), t in sorted(per_day.items())],
        )
    first_day: dict[str, str] = {}
    for symbol, day in per_day:
        first_day[symbol] = min(day, first_day.get(symbol, day))
    revalue_days(conn, first_day)
    revalue_positions(conn, set(symbols))
