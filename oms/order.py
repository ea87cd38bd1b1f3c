"""An order built from its events, NautilusTrader style.

``Order.from_event(OrderInitialized)`` creates it and keeps that event as the
order's fixed terms; ``apply`` takes the later events. Each ``apply`` validates
everything first (order id, duplicate event, fill quantity against leaves, the
FSM transition), then mutates, then records the event id last, so a refused
event leaves the order exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contract import events as ev
from contract.scaled import QUANTUM
from oms.fsm import TERMINAL_STATUSES, OrderStatus, OrderTrigger, transition

_ZERO = Decimal(0)

# The trigger each non-fill event fires; a fill fires FILL or PARTIAL_FILL depending on what it leaves.
_EVENT_TRIGGERS: dict[type[ev.Event], OrderTrigger] = {
    ev.OrderAccepted: OrderTrigger.ACCEPT,
    ev.OrderDenied: OrderTrigger.DENY,
    ev.OrderRejected: OrderTrigger.REJECT,
    ev.OrderCanceled: OrderTrigger.CANCEL,
    ev.OrderExpired: OrderTrigger.EXPIRE,
}

OrderEvent = ev.OrderAccepted | ev.OrderDenied | ev.OrderRejected | ev.OrderFilled | ev.OrderCanceled | ev.OrderExpired
ORDER_EVENT_TYPES = (ev.OrderAccepted, ev.OrderDenied, ev.OrderRejected, ev.OrderFilled, ev.OrderCanceled, ev.OrderExpired)


class OrderEventRefused(ValueError):
    """An event that does not belong to this order or does not fit its state (nothing was applied)."""


@dataclass(slots=True)
class Order:
    """One order's current state; only ``apply`` changes it. Its terms are the ``initialized`` event."""

    initialized: ev.OrderInitialized
    status: OrderStatus = OrderStatus.NEW
    filled_qty: Decimal = _ZERO
    # Sum of price * qty over fills: exact, so the average is derived, never accumulated with rounding.
    fill_notional: Decimal = _ZERO
    event_ids: list[str] = field(default_factory=list)

    @classmethod
    def from_event(cls, event: ev.OrderInitialized) -> Order:
        return cls(event, event_ids=[event.event_id])

    @property
    def order_id(self) -> str:
        return self.initialized.order_id

    @property
    def side(self) -> ev.Side:
        return self.initialized.side

    @property
    def quantity(self) -> Decimal:
        return self.initialized.quantity

    @property
    def correlation_id(self) -> str:
        return self.initialized.envelope.correlation_id

    @property
    def leaves_qty(self) -> Decimal:
        return self.initialized.quantity - self.filled_qty

    @property
    def avg_fill_price(self) -> Decimal | None:
        if not self.filled_qty:
            return None
        return (self.fill_notional / self.filled_qty).quantize(QUANTUM)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        """Working at the venue: accepted and not yet closed."""
        return self.status is OrderStatus.ACCEPTED or self.status is OrderStatus.PARTIALLY_FILLED

    def apply(self, event: OrderEvent) -> None:
        """Apply one lifecycle event; raises ``OrderEventRefused``/``InvalidStateTransition`` and changes nothing."""
        trigger = self._validate(event)
        next_status = transition(self.status, trigger)
        if isinstance(event, ev.OrderFilled):
            self.filled_qty += event.last_qty
            self.fill_notional += event.last_qty * event.last_price
        self.status = next_status
        self.event_ids.append(event.event_id)

    def _validate(self, event: OrderEvent) -> OrderTrigger:
        if not isinstance(event, ORDER_EVENT_TYPES):
            raise OrderEventRefused(f"order {self.order_id}: cannot apply {type(event).__name__}")
        if event.order_id != self.order_id:
            raise OrderEventRefused(f"order {self.order_id}: event {event.event_id} is for order {event.order_id}")
        if event.event_id in self.event_ids:
            raise OrderEventRefused(f"order {self.order_id}: event {event.event_id} already applied")
        if not isinstance(event, ev.OrderFilled):
            return _EVENT_TRIGGERS[type(event)]
        if event.side is not self.side or event.symbol != self.initialized.symbol:
            raise OrderEventRefused(f"order {self.order_id}: fill {event.event_id} has another side or symbol")
        if event.last_qty <= 0 or event.last_qty > self.leaves_qty:
            raise OrderEventRefused(
                f"order {self.order_id}: fill qty {event.last_qty} outside (0, leaves {self.leaves_qty}]"
            )
        return OrderTrigger.FILL if event.last_qty == self.leaves_qty else OrderTrigger.PARTIAL_FILL

    def to_state(self) -> dict[str, Any]:
        return {
            "initialized": initialized_to_state(self.initialized),
            "status": self.status.value,
            "filled_qty": str(self.filled_qty),
            "fill_notional": str(self.fill_notional),
            "event_ids": list(self.event_ids),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Order:
        return cls(
            initialized=initialized_from_state(state["initialized"]),
            status=OrderStatus(state["status"]),
            filled_qty=Decimal(state["filled_qty"]),
            fill_notional=Decimal(state["fill_notional"]),
            event_ids=list(state["event_ids"]),
        )


def initialized_to_state(event: ev.OrderInitialized) -> dict[str, Any]:
    """An order's terms as plain JSON types (for snapshots of the OMS and the simulated venue)."""
    env = event.envelope
    return {
        "envelope": [env.event_id, env.event_time_ms, env.producer, env.causation_id, env.correlation_id],
        "order_id": event.order_id,
        "intent_id": event.intent_id,
        "symbol": event.symbol,
        "side": event.side.value,
        "order_type": event.order_type.value,
        "quantity": str(event.quantity),
        "limit_price": None if event.limit_price is None else str(event.limit_price),
        "time_in_force": event.time_in_force.value,
        "expire_time_ms": event.expire_time_ms,
    }


def initialized_from_state(state: dict[str, Any]) -> ev.OrderInitialized:
    limit = state["limit_price"]
    return ev.OrderInitialized(
        envelope=ev.Envelope(*state["envelope"]),
        order_id=state["order_id"],
        intent_id=state["intent_id"],
        symbol=state["symbol"],
        side=ev.Side(state["side"]),
        order_type=ev.OrderType(state["order_type"]),
        quantity=Decimal(state["quantity"]),
        limit_price=None if limit is None else Decimal(limit),
        time_in_force=ev.TimeInForce(state["time_in_force"]),
        expire_time_ms=state["expire_time_ms"],
    )
