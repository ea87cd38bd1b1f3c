"""What a replay's report plots and lists, collected while the run goes: its fills and equity samples.

The drivers call ``RunObserver.after`` for every applied input (only when a
report is asked for). Every symbol's book is read once a minute of event time,
a filled symbol's also at its fill: a fill costs the same however many symbols
the partition holds. ``report.py`` writes what it collected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from contract.events import OrderFilled
from kernel.engine import TradingKernel
from kernel.runner import Routed

MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class EquitySample:
    time_ms: int
    symbol: str
    position: str
    daily_pnl: str  # the session's P&L: realized net of fees plus unrealized; restarts each session


@dataclass(frozen=True, slots=True)
class FillRow:
    time_ms: int
    partition: int
    symbol: str
    order_id: str
    fill_id: str
    side: str
    quantity: str
    price: str
    fee: str
    liquidity: str


@dataclass
class RunObserver:
    """Collects fills and equity samples from the driver, per input record."""

    fills: list[FillRow] = field(default_factory=list)
    samples: list[EquitySample] = field(default_factory=list)
    _minute: dict[int, int] = field(default_factory=dict)

    def after(self, partition: int, time_ms: int, routed: list[Routed], kernel: TradingKernel) -> None:
        filled: set[str] = set()
        for item in routed:
            if isinstance(item.event, OrderFilled):
                fill = item.event
                filled.add(fill.symbol)
                self.fills.append(
                    FillRow(
                        fill.event_time_ms, partition, fill.symbol, fill.order_id, fill.fill_id, fill.side.value,
                        str(fill.last_qty), str(fill.last_price), str(fill.fee), fill.liquidity,
                    )
                )
        minute = time_ms // MINUTE_MS
        if self._minute.get(partition) != minute:
            self._minute[partition] = minute
            self.sample(time_ms, kernel, kernel.symbols)
        elif filled:  # the filled symbols only: a fill must not cost a sample of every symbol the partition holds
            self.sample(time_ms, kernel, filled)

    def sample(self, time_ms: int, kernel: TradingKernel, symbols: Iterable[str]) -> None:
        for symbol in sorted(symbols):
            book = kernel.symbols[symbol].book
            self.samples.append(EquitySample(time_ms, symbol, str(book.position_qty), str(book.daily_pnl)))
