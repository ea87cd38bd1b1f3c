"""A deterministic simulated venue: accepted orders plus trade ticks in, execution events out.

Rules (all in event time, so a replay fills exactly alike):
- Latency: an order accepted at ``t`` may only trade on ticks with
  ``event_time_ms >= t + latency_ms``. The driver runs a tick through the book
  before the strategy reacts to it, so an order never sees the tick that created it.
- MARKET fills at the trade price moved ``slippage_ticks`` ticks against the order.
  LIMIT fills at its limit price when the trade price reaches it (buy: trade <= limit;
  sell: trade >= limit).
- A tick's size is shared among the eligible orders in acceptance order; whatever an
  order cannot get waits for later ticks (partial fills).
- IOC: the part not filled on the first eligible tick is cancelled (``IOC_REMAINDER``).
- An order with ``expire_time_ms`` (DAY) expires on the first tick at/after it,
  before it can trade on that tick. GTC lives on.
- Fees are ``fee_per_unit`` per contract. Cancels are confirmed at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from contract.derivation import Derivation
from contract.events import (
    Envelope,
    Event,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderType,
    Side,
    Tick,
    TimeInForce,
)
from contract.scaled import QUANTUM
from oms.instruments import Instrument
from oms.order import Order, initialized_from_state, initialized_to_state
from oms.settings import settings_for

IOC_REMAINDER = "IOC_REMAINDER"


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Keys ``sim.latency_ms`` (default 50) and ``sim.slippage_ticks`` (default 0, adverse, market orders only)."""

    latency_ms: int = 50
    slippage_ticks: int = 0

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> SimConfig:
        return cls(**settings_for(cls(), settings, "sim."))


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """What the venue knows of one resting order: its terms, when it may trade, what is left."""

    terms: OrderInitialized
    eligible_from_ms: int
    leaves_qty: Decimal

    @property
    def order_id(self) -> str:
        return self.terms.order_id

    def to_state(self) -> dict[str, Any]:
        return {
            "terms": initialized_to_state(self.terms),
            "eligible_from_ms": self.eligible_from_ms,
            "leaves_qty": str(self.leaves_qty),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> WorkingOrder:
        return cls(initialized_from_state(state["terms"]), state["eligible_from_ms"], Decimal(state["leaves_qty"]))


class ExecutionSimulator:
    """The first ``BrokerAdapter``: one symbol's simulated venue, working orders in acceptance order."""

    __slots__ = ("instrument", "config", "_working")

    def __init__(self, instrument: Instrument, config: SimConfig | None = None) -> None:
        self.instrument = instrument
        self.config = config or SimConfig()
        self._working: list[WorkingOrder] = []

    @property
    def has_working_orders(self) -> bool:
        return bool(self._working)

    @property
    def working_orders(self) -> tuple[WorkingOrder, ...]:
        return tuple(self._working)

    def submit_order(self, order: Order, accepted_time_ms: int) -> list[Event]:
        if order.initialized.symbol != self.instrument.symbol or any(
            w.order_id == order.order_id for w in self._working
        ):
            raise ValueError(f"simulator {self.instrument.symbol}: cannot take order {order.order_id}")
        self._working.append(
            WorkingOrder(order.initialized, accepted_time_ms + self.config.latency_ms, order.leaves_qty)
        )
        return []

    def cancel_order(
        self, order_id: str, reason: str, event_time_ms: int, causation_id: str, derivation: Derivation
    ) -> list[Event]:
        working = next((w for w in self._working if w.order_id == order_id), None)
        if working is None:
            return []
        self._working = [w for w in self._working if w is not working]
        envelope = derivation.envelope(event_time_ms, causation_id, working.terms.envelope.correlation_id)
        return [OrderCanceled(envelope, order_id, self.instrument.symbol, reason)]

    def on_market_tick(self, tick: Tick, derivation: Derivation) -> list[Event]:
        if not self._working:
            return []
        if tick.symbol != self.instrument.symbol:
            raise ValueError(f"simulator {self.instrument.symbol}: got a tick for {tick.symbol}")
        now = tick.event_time_ms
        available = tick.size
        events: list[Event] = []
        still_working: list[WorkingOrder] = []
        for working in self._working:
            terms = working.terms
            if terms.expire_time_ms is not None and now >= terms.expire_time_ms:
                events.append(OrderExpired(self._envelope(working, tick, derivation), terms.order_id, terms.symbol))
                continue
            if now < working.eligible_from_ms:
                still_working.append(working)
                continue
            price = self._fill_price(terms, tick.price)
            qty = min(working.leaves_qty, available)
            if price is not None and qty > 0:
                events.append(self._fill(working, qty, price, tick, derivation))
                available -= qty
                working = replace(working, leaves_qty=working.leaves_qty - qty)
            if not working.leaves_qty:
                continue
            if terms.time_in_force is TimeInForce.IOC:
                envelope = self._envelope(working, tick, derivation)
                events.append(OrderCanceled(envelope, terms.order_id, terms.symbol, IOC_REMAINDER))
                continue
            still_working.append(working)
        self._working = still_working
        return events

    def _fill_price(self, terms: OrderInitialized, trade_price: Decimal) -> Decimal | None:
        """The execution price if the order trades at ``trade_price``, else None."""
        if terms.order_type is OrderType.MARKET:
            return trade_price + terms.side.sign * self.config.slippage_ticks * self.instrument.tick_size
        limit = terms.limit_price
        assert limit is not None  # risk refuses a LIMIT order without a price
        crosses = trade_price <= limit if terms.side is Side.BUY else trade_price >= limit
        return limit if crosses else None

    @staticmethod
    def _envelope(working: WorkingOrder, tick: Tick, derivation: Derivation) -> Envelope:
        """Venue events happen at the tick, are caused by it, and belong to the order's chain."""
        return derivation.envelope(tick.event_time_ms, tick.event_id, working.terms.envelope.correlation_id)

    def _fill(
        self, working: WorkingOrder, qty: Decimal, price: Decimal, tick: Tick, derivation: Derivation
    ) -> OrderFilled:
        envelope = self._envelope(working, tick, derivation)
        return OrderFilled(
            envelope=envelope,
            order_id=working.order_id,
            fill_id=envelope.event_id,
            symbol=self.instrument.symbol,
            side=working.terms.side,
            last_qty=qty,
            last_price=price,
            fee=(qty * self.instrument.fee_per_unit).quantize(QUANTUM),
            liquidity="TAKER" if working.terms.order_type is OrderType.MARKET else "MAKER",
        )

    def to_state(self) -> dict[str, Any]:
        return {"working": [w.to_state() for w in self._working]}

    @classmethod
    def from_state(cls, instrument: Instrument, config: SimConfig, state: dict[str, Any]) -> ExecutionSimulator:
        simulator = cls(instrument, config)
        simulator._working = [WorkingOrder.from_state(w) for w in state["working"]]
        return simulator
