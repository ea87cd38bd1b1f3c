"""One symbol's position and P&L, in exact Decimals.

Realized P&L is booked against FIFO lots (each opening fill's quantity and
price): closing ``q`` contracts of a lot bought at ``e`` at price ``p`` realizes
``(p - e) * q * multiplier`` (sign flipped for shorts). Every figure stays an
exact Decimal, where average-cost accounting would divide by the quantity and
round. ``avg_entry_price`` is the remaining lots' average, for display only.

The session (day) figures: ``daily_realized_pnl``/``daily_fees`` restart at
``start_session``; ``daily_pnl`` is total P&L (net realized + unrealized) now
minus total P&L at session start, so a position carried overnight counts only
what it gained or lost today.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contract.events import OrderFilled
from contract.scaled import QUANTUM

_ZERO = Decimal(0)


@dataclass(slots=True)
class Position:
    """Signed quantity (long > 0) as FIFO lots, plus realized, fees and the last trade price."""

    symbol: str
    multiplier: Decimal
    # Open lots oldest first as (quantity > 0, entry price); all on the side of ``direction``.
    lots: list[tuple[Decimal, Decimal]] = field(default_factory=list)
    direction: int = 0
    realized_pnl: Decimal = _ZERO
    fees: Decimal = _ZERO
    daily_realized_pnl: Decimal = _ZERO
    daily_fees: Decimal = _ZERO
    session_start_pnl: Decimal = _ZERO
    last_price: Decimal | None = None

    @property
    def quantity(self) -> Decimal:
        return self.direction * sum((q for q, _ in self.lots), _ZERO)

    @property
    def avg_entry_price(self) -> Decimal | None:
        size = sum((q for q, _ in self.lots), _ZERO)
        if not size:
            return None
        return (sum((q * p for q, p in self.lots), _ZERO) / size).quantize(QUANTUM)

    @property
    def unrealized_pnl(self) -> Decimal:
        """Open lots marked to the last trade price (zero when flat or never priced)."""
        if not self.lots or self.last_price is None:
            return _ZERO
        mark = self.last_price
        return self.direction * self.multiplier * sum(((mark - p) * q for q, p in self.lots), _ZERO)

    @property
    def total_pnl(self) -> Decimal:
        """Realized net of fees plus unrealized, since the position was created."""
        return self.realized_pnl - self.fees + self.unrealized_pnl

    @property
    def daily_pnl(self) -> Decimal:
        return self.total_pnl - self.session_start_pnl

    def mark(self, price: Decimal) -> None:
        self.last_price = price

    def start_session(self) -> None:
        self.daily_realized_pnl = _ZERO
        self.daily_fees = _ZERO
        self.session_start_pnl = self.total_pnl

    def apply_fill(self, fill: OrderFilled) -> None:
        """Book one execution: extend the position, or close lots FIFO and open the rest the other way."""
        if fill.symbol != self.symbol or fill.last_qty <= 0:
            raise ValueError(
                f"position {self.symbol}: cannot apply fill {fill.fill_id} ({fill.symbol}, {fill.last_qty})"
            )
        sign = fill.side.sign
        price = fill.last_price
        lots = list(self.lots)
        direction = self.direction
        realized = _ZERO
        remaining = fill.last_qty
        if direction == -sign:
            while remaining and lots:
                lot_qty, entry = lots[0]
                closed = min(lot_qty, remaining)
                realized += (price - entry) * closed * direction
                remaining -= closed
                lots[0] = (lot_qty - closed, entry)
                if lots[0][0] == 0:
                    lots.pop(0)
        if remaining:
            # Extending, opening from flat, or the remainder of a flip.
            lots.append((remaining, price))
            direction = sign
        elif not lots:
            direction = 0
        realized *= self.multiplier
        self.lots = lots
        self.direction = direction
        self.realized_pnl += realized
        self.daily_realized_pnl += realized
        self.fees += fill.fee
        self.daily_fees += fill.fee

    def to_state(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "multiplier": str(self.multiplier),
            "lots": [[str(q), str(p)] for q, p in self.lots],
            "direction": self.direction,
            "realized_pnl": str(self.realized_pnl),
            "fees": str(self.fees),
            "daily_realized_pnl": str(self.daily_realized_pnl),
            "daily_fees": str(self.daily_fees),
            "session_start_pnl": str(self.session_start_pnl),
            "last_price": None if self.last_price is None else str(self.last_price),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Position:
        last = state["last_price"]
        return cls(
            symbol=state["symbol"],
            multiplier=Decimal(state["multiplier"]),
            lots=[(Decimal(q), Decimal(p)) for q, p in state["lots"]],
            direction=state["direction"],
            realized_pnl=Decimal(state["realized_pnl"]),
            fees=Decimal(state["fees"]),
            daily_realized_pnl=Decimal(state["daily_realized_pnl"]),
            daily_fees=Decimal(state["daily_fees"]),
            session_start_pnl=Decimal(state["session_start_pnl"]),
            last_price=None if last is None else Decimal(last),
        )
