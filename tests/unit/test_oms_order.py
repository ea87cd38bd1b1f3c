"""An order built from its events: the happy paths, and refusals that change nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from contract.derivation import Derivation
from contract.events import (
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
    OrderType,
    Side,
    TimeInForce,
)
from oms.fsm import InvalidStateTransition, OrderStatus
from oms.order import Order, OrderEventRefused

D = Decimal
OID = "order-1"


class Events:
    """Mints the events of one order with fresh deterministic envelopes."""

    def __init__(self) -> None:
        self.derivation = Derivation("orders", 0, 7, "test")

    def _env(self):  # type: ignore[no-untyped-def]
        return self.derivation.envelope(1_000, "cause", "corr-1")

    def initialized(self, qty: str = "5", side: Side = Side.BUY) -> OrderInitialized:
        return OrderInitialized(
            self._env(), OID, "intent-1", "ES", side, OrderType.LIMIT, D(qty), D("1650.25"), TimeInForce.DAY, 9_000
        )

    def accepted(self, order_id: str = OID) -> OrderAccepted:
        return OrderAccepted(self._env(), order_id, "ES")

    def denied(self) -> OrderDenied:
        return OrderDenied(self._env(), OID, "ES", "MAX_ORDER_QTY", "too big")

    def rejected(self) -> OrderRejected:
        return OrderRejected(self._env(), OID, "ES", "VENUE_CLOSED", "the venue is closed")

    def filled(self, qty: str, price: str = "1650.25", side: Side = Side.BUY) -> OrderFilled:
        env = self._env()
        return OrderFilled(env, OID, env.event_id, "ES", side, D(qty), D(price), D("2.25") * D(qty), "MAKER")

    def canceled(self) -> OrderCanceled:
        return OrderCanceled(self._env(), OID, "ES", "IOC_REMAINDER")

    def expired(self) -> OrderExpired:
        return OrderExpired(self._env(), OID, "ES")


@pytest.fixture
def ev() -> Events:
    return Events()


def test_from_event_keeps_the_initialized_terms(ev: Events) -> None:
    init = ev.initialized()
    order = Order.from_event(init)
    assert order.status is OrderStatus.NEW
    assert order.initialized is init
    assert (order.order_id, order.side, order.quantity, order.leaves_qty) == (OID, Side.BUY, D(5), D(5))
    assert order.correlation_id == "corr-1"
    assert order.event_ids == [init.event_id] and order.avg_fill_price is None


def test_fills_update_quantities_and_average_price(ev: Events) -> None:
    order = Order.from_event(ev.initialized(qty="3"))
    order.apply(ev.accepted())
    order.apply(ev.filled("1", "1650.25"))
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.leaves_qty == 2
    order.apply(ev.filled("1", "1650.50"))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    order.apply(ev.filled("1", "1650.50"))
    assert order.status is OrderStatus.FILLED and order.is_terminal
    assert order.filled_qty == 3 and order.leaves_qty == 0
    # (1650.25 + 2 * 1650.50) / 3, quantized to 8 places rather than rounded at each fill.
    assert order.avg_fill_price == D("1650.41666667")
    assert len(order.event_ids) == 5


@pytest.mark.parametrize(
    ("steps", "status"),
    [
        (["accepted"], OrderStatus.ACCEPTED),
        (["denied"], OrderStatus.DENIED),
        (["rejected"], OrderStatus.REJECTED),
        (["accepted", "canceled"], OrderStatus.CANCELLED),
        (["accepted", "expired"], OrderStatus.EXPIRED),
        (["accepted", "fill2", "expired"], OrderStatus.EXPIRED),
        (["accepted", "fill2", "canceled"], OrderStatus.CANCELLED),
    ],
)
def test_lifecycles(ev: Events, steps: list[str], status: OrderStatus) -> None:
    order = Order.from_event(ev.initialized())
    for step in steps:
        order.apply(ev.filled("2") if step == "fill2" else getattr(ev, step)())
    assert order.status is status
    assert order.is_open == (status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED))


# name -> (steps before, the refused event, the error it raises)
REFUSED: dict[str, tuple[list[str], Callable[[Events], Any], type[Exception]]] = {
    "other order id": (["accepted"], lambda ev: ev.accepted(order_id="order-2"), OrderEventRefused),
    "fill before accept": ([], lambda ev: ev.filled("1"), InvalidStateTransition),
    "overfill": (["accepted"], lambda ev: ev.filled("6"), OrderEventRefused),
    "zero fill": (["accepted"], lambda ev: ev.filled("0"), OrderEventRefused),
    "wrong side fill": (["accepted"], lambda ev: ev.filled("1", side=Side.SELL), OrderEventRefused),
    "cancel after fill": (["accepted", "fill5"], lambda ev: ev.canceled(), InvalidStateTransition),
    "accept twice": (["accepted"], lambda ev: ev.accepted(), InvalidStateTransition),
    "reject after accept": (["accepted"], lambda ev: ev.rejected(), InvalidStateTransition),
    "deny after accept": (["accepted"], lambda ev: ev.denied(), InvalidStateTransition),
    "accept after deny": (["denied"], lambda ev: ev.accepted(), InvalidStateTransition),
    "reject after deny": (["denied"], lambda ev: ev.rejected(), InvalidStateTransition),
    "expire when new": ([], lambda ev: ev.expired(), InvalidStateTransition),
    "initialized again": ([], lambda ev: ev.initialized(), OrderEventRefused),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused_event_leaves_the_order_untouched(ev: Events, name: str) -> None:
    steps, make_event, error = REFUSED[name]
    order = Order.from_event(ev.initialized())
    for step in steps:
        order.apply(ev.filled("5") if step == "fill5" else getattr(ev, step)())
    before = copy.deepcopy(order.to_state())
    with pytest.raises(error):
        order.apply(make_event(ev))
    assert order.to_state() == before


def test_the_same_event_is_not_applied_twice(ev: Events) -> None:
    order = Order.from_event(ev.initialized())
    order.apply(ev.accepted())
    fill = ev.filled("1")
    order.apply(fill)
    with pytest.raises(OrderEventRefused, match="already applied"):
        order.apply(fill)
    assert order.filled_qty == 1


def test_state_round_trips_through_json_and_continues_alike(ev: Events) -> None:
    order = Order.from_event(ev.initialized())
    order.apply(ev.accepted())
    order.apply(ev.filled("2", "1650.25"))
    restored = Order.from_state(json.loads(json.dumps(order.to_state())))
    assert restored == order
    fill = ev.filled("3", "1650.00")
    order.apply(fill)
    restored.apply(fill)
    assert restored == order and restored.status is OrderStatus.FILLED
