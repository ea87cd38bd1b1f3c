"""An independent FIFO accounting of fills, written from the definitions for the P&L oracles of the tests.

Not the OMS's ``oms.positions.Position``: the tests compare that (and the read
models built on it) against this.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from contract.events import OrderFilled

Lots = deque[list[Decimal]]  # [signed quantity, price], oldest first


def book_fill(lots: Lots, fill: OrderFilled, multiplier: Decimal) -> Decimal:
    """Books ``fill`` into ``lots``: closes the oldest opposite lots first, opens the rest; returns the P&L realized."""
    realized = Decimal(0)
    signed = fill.last_qty if fill.side.value == "BUY" else -fill.last_qty
    while signed and lots and (lots[0][0] > 0) != (signed > 0):
        take = min(abs(signed), abs(lots[0][0]))
        direction = 1 if lots[0][0] > 0 else -1
        realized += (fill.last_price - lots[0][1]) * take * direction * multiplier
        lots[0][0] -= take * direction
        signed += take * direction
        if lots[0][0] == 0:
            lots.popleft()
    if signed:
        lots.append([signed, fill.last_price])
    return realized
