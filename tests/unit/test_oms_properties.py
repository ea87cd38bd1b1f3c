"""Invariants of the OMS under random inputs (hypothesis).

- No fill exceeds what its order has left.
- Every order event follows a row of the FSM table; nothing else is ever applied.
- The position never breaches its limit through accepted orders.
- While HALTED nothing is accepted and nothing fills.
- A book restored from a snapshot continues exactly like the original.
"""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from contract import events as ev
from contract.derivation import Derivation
from oms.fsm import TRANSITIONS, InvalidStateTransition, OrderStatus, OrderTrigger
from oms.order import Order, OrderEventRefused
from tests.book_driver import BookDriver
from tests.oms_inputs import START_MS, InputStream, derivation_at

D = Decimal
TICK = D("0.25")
MAX_POSITION = 5
SETTINGS = {
    "risk.max_position": str(MAX_POSITION),
    "risk.max_order_qty": "4",
    "risk.max_orders_per_second": "3",
    "risk.max_daily_loss": "2000",
    "risk.price_collar_ticks": "8",
    "sim.latency_ms": "50",
}
SESSION_END = START_MS + 800  # short, so DAY orders expire within a script

ticks = st.tuples(st.just("tick"), st.integers(-4, 4), st.integers(1, 6), st.integers(0, 150))
intents = st.tuples(
    st.just("intent"),
    st.sampled_from(ev.Side),
    st.one_of(st.integers(1, 3), st.integers(1, 3), st.integers(-1, 5)),  # quantity, sometimes invalid or too big
    st.one_of(st.none(), st.integers(-4, 4), st.integers(-10, 10)),  # limit offset in ticks from last; None: market
    st.sampled_from(ev.TimeInForce),
)
# Mostly ACTIVE, so that orders live long enough to fill and push against the limits.
controls = st.tuples(st.just("state"), st.sampled_from([ev.TradingState.ACTIVE] * 3 + list(ev.TradingState)))
actions = st.lists(st.one_of(ticks, ticks, ticks, intents, intents, controls), min_size=5, max_size=80)


def make_inputs(script: list[tuple]) -> list:  # type: ignore[type-arg]
    """Turn generated actions into inputs; input ``i`` sits at offset ``i``."""
    stream = InputStream(start_ms=START_MS, step_ms=0)
    price = D("1650.00")
    out = [stream.tick(price, 5, at_ms=START_MS)]
    for action in script:
        if action[0] == "tick":
            _, move, size, dt = action
            price += move * TICK
            out.append(stream.tick(price, size, at_ms=stream.now_ms + dt))
        elif action[0] == "intent":
            _, side, qty, offset, tif = action
            limit = None if offset is None else price + offset * TICK
            out.append(stream.intent(side, qty, limit, tif))
        else:
            out.append(stream.trading_state(action[1]))
    return out


def feed(book: BookDriver, event: ev.Event, offset: int) -> list[ev.Event]:
    return book.feed(event, derivation_at(offset))


class Mirror:
    """Rebuilds each order's status and leaves from the emitted events alone, checking each step."""

    def __init__(self) -> None:
        self.status: dict[str, OrderStatus] = {}
        self.leaves: dict[str, Decimal] = {}

    def see(self, event: ev.Event) -> None:
        if isinstance(event, ev.OrderInitialized):
            assert event.order_id not in self.status
            self.status[event.order_id] = OrderStatus.NEW
            self.leaves[event.order_id] = event.quantity
            return
        assert isinstance(
            event, ev.OrderAccepted | ev.OrderDenied | ev.OrderRejected | ev.OrderFilled | ev.OrderCanceled | ev.OrderExpired
        )
        if isinstance(event, ev.OrderFilled):
            assert 0 < event.last_qty <= self.leaves[event.order_id], "fill exceeds the order's leaves"
            self.leaves[event.order_id] -= event.last_qty
            trigger = OrderTrigger.FILL if not self.leaves[event.order_id] else OrderTrigger.PARTIAL_FILL
        else:
            trigger = {
                ev.OrderAccepted: OrderTrigger.ACCEPT,
                ev.OrderDenied: OrderTrigger.DENY,
                ev.OrderRejected: OrderTrigger.REJECT,
                ev.OrderCanceled: OrderTrigger.CANCEL,
                ev.OrderExpired: OrderTrigger.EXPIRE,
            }[type(event)]
        key = (self.status[event.order_id], trigger)
        assert key in TRANSITIONS, f"illegal transition emitted: {key}"
        self.status[event.order_id] = TRANSITIONS[key]


@settings(max_examples=150, deadline=None)
@given(actions)
def test_random_inputs_keep_every_invariant(script: list[tuple]) -> None:  # type: ignore[type-arg]
    driver = BookDriver(SETTINGS, session_end_ms=SESSION_END)
    book = driver.book
    mirror = Mirror()
    for offset, event in enumerate(make_inputs(script)):
        halted_before = book.trading_state is ev.TradingState.HALTED
        events = feed(driver, event, offset)
        for e in events:
            mirror.see(e)
        # Our risk's refusals are denials; the simulated venue rejects nothing.
        assert not any(isinstance(e, ev.OrderRejected) for e in events)
        assert abs(book.position_qty) <= MAX_POSITION
        if halted_before:
            assert not any(isinstance(e, ev.OrderAccepted | ev.OrderFilled) for e in events)
        if book.trading_state is ev.TradingState.HALTED:
            assert book.open_orders == ()
        # The OMS's open orders and the venue's working orders never drift apart.
        open_ids = [o.order_id for o in book.open_orders]
        assert open_ids == [w.order_id for w in book._venue.working_orders]
        assert all(book.open_orders[i].leaves_qty == w.leaves_qty for i, w in enumerate(book._venue.working_orders))
        assert all(mirror.leaves[o.order_id] == o.leaves_qty for o in book.open_orders)


@settings(max_examples=60, deadline=None)
@given(actions, st.integers(0, 60))
def test_restored_book_continues_like_the_original(script: list[tuple], cut: int) -> None:  # type: ignore[type-arg]
    inputs = make_inputs(script)
    cut = min(cut, len(inputs))
    original = BookDriver(SETTINGS, session_end_ms=SESSION_END)
    for offset, event in enumerate(inputs[:cut]):
        feed(original, event, offset)
    restored = BookDriver.from_state(json.loads(json.dumps(original.to_state())), session_end_ms=SESSION_END)
    for offset, event in enumerate(inputs[cut:], start=cut):
        assert feed(restored, event, offset) == feed(original, event, offset)
    assert restored.to_state() == original.to_state()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ev.Side), st.integers(1, 4)), max_size=20))
def test_halted_accepts_nothing(orders: list[tuple[ev.Side, int]]) -> None:
    stream = InputStream()
    book = BookDriver().book
    book.on_tick(stream.tick("1650.00"), stream.derivation())
    halt = stream.trading_state(ev.TradingState.HALTED)
    book.set_trading_state(halt.state, halt, stream.derivation())
    for side, qty in orders:
        events = book.on_intent(stream.intent(side, qty), stream.derivation())
        assert [type(e) for e in events] == [ev.OrderInitialized, ev.OrderDenied]
        assert isinstance(events[1], ev.OrderDenied) and events[1].reason == "TRADING_HALTED"
    assert book.open_orders == ()


# --- the order alone: random event sequences never apply an illegal transition ----------------

order_events = st.lists(
    st.one_of(
        st.just(("accept",)),
        st.just(("deny",)),
        st.just(("reject",)),
        st.just(("cancel",)),
        st.just(("expire",)),
        st.tuples(st.just("fill"), st.integers(0, 6)),
    ),
    max_size=12,
)


def make_event(kind: tuple, derivation: Derivation) -> ev.Event:  # type: ignore[type-arg]
    env = derivation.envelope(1, "c", "corr")
    if kind[0] == "fill":
        return ev.OrderFilled(env, "o", env.event_id, "ES", ev.Side.BUY, D(kind[1]), D("1650"), D(0), "TAKER")
    cls = {
        "accept": ev.OrderAccepted,
        "cancel": ev.OrderCanceled,
        "expire": ev.OrderExpired,
        "deny": ev.OrderDenied,
        "reject": ev.OrderRejected,
    }[kind[0]]
    extra = {"deny": ("CODE", "detail"), "reject": ("CODE", "detail"), "cancel": ("why",)}.get(kind[0], ())
    return cls(env, "o", "ES", *extra)  # type: ignore[call-arg]


@settings(max_examples=200, deadline=None)
@given(order_events)
def test_order_applies_only_legal_transitions(kinds: list[tuple]) -> None:  # type: ignore[type-arg]
    derivation = Derivation("t", 0, 0, "test")
    init = ev.OrderInitialized(
        derivation.envelope(0, None),
        "o",
        "i",
        "ES",
        ev.Side.BUY,
        ev.OrderType.MARKET,
        D(5),
        None,
        ev.TimeInForce.GTC,
        None,
    )
    order = Order.from_event(init)
    for kind in kinds:
        event = make_event(kind, derivation)
        before = order.to_state()
        try:
            order.apply(event)  # type: ignore[arg-type]
        except (InvalidStateTransition, OrderEventRefused):
            assert order.to_state() == before
            continue
        old, new = OrderStatus(before["status"]), order.status
        assert (old, new) in {(src, dst) for (src, _), dst in TRANSITIONS.items()}
        assert 0 <= order.leaves_qty <= order.quantity
