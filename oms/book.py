"""The per-symbol OMS facade the kernel driver calls: orders, position, risk and venue together.

Five inputs, each returning the events it caused, in the order they happened:
- ``on_intent``: OrderInitialized, then OrderAccepted or OrderDenied (pre-trade risk).
- ``on_tick``: marks the position, then the venue's fills, IOC cancels and DAY expiries.
- ``set_trading_state``: the kill switch as the kernel resolved it for this symbol;
  HALTED cancels every open order, REDUCING cancels the open orders that could grow
  the position (a switch that left orders working would not stop trading).
- ``reconfigure``: new risk limits and venue rules (the instrument never changes).
- ``on_session_start``: a new trading day (daily P&L, rate window, loss latch).

The book is configured with typed values (``BookConfig``); the kernel parses the
settings once (``kernel.settings``) and tracks sessions and trading states for
every symbol, so the book keeps neither.

Every event is applied to the orders and the position before it is returned, so
the book is always the fold of the events it emitted. Ids and times come from the
caller's ``Derivation`` and the input's event time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contract.derivation import Derivation
from contract.events import (
    Envelope,
    Event,
    OrderAccepted,
    OrderDenied,
    OrderFilled,
    OrderInitialized,
    OrderIntent,
    Side,
    Tick,
    TimeInForce,
    TradingState,
)
from contract.ids import id_from_parts
from oms.instruments import Instrument
from oms.order import ORDER_EVENT_TYPES, Order
from oms.positions import Position
from oms.risk import RATE_WINDOW_MS, RiskContext, RiskEngine, RiskLimits, RiskVerdict
from oms.simulator import ExecutionSimulator, SimConfig

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BookConfig:
    """What one symbol's book is configured with."""

    instrument: Instrument
    risk: RiskLimits = field(default_factory=RiskLimits)
    sim: SimConfig = field(default_factory=SimConfig)


class OmsBook:
    """One symbol's OMS state. Mutated only through the ``on_*`` calls."""

    __slots__ = (
        "symbol",
        "instrument",
        "_risk",
        "_venue",
        "_position",
        "_orders",
        "_trading_state",
        "_seen_intents",
        "_previous_seen_intents",
        "_accept_times",
        "_loss_latched",
    )

    def __init__(self, config: BookConfig, trading_state: TradingState = TradingState.ACTIVE) -> None:
        self.symbol = config.instrument.symbol
        self.instrument = config.instrument
        self._risk = RiskEngine(config.risk, self.instrument)
        self._venue = ExecutionSimulator(self.instrument, config.sim)
        self._position = Position(self.symbol, self.instrument.multiplier)
        # Open orders only, in acceptance order (dicts keep insertion order); closed ones leave after their last event.
        self._orders: dict[str, Order] = {}
        self._trading_state = trading_state
        # Intent ids of this session and the one before: the duplicate guard's memory, bounded to two days.
        self._seen_intents: set[str] = set()
        self._previous_seen_intents: set[str] = set()
        self._accept_times: deque[int] = deque()
        self._loss_latched = False

    # --- read-only context for the strategy ---------------------------------

    @property
    def limits(self) -> RiskLimits:
        return self._risk.limits

    @property
    def sim_config(self) -> SimConfig:
        return self._venue.config

    @property
    def trading_state(self) -> TradingState:
        return self._trading_state

    @property
    def position_qty(self) -> Decimal:
        return self._position.quantity

    @property
    def avg_entry_price(self) -> Decimal | None:
        return self._position.avg_entry_price

    @property
    def last_price(self) -> Decimal | None:
        return self._position.last_price

    @property
    def realized_pnl(self) -> Decimal:
        """Since the book was created, gross of fees."""
        return self._position.realized_pnl

    @property
    def daily_realized_pnl(self) -> Decimal:
        """This session, gross of fees (``daily_fees`` separately)."""
        return self._position.daily_realized_pnl

    @property
    def daily_fees(self) -> Decimal:
        return self._position.daily_fees

    @property
    def daily_pnl(self) -> Decimal:
        """This session's total: realized net of fees plus the change in unrealized."""
        return self._position.daily_pnl

    @property
    def unrealized_pnl(self) -> Decimal:
        return self._position.unrealized_pnl

    @property
    def open_orders(self) -> tuple[Order, ...]:
        return tuple(self._orders.values())

    def open_qty(self, side: Side) -> Decimal:
        return sum((o.leaves_qty for o in self._orders.values() if o.side is side), _ZERO)

    # --- inputs -------------------------------------------------------------

    def on_intent(self, intent: OrderIntent, derivation: Derivation, session_end_ms: int | None = None) -> list[Event]:
        """Create the order, run pre-trade risk, accept (and send to the venue) or deny it.

        ``session_end_ms`` is required for DAY orders: it becomes their ``expire_time_ms``.
        A duplicate intent gets its own order id (from its OrderInitialized event id), so
        its denial never reuses the id of the order the first delivery created.
        """
        if intent.symbol != self.symbol:
            raise ValueError(f"book {self.symbol}: got an intent for {intent.symbol}")
        is_day = intent.time_in_force is TimeInForce.DAY
        if is_day and session_end_ms is None:
            raise ValueError("a DAY order needs session_end_ms for its expiry")
        now = intent.event_time_ms
        correlation = intent.envelope.correlation_id
        ctx = self._risk_context(intent)
        verdict = self._risk.check(intent, ctx)

        init_envelope = derivation.envelope(now, intent.event_id, correlation)
        order_id = id_from_parts(init_envelope.event_id if ctx.intent_seen else intent.event_id, "order")
        initialized = OrderInitialized(
            envelope=init_envelope,
            order_id=order_id,
            intent_id=intent.event_id,
            symbol=self.symbol,
            side=intent.side,
            order_type=intent.order_type,
            quantity=intent.quantity,
            limit_price=intent.limit_price,
            time_in_force=intent.time_in_force,
            expire_time_ms=session_end_ms if is_day else None,
        )
        order = Order.from_event(initialized)
        reply = self._verdict_event(verdict, order_id, derivation.envelope(now, initialized.event_id, correlation))
        order.apply(reply)

        self._seen_intents.add(intent.event_id)
        self._loss_latched = ctx.daily_loss_breached
        if not verdict.accepted:
            return [initialized, reply]
        self._orders[order_id] = order
        self._accept_times.append(now)
        while self._accept_times[0] <= now - RATE_WINDOW_MS:
            self._accept_times.popleft()
        venue_events = self._venue.submit_order(order, now)
        self._apply(venue_events)
        return [initialized, reply, *venue_events]

    def on_tick(self, tick: Tick, derivation: Derivation) -> list[Event]:
        """Mark to the trade, then let the venue work the open orders against it."""
        if tick.symbol != self.symbol:
            raise ValueError(f"book {self.symbol}: got a tick for {tick.symbol}")
        self._position.last_price = tick.price
        if not self._orders:
            return []  # the common case on every tick: nothing resting, nothing to do
        events = self._venue.on_market_tick(tick, derivation)
        self._apply(events)
        return events

    def set_trading_state(self, state: TradingState, cause: Event, derivation: Derivation) -> list[Event]:
        """Trade under ``state`` from now on; returns the cancels it takes (``cause`` is the kill-switch input)."""
        self._trading_state = state
        if state is TradingState.ACTIVE:
            return []
        events: list[Event] = []
        for order_id in self._orders_to_cancel(state):
            events += self._venue.cancel_order(order_id, f"TRADING_{state.value}", cause.event_time_ms, cause.event_id, derivation)
        self._apply(events)
        return events

    def reconfigure(self, config: BookConfig) -> None:
        """New risk limits and venue rules; the instrument may not change (P&L depends on it)."""
        if config.instrument != self.instrument:
            raise ValueError(f"book {self.symbol}: instrument settings cannot change at run time")
        self._risk = RiskEngine(config.risk, self.instrument)
        self._venue.config = config.sim

    def on_session_start(self) -> None:
        """A new trading day: daily P&L from here, an empty rate window, the loss latch released."""
        self._position.start_session()
        self._accept_times.clear()
        self._loss_latched = False
        self._previous_seen_intents = self._seen_intents
        self._seen_intents = set()

    # --- internals ----------------------------------------------------------

    def _risk_context(self, intent: OrderIntent) -> RiskContext:
        return RiskContext(
            trading_state=self._trading_state,
            position_qty=self._position.quantity,
            open_buy_qty=self.open_qty(Side.BUY),
            open_sell_qty=self.open_qty(Side.SELL),
            last_price=self._position.last_price,
            daily_loss_breached=self._loss_latched or self._risk.limits.daily_loss_breached(self._position.daily_pnl),
            intent_seen=intent.event_id in self._seen_intents or intent.event_id in self._previous_seen_intents,
            recent_accept_times_ms=tuple(self._accept_times),
        )

    def _verdict_event(self, verdict: RiskVerdict, order_id: str, envelope: Envelope) -> OrderAccepted | OrderDenied:
        """Risk's answer as the order's next event: a denial is ours, never a venue's ``OrderRejected``."""
        if verdict.reason is None:
            return OrderAccepted(envelope, order_id, self.symbol)
        return OrderDenied(envelope, order_id, self.symbol, verdict.reason.value, verdict.detail)

    def _apply(self, events: list[Event]) -> None:
        """Fold venue events into the orders and the position; a closed order leaves the open set."""
        for event in events:
            if not isinstance(event, ORDER_EVENT_TYPES):
                raise TypeError(f"book {self.symbol}: the venue returned {type(event).__name__}")
            order = self._orders[event.order_id]
            order.apply(event)
            if isinstance(event, OrderFilled):
                self._position.apply_fill(event)
            if order.is_terminal:
                del self._orders[event.order_id]

    def _orders_to_cancel(self, state: TradingState) -> list[str]:
        """HALTED: all open orders. REDUCING: all but those that, in acceptance order, only reduce."""
        if state is TradingState.HALTED:
            return list(self._orders)
        position = self._position.quantity
        room = abs(position)
        doomed = []
        for order in self._orders.values():
            if position and order.side.sign * position < 0 and order.leaves_qty <= room:
                room -= order.leaves_qty
            else:
                doomed.append(order.order_id)
        return doomed

    # --- snapshots ----------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "trading_state": self._trading_state.value,
            "position": self._position.to_state(),
            "orders": [order.to_state() for order in self._orders.values()],
            "venue": self._venue.to_state(),
            "seen_intents": sorted(self._seen_intents),
            "previous_seen_intents": sorted(self._previous_seen_intents),
            "accept_times": list(self._accept_times),
            "loss_latched": self._loss_latched,
        }

    @classmethod
    def from_state(cls, config: BookConfig, state: dict[str, Any]) -> OmsBook:
        """The book a snapshot holds, configured with ``config`` (the settings travel with the kernel's state)."""
        if state["symbol"] != config.instrument.symbol:
            raise ValueError(f"book state of {state['symbol']} with the config of {config.instrument.symbol}")
        book = cls(config, TradingState(state["trading_state"]))
        book._position = Position.from_state(state["position"])
        book._orders = {order.order_id: order for order in map(Order.from_state, state["orders"])}
        book._venue = ExecutionSimulator.from_state(book.instrument, book._venue.config, state["venue"])
        book._seen_intents = set(state["seen_intents"])
        book._previous_seen_intents = set(state["previous_seen_intents"])
        book._accept_times = deque(state["accept_times"])
        book._loss_latched = state["loss_latched"]
        return book
