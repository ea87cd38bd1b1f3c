"""Properties: whatever the inputs, HALTED accepts nothing, REDUCING never grows a position, and no accepted
order breaches a per-symbol limit.

Random interleavings of ticks on three symbols of one partition (a random walk
each, in its own time order) with kill-switch inputs at both scopes, for
symbols seen and not yet seen. The test keeps its own record of the requested
states and checks every output of every input against it. The limits property
draws the per-symbol risk limits too, below what the strategy asks for.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from contract.events import (
    Envelope,
    Event,
    OrderAccepted,
    OrderDenied,
    OrderFilled,
    OrderInitialized,
    Tick,
    TradingState,
    TradingStateChanged,
)
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings
from oms.risk import RATE_WINDOW_MS

SYMBOLS = ("AA", "ES", "ZZ")
T0 = 1_378_188_000_000  # 2013-09-03 01:00 Chicago, inside one CME session
# Patterns that fire within a few seconds of one-second bars, a strategy that trades on any score.
FAST = {
    "pattern.bar_seconds": "1",
    "pattern.ema_fast": "2",
    "pattern.ema_slow": "3",
    "pattern.vol_window": "2",
    "pattern.volume_window": "1",
    "pattern.cooldown_bars": "0",
    "pattern.zscore_threshold": "0.5",
    "pattern.volume_surge": "0.5",
    "pattern.vwap_band": "0.5",
    "strategy.threshold": "0",
    "strategy.max_qty": "3",
    "strategy.max_position": "6",
    "strategy.risk_budget_usd": "100000",
    "strategy.reverse_on_opposite": "true",
    "strategy.order_type": "LIMIT",
    "strategy.limit_offset_ticks": "1",
    "strategy.time_in_force": "GTC",
    "risk.max_orders_per_second": "1000",
    **{
        f"instrument.{s}.{k}": v
        for s in ("AA", "ZZ")
        for k, v in {"venue": "CME", "currency": "USD", "multiplier": "50", "tick_size": "0.25"}.items()
    },
}
_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}

tick_step = st.tuples(st.just("tick"), st.sampled_from(SYMBOLS), st.integers(-4, 4), st.integers(1, 30))
control_step = st.tuples(
    st.just("control"), st.sampled_from((None, *SYMBOLS)), st.sampled_from(list(TradingState)), st.just(0)
)
scripts = st.lists(st.one_of(tick_step, tick_step, tick_step, tick_step, control_step), min_size=20, max_size=220)


def _inputs(script: list[tuple]) -> list[Event]:  # type: ignore[type-arg]
    prices = {s: Decimal("1650.00") for s in SYMBOLS}
    out: list[Event] = []
    for n, (kind, symbol, a, b) in enumerate(script):
        time_ms = T0 + 300 * n
        envelope = Envelope(f"in-{n}", time_ms, "test", None, f"in-{n}")
        if kind == "tick":
            prices[symbol] += Decimal(a) * Decimal("0.25")
            out.append(Tick(envelope, symbol, "CME", time_ms * 1_000_000, prices[symbol], Decimal(b)))
        else:
            out.append(TradingStateChanged(envelope, symbol, a, "fuzz", "test"))
    return out


@settings(max_examples=120, deadline=None)
@given(scripts)
def test_halted_accepts_and_fills_nothing_and_reducing_never_grows_a_position(script: list[tuple]) -> None:  # type: ignore[type-arg]
    kernel = TradingKernel(0, KernelSettings.parse(FAST), BaselineScorer())
    partition_state, own = TradingState.ACTIVE, {s: TradingState.ACTIVE for s in SYMBOLS}

    def state_of(symbol: str) -> TradingState:
        return max(partition_state, own[symbol], key=_SEVERITY.__getitem__)

    for offset, event in enumerate(_inputs(script)):
        if isinstance(event, TradingStateChanged):
            if event.symbol is None:
                partition_state = event.state
            else:
                own[event.symbol] = event.state
        before = {s: abs(kernel.symbols[s].book.position_qty) if s in kernel.symbols else 0 for s in SYMBOLS}
        out = kernel.apply(event, offset)
        for e in out:
            if isinstance(e, OrderAccepted | OrderFilled):
                assert state_of(e.symbol) is not TradingState.HALTED, f"{type(e).__name__} for {e.symbol} while HALTED"
        for symbol in SYMBOLS:
            if symbol in kernel.symbols:
                book = kernel.symbols[symbol].book
                assert book.trading_state is state_of(symbol)
                if state_of(symbol) is TradingState.HALTED:
                    assert book.open_orders == ()
                if state_of(symbol) is TradingState.REDUCING:
                    assert abs(book.position_qty) <= before[symbol], f"{symbol} grew while REDUCING"


limits = st.fixed_dictionaries({
    "strategy.max_qty": st.integers(1, 6),
    "risk.max_order_qty": st.integers(1, 4),
    "risk.max_position": st.integers(1, 8),
    "risk.max_orders_per_second": st.integers(1, 4),
    # In contracts of ~82,500 USD (multiplier 50 at ~1650), between one and eight of them and a bit.
    "risk.max_gross_exposure": st.integers(82_500, 700_000),
})


@settings(max_examples=60, deadline=None)
@given(scripts, limits)
def test_no_accepted_order_breaches_a_per_symbol_limit(script: list[tuple], drawn: dict[str, int]) -> None:  # type: ignore[type-arg]
    """Order size, worst-case position, gross exposure and order rate, checked at every acceptance."""
    kernel = TradingKernel(0, KernelSettings.parse({**FAST, **{k: str(v) for k, v in drawn.items()}}), BaselineScorer())
    quantities: dict[str, Decimal] = {}
    accepted: dict[str, list[int]] = {s: [] for s in SYMBOLS}
    for offset, event in enumerate(_inputs(script)):
        out = kernel.apply(event, offset)
        quantities.update({e.order_id: e.quantity for e in out if isinstance(e, OrderInitialized)})
        sides = {e.order_id: e.side for e in out if isinstance(e, OrderInitialized)}
        for e in out:
            if not isinstance(e, OrderAccepted):
                continue
            book = kernel.symbols[e.symbol].book
            assert quantities[e.order_id] <= drawn["risk.max_order_qty"], f"order of {quantities[e.order_id]}"
            times = accepted[e.symbol]
            times.append(e.event_time_ms)
            recent = [t for t in times if t > e.event_time_ms - RATE_WINDOW_MS]
            assert len(recent) <= drawn["risk.max_orders_per_second"], f"{len(recent)} orders accepted within a second"
            side = sides.get(e.order_id)
            if side is None:
                continue  # accepted when it reached the book: risk ran when it was initialized, on an earlier input
            worst = abs(book.position_qty + side.sign * book.open_qty(side))
            if worst > abs(book.position_qty):  # what only reduces the position never breaches (oms/risk.py)
                assert book.last_price is not None
                assert worst <= drawn["risk.max_position"], f"{e.symbol} could reach {worst}"
                assert worst * 50 * book.last_price <= drawn["risk.max_gross_exposure"], f"{e.symbol} exposure could reach {worst}"
        for symbol, state in kernel.symbols.items():
            assert abs(state.book.position_qty) <= drawn["risk.max_position"], f"{symbol} holds {state.book.position_qty}"


def test_the_limits_fuzzing_really_meets_its_limits() -> None:
    """Guards the limits property against passing vacuously: tight limits deny some of what the strategy asks for
    (a position or exposure denial means orders were accepted before it)."""
    script = [("tick", SYMBOLS[n % 3], (1, -1, 2, -2, 3, -3, 0)[n % 7] * (1 + n % 5), 5 + n % 11, ) for n in range(600)]
    denied = set()
    for tight in ({"strategy.max_qty": "6", "risk.max_order_qty": "2"}, {"strategy.max_qty": "2", "risk.max_position": "3"},
                  {"risk.max_gross_exposure": "100000"}):
        kernel = TradingKernel(0, KernelSettings.parse({**FAST, **tight}), BaselineScorer())
        out = [e for offset, event in enumerate(_inputs(script)) for e in kernel.apply(event, offset)]
        denied |= {e.reason for e in out if isinstance(e, OrderDenied)}
    assert {"MAX_ORDER_QTY", "MAX_POSITION", "MAX_GROSS_EXPOSURE"} <= denied, denied


def test_the_fuzzing_settings_really_trade() -> None:
    """Guards the property above against passing vacuously: with no kill switch, these inputs trade."""
    script = [("tick", SYMBOLS[n % 3], (1, -1, 2, -2, 3, -3, 0)[n % 7] * (1 + n % 5), 5 + n % 11, ) for n in range(600)]
    kernel = TradingKernel(0, KernelSettings.parse(FAST), BaselineScorer())
    out = [e for offset, event in enumerate(_inputs(script)) for e in kernel.apply(event, offset)]
    filled = {e.symbol for e in out if isinstance(e, OrderFilled)}
    assert filled == set(SYMBOLS)
