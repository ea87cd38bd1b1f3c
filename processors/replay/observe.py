"""What a replay's report plots and lists, collected while the run goes: its fills and equity samples.

The drivers call ``RunObserver.after`` for every applied input (only when a
report is asked for). Reading the books costs a few attribute lookups per
minute of event time, not per tick. ``report.py`` writes what it collected.
"""

from __future__ import annotations

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
        filled = False
        for item in routed:
            if isinstance(item.event, OrderFilled):
                filled = True
                fill = item.event
                self.fills.append(
                    FillRow(
                        fill.event_time_ms, partition, fill.symbol, fill.order_id, fill.fill_id, fill.side.value,
                        str(fill.last_qty), str(fill.last_price), str(fill.fee), fill.liquidity,
                    )
                )
        minute = time_ms // MINUTE_MS
        if filled or self._minute.get(partition) != minute:
            self._minute[partition] = minute
            self.sample(time_ms, kernel)

    def sample(self, time_ms: int, kernel: TradingKernel) -> None:
        for symbol, state in sorted(kernel.symbols.items()):
            book = state.book
            self.samples.append(EquitySample(time_ms, symbol, str(book.position_qty), str(book.daily_pnl)))
