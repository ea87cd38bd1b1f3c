"""Builders of well-formed OMS inputs for the OMS tests.

Each input gets its own position on a fake input topic, so the ids it derives
are deterministic exactly as in the kernel: the same calls give the same events.
"""

from __future__ import annotations

from decimal import Decimal

from contract.derivation import Derivation
from contract.events import (
    ConfigChanged,
    Envelope,
    OrderIntent,
    OrderType,
    Side,
    Tick,
    TimeInForce,
    TradingState,
    TradingStateChanged,
)
from contract.ids import id_from_record

INPUT_TOPIC = "test.inputs"
PRODUCER = "oms-test/0"
START_MS = 1_378_000_000_000  # 2013-09-01, like the sample data


def derivation_at(offset: int) -> Derivation:
    """The derivation for the events caused by the input at ``offset``."""
    return Derivation(INPUT_TOPIC, 0, offset, PRODUCER)


class InputStream:
    """A sequence of inputs for one symbol with increasing offsets and (by default) event times."""

    def __init__(self, symbol: str = "ES", start_ms: int = START_MS, step_ms: int = 100) -> None:
        self.symbol = symbol
        self.now_ms = start_ms
        self.step_ms = step_ms
        self.offset = -1

    def derivation(self) -> Derivation:
        """The derivation for the events caused by the latest input."""
        return derivation_at(self.offset)

    def _envelope(self, at_ms: int | None, causation_id: str | None = None) -> Envelope:
        self.offset += 1
        self.now_ms = self.now_ms + self.step_ms if at_ms is None else at_ms
        event_id = id_from_record(INPUT_TOPIC, 0, self.offset, 999)
        return Envelope(event_id, self.now_ms, PRODUCER, causation_id, event_id)

    def tick(self, price: Decimal | str | int, size: Decimal | str | int = 1, at_ms: int | None = None) -> Tick:
        return Tick(self._envelope(at_ms), self.symbol, "CME", self.offset, Decimal(price), Decimal(size))

    def intent(
        self,
        side: Side,
        quantity: Decimal | str | int,
        limit_price: Decimal | str | int | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        at_ms: int | None = None,
        symbol: str | None = None,
    ) -> OrderIntent:
        """A MARKET intent, or a LIMIT one when ``limit_price`` is given."""
        return OrderIntent(
            envelope=self._envelope(at_ms, causation_id="signal"),
            symbol=symbol or self.symbol,
            signal_id="signal",
            side=side,
            order_type=OrderType.MARKET if limit_price is None else OrderType.LIMIT,
            quantity=Decimal(quantity),
            limit_price=None if limit_price is None else Decimal(limit_price),
            time_in_force=time_in_force,
            score=Decimal("0.5"),
            model_name="test",
            model_version="0",
        )

    def trading_state(self, state: TradingState, symbol: str | None = None) -> TradingStateChanged:
        return TradingStateChanged(self._envelope(None), symbol, state, "test", "ops")

    def config(self, settings: dict[str, str], symbol: str | None = None) -> ConfigChanged:
        return ConfigChanged(self._envelope(None), symbol, settings, "test", "ops")
