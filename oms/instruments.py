"""What one contract of a symbol is worth: multiplier, tick size and fee.

Settings keys are ``instrument.<SYMBOL>.multiplier``, ``.tick_size`` and
``.fee_per_unit``; a symbol without settings gets the E-mini S&P 500 (ES)
defaults, the only market in our sample data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from oms.settings import settings_for

ES_MULTIPLIER = Decimal(50)  # USD per index point
ES_TICK_SIZE = Decimal("0.25")
ES_FEE_PER_UNIT = Decimal("2.25")  # USD per contract per side, exchange + clearing, roughly


@dataclass(frozen=True, slots=True)
class Instrument:
    """A futures contract; prices are quoted in points, money is ``points * multiplier``."""

    symbol: str
    multiplier: Decimal = ES_MULTIPLIER
    tick_size: Decimal = ES_TICK_SIZE
    fee_per_unit: Decimal = ES_FEE_PER_UNIT

    def __post_init__(self) -> None:
        if self.multiplier <= 0 or self.tick_size <= 0 or self.fee_per_unit < 0:
            raise ValueError(f"instrument {self.symbol}: multiplier and tick_size must be > 0, fee >= 0")

    @classmethod
    def from_settings(cls, symbol: str, settings: Mapping[str, str]) -> Instrument:
        prefix = f"instrument.{symbol}."
        return cls(symbol, **settings_for(cls(symbol), settings, prefix, positive=("multiplier", "tick_size")))

    def is_on_tick(self, price: Decimal) -> bool:
        return price % self.tick_size == 0

    def notional(self, quantity: Decimal, price: Decimal) -> Decimal:
        return quantity * price * self.multiplier

    def to_state(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "multiplier": str(self.multiplier),
            "tick_size": str(self.tick_size),
            "fee_per_unit": str(self.fee_per_unit),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Instrument:
        return cls(
            symbol=state["symbol"],
            multiplier=Decimal(state["multiplier"]),
            tick_size=Decimal(state["tick_size"]),
            fee_per_unit=Decimal(state["fee_per_unit"]),
        )
