"""The execution simulator: latency, market and limit fills, partials, IOC, DAY expiry, slippage, fees."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from contract import events as ev
from contract.derivation import Derivation
from oms.instruments import BUILTIN_INSTRUMENT_SETTINGS, instrument
from oms.order import Order
from oms.simulator import IOC_REMAINDER, ExecutionSimulator, SimConfig
from tests.oms_inputs import START_MS, InputStream

D = Decimal
B, S = ev.Side.BUY, ev.Side.SELL
T0 = START_MS
ES = instrument("ES", BUILTIN_INSTRUMENT_SETTINGS)


def accepted_order(
    name: str,
    side: ev.Side,
    qty: str,
    limit: str | None = None,
    tif: ev.TimeInForce = ev.TimeInForce.GTC,
    expire: int | None = None,
) -> Order:
    derivation = Derivation(f"intents.{name}", 0, 0, "test")
    init_env = derivation.envelope(T0, "intent", f"corr-{name}")
    order_type = ev.OrderType.MARKET if limit is None else ev.OrderType.LIMIT
    order = Order.from_event(
        ev.OrderInitialized(init_env, name, "intent", "ES", side, order_type, D(qty), limit and D(limit), tif, expire)
    )
    order.apply(ev.OrderAccepted(derivation.envelope(T0, init_env.event_id, f"corr-{name}"), name, "ES"))
    return order


class Venue:
    """A simulator with its own input stream; ``tick`` returns the events as (kind, order, qty, price)."""

    def __init__(self, latency_ms: int = 50, slippage_ticks: int = 0) -> None:
        self.sim = ExecutionSimulator(ES, SimConfig(latency_ms, slippage_ticks))
        self.inputs = InputStream(start_ms=T0)
        self.events: list[ev.Event] = []

    def submit(self, *orders: Order, at_ms: int = T0) -> None:
        for order in orders:
            assert self.sim.submit_order(order, at_ms) == []

    def tick(self, price: str, size: str = "10", at_ms: int | None = None) -> list[tuple[str, str, str, str]]:
        tick = self.inputs.tick(price, size, at_ms)
        events = self.sim.on_market_tick(tick, self.inputs.derivation())
        self.events += events
        return [summary(e) for e in events]


def summary(event: ev.Event) -> tuple[str, str, str, str]:
    if isinstance(event, ev.OrderFilled):
        return ("fill", event.order_id, str(event.last_qty), str(event.last_price))
    if isinstance(event, ev.OrderCanceled):
        return ("cancel", event.order_id, event.reason, "")
    assert isinstance(event, ev.OrderExpired)
    return ("expire", event.order_id, "", "")


def test_latency_in_event_time() -> None:
    venue = Venue(latency_ms=50)
    venue.submit(accepted_order("a", B, "1"))
    assert venue.tick("1650.00", at_ms=T0) == []
    assert venue.tick("1650.25", at_ms=T0 + 49) == []
    assert venue.tick("1650.50", at_ms=T0 + 50) == [("fill", "a", "1", "1650.50")]
    assert not venue.sim.has_working_orders


def test_zero_latency_still_needs_a_later_tick() -> None:
    venue = Venue(latency_ms=0)
    venue.tick("1650.00", at_ms=T0)  # the tick that led to the order: seen before the order exists
    venue.submit(accepted_order("a", B, "1"))
    assert venue.tick("1650.25", at_ms=T0) == [("fill", "a", "1", "1650.25")]


@pytest.mark.parametrize(
    ("side", "slippage", "price"), [(B, 0, "1650.00"), (B, 2, "1650.50"), (S, 2, "1649.50"), (S, 0, "1650.00")]
)
def test_market_slippage_is_adverse(side: ev.Side, slippage: int, price: str) -> None:
    venue = Venue(slippage_ticks=slippage)
    venue.submit(accepted_order("a", side, "1"))
    assert venue.tick("1650.00", at_ms=T0 + 100) == [("fill", "a", "1", price)]


@pytest.mark.parametrize(
    ("side", "limit", "trades", "fill_at"),
    [
        (B, "1650.00", ["1650.25", "1650.50"], None),
        (B, "1650.00", ["1650.25", "1650.00"], 1),
        (B, "1650.00", ["1649.50"], 0),  # traded through: filled at the limit, not the better trade price
        (S, "1650.00", ["1649.75", "1649.50"], None),
        (S, "1650.00", ["1649.75", "1650.00"], 1),
        (S, "1650.00", ["1650.75"], 0),
    ],
)
def test_limit_fills_when_the_trade_reaches_it(
    side: ev.Side, limit: str, trades: list[str], fill_at: int | None
) -> None:
    venue = Venue()
    venue.submit(accepted_order("a", side, "1", limit))
    results = [venue.tick(price, at_ms=T0 + 100 * (i + 1)) for i, price in enumerate(trades)]
    expected = [[("fill", "a", "1", limit)] if i == fill_at else [] for i in range(len(trades))]
    assert results == expected
    fills = [e for e in venue.events if isinstance(e, ev.OrderFilled)]
    assert all(f.liquidity == "MAKER" for f in fills)


def test_partial_fills_across_ticks_are_capped_by_trade_size() -> None:
    venue = Venue()
    venue.submit(accepted_order("a", B, "5"))
    assert venue.tick("1650.00", "2", T0 + 100) == [("fill", "a", "2", "1650.00")]
    assert venue.tick("1650.25", "2", T0 + 200) == [("fill", "a", "2", "1650.25")]
    assert venue.tick("1650.50", "3", T0 + 300) == [("fill", "a", "1", "1650.50")]
    assert venue.tick("1650.75", "3", T0 + 400) == []


def test_trade_size_is_shared_in_acceptance_order() -> None:
    venue = Venue()
    venue.submit(accepted_order("first", S, "3"), accepted_order("second", S, "3", "1650.00"))
    venue.submit(accepted_order("late", S, "1"), at_ms=T0 + 500)
    assert venue.tick("1650.00", "4", T0 + 100) == [
        ("fill", "first", "3", "1650.00"),
        ("fill", "second", "1", "1650.00"),
    ]
    # "late" is not eligible yet and takes nothing; "second" gets the whole next print.
    assert venue.tick("1650.00", "1", T0 + 200) == [("fill", "second", "1", "1650.00")]
    assert venue.tick("1650.00", "5", T0 + 600) == [
        ("fill", "second", "1", "1650.00"),
        ("fill", "late", "1", "1650.00"),
    ]


@pytest.mark.parametrize(
    ("limit", "size", "expected"),
    [
        (None, "2", [("fill", "a", "2", "1650.00"), ("cancel", "a", IOC_REMAINDER, "")]),
        (None, "9", [("fill", "a", "5", "1650.00")]),
        ("1649.00", "9", [("cancel", "a", IOC_REMAINDER, "")]),
    ],
)
def test_ioc_remainder_is_cancelled_on_the_first_eligible_tick(limit: str | None, size: str, expected: list) -> None:
    venue = Venue()
    venue.submit(accepted_order("a", B, "5", limit, ev.TimeInForce.IOC))
    assert venue.tick("1650.00", size, T0 + 10) == []  # not eligible yet: an IOC waits for its latency
    assert venue.tick("1650.00", size, T0 + 50) == expected
    assert not venue.sim.has_working_orders


def test_day_order_expires_at_first_tick_at_or_after_expiry_before_trading_on_it() -> None:
    venue = Venue()
    venue.submit(
        accepted_order("day", B, "5", "1650.00", ev.TimeInForce.DAY, expire=T0 + 1_000),
        accepted_order("gtc", B, "5", "1650.00", ev.TimeInForce.GTC),
    )
    assert venue.tick("1650.00", "4", T0 + 500) == [("fill", "day", "4", "1650.00")]
    assert venue.tick("1651.00", "1", T0 + 999) == []
    assert venue.tick("1650.00", "1", T0 + 1_000) == [("expire", "day", "", ""), ("fill", "gtc", "1", "1650.00")]
    assert [w.order_id for w in venue.sim.working_orders] == ["gtc"]


def test_fill_event_fields() -> None:
    venue = Venue()
    order = accepted_order("a", S, "3")
    venue.submit(order)
    venue.tick("1650.00", "3", T0 + 100)
    (fill,) = venue.events
    assert isinstance(fill, ev.OrderFilled)
    assert fill.fee == D("6.75") and fill.liquidity == "TAKER" and fill.side is S and fill.symbol == "ES"
    assert fill.fill_id == fill.event_id
    assert fill.envelope.correlation_id == order.correlation_id == "corr-a"
    assert fill.event_time_ms == T0 + 100


def test_fill_is_caused_by_its_tick() -> None:
    venue = Venue()
    venue.submit(accepted_order("a", B, "1"))
    tick = venue.inputs.tick("1650.00", "1", T0 + 100)
    (fill,) = venue.sim.on_market_tick(tick, venue.inputs.derivation())
    assert fill.envelope.causation_id == tick.event_id


def test_cancel_order() -> None:
    venue = Venue()
    venue.submit(accepted_order("a", B, "1"), accepted_order("b", B, "1"))
    derivation = Derivation("control", 0, 1, "test")
    (cancel,) = venue.sim.cancel_order("a", "TRADING_HALTED", T0 + 5, "kill", derivation)
    assert isinstance(cancel, ev.OrderCanceled) and cancel.reason == "TRADING_HALTED"
    assert cancel.envelope.causation_id == "kill" and cancel.envelope.correlation_id == "corr-a"
    assert venue.sim.cancel_order("a", "TRADING_HALTED", T0 + 5, "kill", derivation) == []
    assert [w.order_id for w in venue.sim.working_orders] == ["b"]


def test_refuses_foreign_ticks_and_double_submission() -> None:
    venue = Venue()
    order = accepted_order("a", B, "1")
    venue.submit(order)
    with pytest.raises(ValueError):
        venue.sim.submit_order(order, T0)
    with pytest.raises(ValueError):
        venue.sim.on_market_tick(InputStream("NQ").tick("15000"), Derivation("t", 0, 0, "test"))


def test_state_round_trips_and_continues_alike() -> None:
    venue = Venue(latency_ms=20, slippage_ticks=1)
    venue.submit(accepted_order("a", B, "4", "1650.00", ev.TimeInForce.DAY, T0 + 900), accepted_order("b", S, "2"))
    venue.tick("1650.00", "1", T0 + 100)
    state = json.loads(json.dumps(venue.sim.to_state()))
    restored = ExecutionSimulator.from_state(ES, SimConfig(20, 1), state)
    assert restored.working_orders == venue.sim.working_orders
    for at_ms in (T0 + 200, T0 + 900):
        tick = venue.inputs.tick("1649.75", "2", at_ms)
        assert restored.on_market_tick(tick, venue.inputs.derivation()) == venue.sim.on_market_tick(
            tick, venue.inputs.derivation()
        )
    assert restored.to_state() == venue.sim.to_state()


def test_sim_config_from_settings() -> None:
    assert SimConfig.from_settings({}) == SimConfig(latency_ms=50, slippage_ticks=0)
    assert SimConfig.from_settings({"sim.latency_ms": "5", "sim.slippage_ticks": "1"}) == SimConfig(5, 1)
    for bad in ({"sim.latency_ms": "-1"}, {"sim.slippage_ticks": "x"}, {"sim.latency": "5"}):
        with pytest.raises(ValueError):
            SimConfig.from_settings(bad)

