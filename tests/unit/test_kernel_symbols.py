"""The kernel beyond one symbol: partition-wide trading state, refused inputs, a defined order.

Each test here is a defect of the single-symbol kernel: a halt sent before a
symbol's first tick was ignored, a file loaded twice traded twice, a late tick
restarted the day (zeroing its P&L and the loss latch), and the cancels of a
halt got their ids in first-seen symbol order, so a restored kernel derived
other ids than live.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest

from bench.common import sample_ticks
from contract.derivation import Derivation
from contract.events import (
    ConfigApplied,
    ConfigChanged,
    DeadLettered,
    Envelope,
    Event,
    KernelSnapshotTaken,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    Tick,
    TradingState,
    TradingStateApplied,
    TradingStateChanged,
)
from contract.serde import EventCodec
from inference.baseline import BaselineScorer
from kernel.engine import SnapshotFormatError, TradingKernel
from kernel.settings import KernelSettings

# Two more CME contracts like ES, named so that first-seen order (ZZ first) is not sorted order.
INSTRUMENTS = {
    f"instrument.{s}.{k}": v
    for s in ("AA", "ZZ")
    for k, v in {"venue": "CME", "currency": "USD", "multiplier": "50", "tick_size": "0.25"}.items()
}
RESTING = {"strategy.order_type": "LIMIT", "strategy.limit_offset_ticks": "-40", "strategy.time_in_force": "GTC"}
HOUR_MS = 3_600_000


def _kernel(**extra: str) -> TradingKernel:
    return TradingKernel(0, KernelSettings.parse({**INSTRUMENTS, **extra}), BaselineScorer())


def _control(n: int, time_ms: int, state: TradingState, symbol: str | None = None) -> TradingStateChanged:
    envelope = Envelope(f"control-{n}", time_ms, "test", None, f"control-{n}")
    return TradingStateChanged(envelope, symbol, state, "drill", "ops")


def _as(symbol: str, tick: Tick, shift_ms: int = 0, tag: str = "") -> Tick:
    """The sample tick re-labelled for ``symbol`` (its own id, same price grid)."""
    event_id = f"{symbol}{tag}-{tick.event_id}"
    envelope = Envelope(event_id, tick.event_time_ms + shift_ms, "test", None, event_id)
    return Tick(envelope, symbol, tick.venue, tick.sequence + shift_ms * 1_000_000, tick.price, tick.size)


def _run(kernel: TradingKernel, inputs: list[Event], first_offset: int = 0) -> list[Event]:
    return [e for offset, event in enumerate(inputs, start=first_offset) for e in kernel.apply(event, offset)]


def _count(events: list[Event]) -> Counter[str]:
    return Counter(type(e).__name__ for e in events)


@pytest.fixture(scope="module")
def es() -> list[Tick]:
    return sample_ticks(150_000)


# --- trading state for every symbol ------------------------------------------------------------


@pytest.mark.parametrize("scope", [None, "ES"])
def test_a_halt_sent_before_a_symbols_first_tick_holds_for_it(es: list[Tick], scope: str | None) -> None:
    kernel = _kernel()
    halt = _control(0, es[0].event_time_ms, TradingState.HALTED, scope)
    out = _run(kernel, [halt, *es])
    counts = _count(out)
    assert counts["Signal"] > 100  # the patterns fire ...
    assert counts["OrderAccepted"] == 0 and counts["OrderFilled"] == 0  # ... and nothing trades
    assert kernel.symbols["ES"].book.trading_state is TradingState.HALTED


def test_a_symbol_trades_under_the_more_severe_of_its_own_and_the_partitions_state(es: list[Tick]) -> None:
    kernel = _kernel()
    t = es[0].event_time_ms
    inputs = [
        _control(0, t, TradingState.HALTED),
        _control(1, t, TradingState.ACTIVE, "ES"),  # a per-symbol resume cannot lift a partition halt
        *es[:60_000],
    ]
    assert _count(_run(kernel, inputs))["OrderAccepted"] == 0
    (applied, *_) = kernel.apply(_control(2, es[60_000].event_time_ms, TradingState.ACTIVE), 60_002)
    assert isinstance(applied, TradingStateApplied)
    assert (applied.partition_state, applied.symbol_states) == (TradingState.ACTIVE, {})
    assert _count(_run(kernel, es[60_000:], 60_003))["OrderAccepted"] > 0


def test_a_trading_state_change_is_announced_with_the_whole_partition_state() -> None:
    kernel = _kernel()
    (first,) = _run(kernel, [_control(0, 1_000, TradingState.REDUCING, "ZZ")])[1:]
    assert isinstance(first, TradingStateApplied)
    assert (first.symbol, first.state, first.partition_state, first.symbol_states) == (
        "ZZ", TradingState.REDUCING, TradingState.ACTIVE, {"ZZ": "REDUCING"}
    )
    (second,) = kernel.apply(_control(1, 2_000, TradingState.HALTED), 1)
    assert isinstance(second, TradingStateApplied)
    assert (second.partition_state, second.symbol_states) == (TradingState.HALTED, {"ZZ": "REDUCING"})


# --- duplicate, late and unknown inputs ----------------------------------------------------------


def test_the_same_ticks_sequenced_twice_trade_once(es: list[Tick]) -> None:
    kernel = _kernel()
    once = _run(kernel, es)
    again = _run(kernel, es, len(es))  # a feed handler replaying after a reconnect: new offsets, same ticks
    refused = [e for e in again if not isinstance(e, KernelSnapshotTaken)]  # interval snapshots go on
    assert _count(once)["OrderAccepted"] > 0
    assert {type(e) for e in refused} == {DeadLettered}
    assert len(refused) == len(es) and {e.error_type for e in refused if isinstance(e, DeadLettered)} == {"DuplicateTick"}


def test_a_late_tick_is_refused_and_never_restarts_its_day(es: list[Tick]) -> None:
    kernel = _kernel()
    day_one = [t for t in es if t.event_time_ms < es[-1].event_time_ms - 6 * HOUR_MS]
    _run(kernel, es)
    book = kernel.symbols["ES"].book
    before = (kernel.symbols["ES"].session, book.daily_pnl, book.to_state())
    late = day_one[-1]
    newer = Tick(late.envelope, "ES", "CME", es[-1].sequence + 1, late.price, late.size)  # a new sequence, an old time
    (refused,) = kernel.apply(newer, len(es))
    assert isinstance(refused, DeadLettered) and refused.error_type == "TimeGoesBack"
    (stale,) = kernel.apply(late, len(es) + 1)
    assert isinstance(stale, DeadLettered) and stale.error_type == "DuplicateTick"
    assert (kernel.symbols["ES"].session, book.daily_pnl, book.to_state()) == before


def test_another_symbols_tick_behind_the_partition_clock_is_late_beyond_the_tolerance(es: list[Tick]) -> None:
    kernel = _kernel(**{"input.late_tolerance_ms": "500"})
    _run(kernel, es[:1000])
    clock = es[999].event_time_ms
    within = _as("AA", es[0], shift_ms=clock - 400 - es[0].event_time_ms)
    beyond = _as("ZZ", es[0], shift_ms=clock - 600 - es[0].event_time_ms)
    assert not any(isinstance(e, DeadLettered) for e in kernel.apply(within, 1000))
    (refused,) = kernel.apply(beyond, 1001)
    assert isinstance(refused, DeadLettered) and refused.error_type == "LateTick" and "600 ms behind" in refused.reason
    assert "ZZ" not in kernel.symbols


@pytest.mark.parametrize(
    ("symbol", "venue", "error"), [("NQ", "CME", "UnknownInstrument"), ("ES", "NYSE", "VenueMismatch")]
)
def test_a_tick_of_no_known_instrument_or_on_another_venue_is_refused(es: list[Tick], symbol: str, venue: str, error: str) -> None:
    kernel = _kernel()
    tick = Tick(es[0].envelope, symbol, venue, 1, es[0].price, es[0].size)
    out = kernel.apply(tick, 0)
    assert [type(e) for e in out] == [ConfigApplied, DeadLettered]
    assert out[1].error_type == error and symbol in out[1].reason
    assert kernel.symbols == {}


# --- one order everywhere ----------------------------------------------------------------------


def _two_symbols_resting(es: list[Tick]) -> tuple[list[Event], int]:
    """ZZ then AA (first seen in that order), each with a resting order, then a partition halt."""
    inputs: list[Event] = []
    for tick in es[:120_000]:
        inputs.append(_as("ZZ", tick))
        inputs.append(_as("AA", tick, shift_ms=1))
    kernel = _kernel(**RESTING)
    for offset, event in enumerate(inputs):
        kernel.apply(event, offset)
        if all(s in kernel.symbols and kernel.symbols[s].book.open_orders for s in ("AA", "ZZ")):
            cut = offset + 1
            break
    else:
        pytest.fail("the sample never left orders resting on both symbols")
    halt = _control(9, inputs[cut - 1].event_time_ms, TradingState.HALTED)
    return [*inputs[:cut], halt], cut


def test_a_halt_cancels_in_symbol_order_live_and_after_a_restore(es: list[Tick]) -> None:
    inputs, cut = _two_symbols_resting(es)
    live = _kernel(**RESTING)
    _run(live, inputs[:cut])
    snapshot = live.snapshot(Derivation("inputs", 0, cut - 1, "test"), inputs[cut - 1].event_time_ms, "test")
    restored = TradingKernel.from_state(json.loads(snapshot.state_json), BaselineScorer())
    live_out = live.apply(inputs[cut], cut)
    restored_out = restored.apply(inputs[cut], cut)
    cancels = [e for e in live_out if isinstance(e, OrderCanceled)]
    assert [c.symbol for c in cancels] == sorted(c.symbol for c in cancels) and {c.symbol for c in cancels} == {"AA", "ZZ"}
    codec = EventCodec()
    assert [codec.encode(e) for e in restored_out] == [codec.encode(e) for e in live_out]


# --- snapshots ----------------------------------------------------------------------------------


def test_a_snapshot_of_another_state_format_is_refused_with_what_wrote_it(es: list[Tick]) -> None:
    kernel = _kernel()
    _run(kernel, es[:10])
    state = kernel.to_state()
    old = {k: v for k, v in state.items() if k not in ("format", "code_version")}  # as the first kernel wrote them
    with pytest.raises(SnapshotFormatError, match=r"state format 1 \(taken by kernel/0.1.0 or earlier\)"):
        TradingKernel.from_state(old, BaselineScorer())
    assert TradingKernel.from_state(state, BaselineScorer()).to_state() == state


def test_the_partitions_day_starts_with_its_first_tick_and_moves_with_any_symbols_session(es: list[Tick]) -> None:
    kernel = _kernel()
    out = _run(kernel, es)
    starts = [(e.reason, e.input_offset) for e in out if isinstance(e, KernelSnapshotTaken)]
    assert starts[:2] == [("session-start 2013-09-02", -1), ("session-start 2013-09-03", 55_798)]


def test_settings_for_a_symbol_alone_wait_for_its_first_tick(es: list[Tick]) -> None:
    kernel = _kernel()
    change = ConfigChanged(Envelope("c-0", es[0].event_time_ms, "test", None, "c-0"), "AA", {"risk.max_order_qty": "0"}, "t", "ops")
    _run(kernel, [change])
    out = _run(kernel, [_as("AA", t) for t in es[:60_000]], 1)
    denied = [e for e in out if type(e).__name__ == "OrderDenied"]
    assert denied and {e.reason for e in denied} == {"MAX_ORDER_QTY"}
    assert not any(isinstance(e, OrderAccepted | OrderFilled) for e in out)
    assert kernel.symbols["AA"].settings.book.risk.max_order_qty == 0
    assert Decimal(kernel.settings.for_symbol("ZZ").book.risk.max_order_qty) == 10
