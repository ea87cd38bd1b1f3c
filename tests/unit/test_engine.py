"""The composed kernel: control inputs, refused configuration, offsets already applied."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench.common import sample_ticks
from contract.events import (
    ConfigApplied,
    ConfigChanged,
    DeadLettered,
    Envelope,
    OrderCanceled,
    Tick,
    TradingState,
    TradingStateApplied,
    TradingStateChanged,
)
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings, validate_change

T0 = 1378184400000  # 2013-09-03 00:00 America/Chicago


def _envelope(n: int, time_ms: int) -> Envelope:
    return Envelope(f"in-{n}", time_ms, "test", None, f"in-{n}")


def _tick(n: int, price: str = "1650.25") -> Tick:
    return Tick(_envelope(n, T0 + n * 1000), "ES", "CME", n, Decimal(price), Decimal(1))


def _kernel() -> TradingKernel:
    return TradingKernel(0, KernelSettings.parse(), BaselineScorer())


def test_an_offset_already_applied_is_ignored() -> None:
    kernel = _kernel()
    kernel.apply(_tick(1), 0)
    state = kernel.to_state()
    assert kernel.apply(_tick(2), 0) == []
    assert kernel.to_state() == state


def test_a_bad_config_change_is_dead_lettered_and_changes_nothing() -> None:
    kernel = _kernel()
    kernel.apply(_tick(1), 0)
    change = ConfigChanged(_envelope(2, T0 + 2000), None, {"risk.max_order_qty": "-3"}, "typo", "ops")
    (refused,) = kernel.apply(change, 1)
    assert isinstance(refused, DeadLettered)
    assert (refused.error_type, refused.source_offset) == ("BadConfig", 1)
    assert "risk.max_order_qty" in refused.reason
    assert refused.envelope.causation_id == "in-2"
    assert kernel.settings == KernelSettings.parse()
    assert kernel.last_applied_offset == 1


def test_a_good_config_change_is_in_force_from_its_offset() -> None:
    kernel = _kernel()
    kernel.apply(_tick(1), 0)
    (applied,) = kernel.apply(ConfigChanged(_envelope(2, T0 + 2000), None, {"strategy.threshold": "0.9"}, "tighter", "ops"), 1)
    assert kernel.settings == KernelSettings.parse({"strategy.threshold": "0.9"})
    assert kernel.symbols["ES"].strategy.config.threshold == Decimal("0.9")
    assert isinstance(applied, ConfigApplied)
    assert (applied.changed, applied.settings["strategy.threshold"], applied.partition) == ({"strategy.threshold": "0.9"}, "0.9", 0)
    assert applied.settings["instrument.ES.multiplier"] == "50"  # reference data travels with the settings in force


def test_the_kill_switch_reaches_the_book_of_each_symbol() -> None:
    kernel = _kernel()
    kernel.apply(_tick(1), 0)
    (applied,) = kernel.apply(TradingStateChanged(_envelope(2, T0 + 2000), None, TradingState.HALTED, "drill", "ops"), 1)
    assert kernel.symbols["ES"].book.trading_state is TradingState.HALTED
    assert isinstance(applied, TradingStateApplied)
    assert (applied.partition_state, applied.symbol_states, applied.envelope.causation_id) == (TradingState.HALTED, {}, "in-2")
    kernel.apply(TradingStateChanged(_envelope(3, T0 + 3000), "NQ", TradingState.ACTIVE, "other symbol", "ops"), 2)
    assert kernel.symbols["ES"].book.trading_state is TradingState.HALTED


def test_halting_cancels_working_orders() -> None:
    kernel = TradingKernel(
        0,
        KernelSettings.parse(
            {"strategy.order_type": "LIMIT", "strategy.limit_offset_ticks": "-40", "strategy.time_in_force": "GTC"}
        ),
        BaselineScorer(),
    )
    offset = 0
    for tick in sample_ticks(120_000):
        kernel.apply(tick, offset)
        offset += 1
        if kernel.symbols["ES"].book.open_orders:
            break
    assert kernel.symbols["ES"].book.open_orders, "the sample never left a limit order working"
    applied, *out = kernel.apply(TradingStateChanged(_envelope(9, tick.event_time_ms), None, TradingState.HALTED, "drill", "ops"), offset)
    assert isinstance(applied, TradingStateApplied)
    assert out and all(isinstance(e, OrderCanceled) for e in out)
    assert not kernel.symbols["ES"].book.open_orders


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"foo.bar": "1"}, "unknown setting(s) foo.bar"),
        ({"strategy.threshold": "abc"}, "strategy.threshold"),
        ({"pattern.ema_fast": "30"}, "ema_fast"),
        ({"risk.max_position": "-1"}, "risk.max_position"),
        ({"sim.latency_ms": "x"}, "sim.latency_ms"),
        ({"input.late_tolerance_ms": "-5"}, "input.late_tolerance_ms"),
        ({"instrument.ES.multiplier": "20"}, "cannot change once defined"),
    ],
)
def test_settings_are_validated_by_every_stage(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_change(settings)


def test_a_symbols_own_change_holds_partition_wide_keys_back() -> None:
    with pytest.raises(ValueError, match="cannot be set for symbol ES alone"):
        validate_change({"instrument.NQ.venue": "CME"}, "ES")
    validate_change({"risk.max_position": "3"}, "ES")
