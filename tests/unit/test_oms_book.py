"""The per-symbol OMS facade: given inputs, when one more arrives, then these events."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from contract import events as ev
from contract.ids import id_from_parts
from contract.serde import EventCodec
from tests.book_driver import BookDriver, Input
from tests.oms_inputs import START_MS, InputStream, derivation_at

D = Decimal
B, S = ev.Side.BUY, ev.Side.SELL
SESSION_END = START_MS + 3_600_000
SETTINGS = {"risk.max_position": "4", "risk.max_order_qty": "3", "risk.max_daily_loss": "500", "sim.latency_ms": "50"}


def driver(settings: dict[str, str] | None = None) -> BookDriver:
    return BookDriver(settings, session_end_ms=SESSION_END)


def send(book: BookDriver, stream: InputStream, event: Input) -> list[ev.Event]:
    """Feed an input that ``stream`` has just made (its derivation is the stream's latest offset)."""
    return book.feed(event, stream.derivation())


def kinds(events: list[ev.Event]) -> list[str]:
    """Events as short strings: ``Denied:MAX_POSITION``, ``Filled:2@1650.25``..."""
    out = []
    for e in events:
        name = type(e).__name__.removeprefix("Order")
        if isinstance(e, ev.OrderDenied | ev.OrderCanceled):
            name += f":{e.reason}"
        elif isinstance(e, ev.OrderFilled):
            name += f":{e.last_qty.normalize()}@{e.last_price}"
        out.append(name)
    return out


class Scenario:
    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.stream = InputStream()
        self.driver = driver(SETTINGS if settings is None else settings)
        self.book = self.driver.book
        self.book.on_session_start()

    def tick(self, price: str, size: str = "10") -> list[str]:
        return kinds(send(self.driver, self.stream, self.stream.tick(price, size)))

    def intent(
        self, side: ev.Side, qty: str, limit: str | None = None, tif: ev.TimeInForce = ev.TimeInForce.GTC
    ) -> list[str]:
        return kinds(send(self.driver, self.stream, self.stream.intent(side, qty, limit, tif)))

    def control(self, event: ev.TradingStateChanged | ev.ConfigChanged) -> list[str]:
        return kinds(send(self.driver, self.stream, event))

    def state(self, state: ev.TradingState) -> list[str]:
        return self.control(self.stream.trading_state(state))


@pytest.fixture
def sc() -> Scenario:
    s = Scenario()
    s.tick("1650.00")
    return s


def test_accepted_intent_chain() -> None:
    stream, es = InputStream(), driver({})
    book = es.book
    send(es, stream, stream.tick("1650.00"))
    intent = stream.intent(B, 2, "1649.75", ev.TimeInForce.DAY)
    init, accepted = send(es, stream, intent)
    assert isinstance(init, ev.OrderInitialized) and isinstance(accepted, ev.OrderAccepted)
    assert init.order_id == accepted.order_id == id_from_parts(intent.event_id, "order")
    assert init.intent_id == intent.event_id and init.expire_time_ms == SESSION_END
    assert (init.quantity, init.limit_price, init.side) == (D(2), D("1649.75"), B)
    assert init.envelope.causation_id == intent.event_id and accepted.envelope.causation_id == init.event_id
    assert init.envelope.correlation_id == accepted.envelope.correlation_id == intent.envelope.correlation_id
    assert init.event_time_ms == accepted.event_time_ms == intent.event_time_ms
    assert [o.order_id for o in book.open_orders] == [init.order_id]
    assert book.open_qty(B) == 2 and book.open_qty(S) == 0


def test_gtc_and_ioc_orders_do_not_expire(sc: Scenario) -> None:
    for tif in (ev.TimeInForce.GTC, ev.TimeInForce.IOC):
        init, _ = send(sc.driver, sc.stream, sc.stream.intent(B, 1, None, tif))
        assert isinstance(init, ev.OrderInitialized) and init.expire_time_ms is None


def test_rejected_intent_leaves_no_open_order(sc: Scenario) -> None:
    assert sc.intent(B, "9") == ["Initialized", "Denied:MAX_ORDER_QTY"]
    assert sc.book.open_orders == () and sc.book.position_qty == 0


def test_fill_chain_and_position(sc: Scenario) -> None:
    intent = sc.stream.intent(B, 2)
    send(sc.driver, sc.stream, intent)
    tick = sc.stream.tick("1650.25", "5")
    (fill,) = send(sc.driver, sc.stream, tick)
    assert isinstance(fill, ev.OrderFilled)
    assert fill.envelope.causation_id == tick.event_id
    assert fill.envelope.correlation_id == intent.envelope.correlation_id
    assert fill.fill_id == fill.event_id and fill.event_time_ms == tick.event_time_ms
    assert sc.book.position_qty == 2 and sc.book.avg_entry_price == D("1650.25")
    assert sc.book.daily_fees == D("4.5") and sc.book.open_orders == ()
    sc.tick("1651.25")
    assert sc.book.unrealized_pnl == D(100) and sc.book.last_price == D("1651.25")
    assert sc.book.daily_pnl == D("95.5")


def test_partial_fills_then_day_expiry(sc: Scenario) -> None:
    assert sc.intent(B, "3", "1650.00", ev.TimeInForce.DAY) == ["Initialized", "Accepted"]
    assert sc.tick("1650.00", "1") == ["Filled:1@1650.00"]
    assert sc.tick("1650.25", "5") == []
    assert sc.book.open_qty(B) == 2
    send(sc.driver, sc.stream, sc.stream.tick("1650.00", "5", at_ms=SESSION_END))
    assert sc.book.open_orders == () and sc.book.position_qty == 1


def test_expiry_event_is_emitted(sc: Scenario) -> None:
    sc.intent(S, "1", "1660.00", ev.TimeInForce.DAY)
    events = send(sc.driver, sc.stream, sc.stream.tick("1650.00", at_ms=SESSION_END + 1))
    assert [type(e) for e in events] == [ev.OrderExpired]


def test_ioc_remainder(sc: Scenario) -> None:
    sc.intent(S, "3", None, ev.TimeInForce.IOC)
    assert sc.tick("1649.75", "2") == ["Filled:2@1649.75", "Canceled:IOC_REMAINDER"]
    assert sc.book.position_qty == -2 and sc.book.open_orders == ()


def test_halted_cancels_everything_and_accepts_nothing(sc: Scenario) -> None:
    sc.intent(B, "1", "1649.00")
    sc.intent(S, "1", "1651.00")
    assert sc.state(ev.TradingState.HALTED) == ["Canceled:TRADING_HALTED", "Canceled:TRADING_HALTED"]
    assert sc.book.trading_state is ev.TradingState.HALTED and sc.book.open_orders == ()
    assert sc.intent(B, "1") == ["Initialized", "Denied:TRADING_HALTED"]
    assert sc.state(ev.TradingState.ACTIVE) == []
    assert sc.intent(B, "1") == ["Initialized", "Accepted"]


def test_reducing_keeps_only_reducing_orders(sc: Scenario) -> None:
    sc.intent(B, "2")
    sc.tick("1650.00")
    sc.intent(B, "1", "1649.00")  # would grow the long
    sc.intent(S, "1", "1651.00")  # reduces
    sc.intent(S, "2", "1652.00")  # with the one before, would flip the position
    assert sc.state(ev.TradingState.REDUCING) == ["Canceled:TRADING_REDUCING", "Canceled:TRADING_REDUCING"]
    assert [(o.side, o.quantity) for o in sc.book.open_orders] == [(S, D(1))]
    assert sc.intent(B, "1") == ["Initialized", "Denied:TRADING_REDUCING"]
    assert sc.intent(S, "1") == ["Initialized", "Accepted"]


def test_control_for_another_symbol_is_ignored(sc: Scenario) -> None:
    assert sc.control(sc.stream.trading_state(ev.TradingState.HALTED, symbol="NQ")) == []
    assert sc.control(sc.stream.config({"risk.max_order_qty": "1"}, symbol="NQ")) == []
    assert sc.book.trading_state is ev.TradingState.ACTIVE and sc.book.limits.max_order_qty == 3


def test_config_change_applies_from_its_point_on(sc: Scenario) -> None:
    assert sc.intent(B, "2") == ["Initialized", "Accepted"]
    sc.control(sc.stream.config({"risk.max_order_qty": "1", "pattern.ema_fast": "12", "sim.slippage_ticks": "2"}))
    assert sc.book.limits.max_order_qty == 1 and sc.book.limits.max_position == 4
    assert sc.tick("1650.00") == ["Filled:2@1650.50"]  # slippage applies to the resting order too
    assert sc.intent(B, "2") == ["Initialized", "Denied:MAX_ORDER_QTY"]


@pytest.mark.parametrize(
    "settings", [{"risk.max_order_qty": "lots"}, {"risk.max_ordr_qty": "1"}, {"instrument.ES.multiplier": "10"}]
)
def test_bad_config_is_refused_and_changes_nothing(sc: Scenario, settings: dict[str, str]) -> None:
    before = sc.book.to_state()
    with pytest.raises(ValueError):
        sc.control(sc.stream.config(settings))
    assert sc.book.to_state() == before


def test_duplicate_intent_is_rejected_under_its_own_order_id(sc: Scenario) -> None:
    intent = sc.stream.intent(B, 1)
    first = send(sc.driver, sc.stream, intent)
    sc.stream.offset += 1  # sequenced again, at a later offset
    again = send(sc.driver, sc.stream, intent)
    assert kinds(again) == ["Initialized", "Denied:DUPLICATE_INTENT"]
    assert isinstance(first[0], ev.OrderInitialized) and isinstance(again[0], ev.OrderInitialized)
    assert first[0].order_id != again[0].order_id and first[0].event_id != again[0].event_id
    assert len(sc.book.open_orders) == 1


def test_order_rate_window_in_event_time() -> None:
    sc = Scenario({"risk.max_orders_per_second": "2"})
    sc.tick("1650.00")
    sc.stream.step_ms = 400
    assert sc.intent(B, "1") == ["Initialized", "Accepted"]
    assert sc.intent(B, "1") == ["Initialized", "Accepted"]
    assert sc.intent(B, "1") == ["Initialized", "Denied:MAX_ORDER_RATE"]
    assert sc.intent(B, "1") == ["Initialized", "Accepted"]  # 1200 ms after the first: it slid out


def test_daily_loss_latches_until_the_next_session(sc: Scenario) -> None:
    sc.intent(B, "2")
    sc.tick("1650.00")
    sc.tick("1645.00")  # -500 unrealized, -4.50 fees
    assert sc.intent(B, "1") == ["Initialized", "Denied:MAX_DAILY_LOSS"]
    sc.tick("1660.00")  # recovered, but the breach stays for the day
    assert sc.intent(B, "1") == ["Initialized", "Denied:MAX_DAILY_LOSS"]
    assert sc.intent(S, "1") == ["Initialized", "Accepted"]  # reducing is allowed
    sc.book.on_session_start()
    assert sc.book.daily_pnl == 0 and sc.book.daily_realized_pnl == 0
    assert sc.intent(B, "1") == ["Initialized", "Accepted"]


def test_session_start_resets_daily_figures(sc: Scenario) -> None:
    sc.intent(B, "1")
    sc.tick("1650.00")
    sc.intent(S, "1")
    sc.tick("1652.00")
    assert sc.book.daily_realized_pnl == D(100) and sc.book.realized_pnl == D(100)
    sc.book.on_session_start()
    assert sc.book.daily_realized_pnl == 0 and sc.book.daily_fees == 0 and sc.book.realized_pnl == D(100)


def test_tick_without_open_orders_only_marks(sc: Scenario) -> None:
    assert sc.tick("1655.50") == []
    assert sc.book.last_price == D("1655.50")


def test_inputs_for_another_symbol_are_refused(sc: Scenario) -> None:
    other = InputStream("NQ")
    with pytest.raises(ValueError):
        sc.book.on_tick(other.tick("15000"), other.derivation())
    with pytest.raises(ValueError):
        sc.book.on_intent(other.intent(B, 1), other.derivation(), SESSION_END)


def test_day_order_needs_a_session_end(sc: Scenario) -> None:
    before = sc.book.to_state()
    with pytest.raises(ValueError, match="session_end_ms"):
        sc.book.on_intent(sc.stream.intent(B, 1, None, ev.TimeInForce.DAY), sc.stream.derivation(), None)
    assert sc.book.to_state() == before


def script(stream: InputStream) -> list[Input]:
    """A day with a bit of everything; input ``i`` sits at offset ``i`` of the stream."""
    return [
        stream.tick("1650.00"),
        stream.intent(B, 2, "1649.75", ev.TimeInForce.DAY),
        stream.intent(S, 1, None, ev.TimeInForce.IOC),
        stream.tick("1649.75", "1"),
        stream.config({"sim.slippage_ticks": "1"}),
        stream.intent(B, 1),
        stream.tick("1649.50", "3"),
        stream.tick("1650.50", "2"),
        stream.intent(S, 3, "1651.00", ev.TimeInForce.GTC),
        stream.intent(B, 1, "1649.00", ev.TimeInForce.GTC),
        stream.trading_state(ev.TradingState.REDUCING),
        stream.intent(B, 1),
        stream.tick("1651.25", "1"),
        stream.trading_state(ev.TradingState.ACTIVE),
        stream.intent(S, 1, "1652.00", ev.TimeInForce.DAY),
        stream.tick("1652.00", "4", at_ms=SESSION_END),
    ]


def run(book: BookDriver, inputs: list[Input], first_offset: int) -> list[ev.Event]:
    out = []
    for offset, event in enumerate(inputs, start=first_offset):
        out += book.feed(event, derivation_at(offset))
    return out


def test_snapshot_restore_continues_exactly_like_the_original() -> None:
    inputs = script(InputStream())
    everything = run(driver(SETTINGS), inputs, 0)
    for cut in range(len(inputs) + 1):
        original = driver(SETTINGS)
        head = run(original, inputs[:cut], 0)
        restored = BookDriver.from_state(json.loads(json.dumps(original.to_state())), session_end_ms=SESSION_END)
        assert restored.to_state() == original.to_state()
        tail = run(original, inputs[cut:], cut)
        assert head + tail == everything
        assert run(restored, inputs[cut:], cut) == tail
        assert restored.to_state() == original.to_state()
    assert kinds(everything).count("Canceled:TRADING_REDUCING") == 1
    assert {"Canceled:IOC_REMAINDER", "Denied:TRADING_REDUCING", "Expired", "Filled:2@1651.00"} <= set(
        kinds(everything)
    )


def test_every_event_fits_the_wire_format() -> None:
    everything = run(driver(SETTINGS), script(InputStream()), 0)
    codec = EventCodec()
    assert [codec.decode(codec.encode(e)) for e in everything] == everything
