"""Unrealized and daily P&L: open lots marked to the last trade, recomputed after every batch.

Fills (the lots) and ticks (the marks) come from different topics, so a batch
of either can change the valuation of a day already seen. The numbers are
therefore not accumulated but recomputed from the stored lots and marks for
the days a batch touched and every later day of the symbol, which keeps the
final tables independent of the order in which the topics were read.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from oms.positions import Position

ZERO = Decimal(0)


def _position(state: Mapping[str, Any] | None) -> Position | None:
    return None if state is None else Position.from_state(dict(state))


def marked(position: Position | None, mark: Decimal | None) -> Decimal | None:
    """Unrealized P&L of ``position``'s open lots at ``mark``; None when there is no mark yet."""
    if mark is None:
        return None
    if position is None:
        return ZERO
    position.mark(mark)
    return position.unrealized_pnl


def revalue_days(conn: psycopg.Connection, from_day: Mapping[str, str]) -> None:
    """Recomputes position, unrealized and daily P&L of each symbol's days on and after ``from_day[symbol]``."""
    for symbol, first in sorted(from_day.items()):
        carried = conn.execute(
            "SELECT close_state FROM pnl_daily WHERE symbol = %s AND trading_day < %s AND close_state IS NOT NULL "
            "ORDER BY trading_day DESC LIMIT 1",
            (symbol, first),
        ).fetchone()
        before = conn.execute(
            "SELECT unrealized_pnl FROM pnl_daily WHERE symbol = %s AND trading_day < %s ORDER BY trading_day DESC LIMIT 1",
            (symbol, first),
        ).fetchone()
        state = carried[0] if carried else None
        previous = before[0] if before and before[0] is not None else ZERO
        updates = []
        rows = conn.execute(
            "SELECT trading_day, close_state, mark_price, realized_pnl, fees FROM pnl_daily "
            "WHERE symbol = %s AND trading_day >= %s ORDER BY trading_day",
            (symbol, first),
        ).fetchall()
        for day, close_state, mark, realized, fees in rows:
            state = close_state if close_state is not None else state
            position = _position(state)
            unrealized = marked(position, mark)
            daily = None if unrealized is None else realized - fees + unrealized - previous
            quantity = position.quantity if position else ZERO
            updates.append((quantity, unrealized, daily, symbol, day))
            previous = unrealized if unrealized is not None else ZERO
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE pnl_daily SET position_qty = %s, unrealized_pnl = %s, daily_pnl = %s "
                "WHERE symbol = %s AND trading_day = %s",
                updates,
            )


def revalue_positions(conn: psycopg.Connection, symbols: set[str]) -> None:
    """Quantity, average price, realized, fees and unrealized of each symbol from its lots and mark."""
    rows = conn.execute(
        "SELECT symbol, state, mark_price FROM positions WHERE symbol = ANY(%s)", (sorted(symbols),)
    ).fetchall()
    updates = []
    for symbol, state, mark in rows:
        position = _position(state)
        if position is None:
            continue
        unrealized = marked(position, mark) or ZERO
        updates.append(
            (position.quantity, position.avg_entry_price, position.realized_pnl, position.fees, unrealized, symbol)
        )
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE positions SET quantity = %s, avg_price = %s, realized_pnl = %s, fees = %s, unrealized_pnl = %s "
            "WHERE symbol = %s",
            updates,
        )


def state_json(position: Position) -> Jsonb:
    return Jsonb(position.to_state())
