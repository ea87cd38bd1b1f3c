"""The scaled sets (``marketdata.synthetic.scaled_symbols``): one tick budget shared out over N symbols, and a kernel
whose work per tick does not grow with the symbols it holds."""

from __future__ import annotations

import gc
import itertools
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from aitrader.commands.common import parse_settings
from contract.events import DeadLettered, Tick
from contract.partitioner import partition_for
from contract.topics import INPUTS
from eventlog.ingest import read_ticks
from eventlog.sampledata import multi_symbol_ticks, write_multi_symbol_day
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings
from marketdata.calendar import VenueCalendars
from marketdata.synthetic import (
    SYNTHETIC_PREFIX,
    Derivation,
    instrument_settings,
    scaled_symbols,
)
from oms.instruments import SYMBOL

WINDOW = {"until": "2013-09-01 18:00"}  # the first hour of the sample: ~4,500 ticks, read in a moment
CALENDARS = VenueCalendars()


@pytest.fixture(scope="module")
def budgets() -> dict[int, list[Tick]]:
    return {n: multi_symbol_ticks(**WINDOW, derivations=scaled_symbols(n)) for n in (1, 10, 100)}


def _trades(ticks: Sequence[Tick]) -> list[tuple[int, str, str]]:
    return sorted((t.event_time_ms, str(t.price), str(t.size)) for t in ticks)


def test_every_count_shares_the_same_trades_out_one_symbol_each(budgets: dict[int, list[Tick]]) -> None:
    one = budgets[1]
    assert len(one) > 1_000
    for count, ticks in budgets.items():
        assert _trades(ticks) == _trades(one), f"{count} symbols: not the same trades as one symbol"
        per_symbol = Counter(t.symbol for t in ticks)
        assert len(per_symbol) == count
        assert max(per_symbol.values()) - min(per_symbol.values()) <= 1, per_symbol


def test_symbol_k_lands_on_partition_k_modulo_the_partitions_by_its_key() -> None:
    symbols = [d.symbol for d in scaled_symbols(100)]
    assert len(set(symbols)) == 100
    assert [partition_for(s, INPUTS.partitions) for s in symbols] == [k % INPUTS.partitions for k in range(100)]
    assert all(s.startswith(SYNTHETIC_PREFIX) and SYMBOL.match(s) for s in symbols)
    assert [d.symbol for d in scaled_symbols(10)] == symbols[:10]  # a smaller set is a prefix of a larger one


def test_the_written_settings_define_every_symbol_and_a_kernel_trades_them_all(tmp_path: Path, budgets: dict[int, list[Tick]]) -> None:
    derivations = scaled_symbols(100)
    written = write_multi_symbol_day(tmp_path, **WINDOW, derivations=derivations)
    assert parse_settings(written.settings, []) == instrument_settings(derivations)
    assert sum(written.rows.values()) == len(budgets[100])
    kernel = TradingKernel(0, KernelSettings.parse(instrument_settings(derivations)), BaselineScorer(), CALENDARS)
    refused = [e for offset, tick in enumerate(budgets[100]) for e in kernel.apply(tick, offset) if isinstance(e, DeadLettered)]
    assert refused == []
    assert sorted(kernel.symbols) == sorted(d.symbol for d in derivations)


def test_a_phase_outside_every_is_refused() -> None:
    with pytest.raises(ValueError, match="phase 3 is not in"):
        Derivation("SYN_X", "CME", "USD", scaled_symbols(1)[0].multiplier, scaled_symbols(1)[0].tick_size,
                   scaled_symbols(1)[0].fee_per_unit, every=3, phase=3)


def _lines_run(kernel: TradingKernel, ticks: Sequence[Tick], first_offset: int) -> tuple[int, int]:
    """(Python lines executed, events derived) while ``kernel`` applies ``ticks``: the work, counted, not timed."""
    lines = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal lines
        lines += event == "line"
        return trace

    derived = 0
    # Garbage left by earlier tests would otherwise run its finalizers' lines inside the count, at a collection.
    gc.collect()
    gc.disable()
    sys.settrace(trace)
    try:
        for offset, tick in enumerate(ticks, start=first_offset):
            derived += len(kernel.apply(tick, offset))
    finally:
        sys.settrace(None)
        gc.enable()
    return lines, derived


def test_a_ticks_work_does_not_grow_with_the_symbols_the_kernel_holds() -> None:
    """ES's same ticks cost the same lines of Python whether the kernel holds 1 or 100 other symbols (each seen once)."""
    ticks = list(itertools.islice(read_ticks(), 6_000))  # about 1.5 hours: bars close, signals fire, orders fill
    others = scaled_symbols(100)
    counted = {}
    for held in (1, 100):
        kernel = TradingKernel(0, KernelSettings.parse(instrument_settings(others[:held])), BaselineScorer(), CALENDARS)
        for offset, other in enumerate(others[:held]):
            assert not any(isinstance(e, DeadLettered) for e in kernel.apply(replace(ticks[0], symbol=other.symbol), offset))
        assert len(kernel.symbols) == held
        counted[held] = _lines_run(kernel, ticks, held)
    assert counted[1][1] > 10  # the measured ticks derive events: signals, orders, fills
    assert counted[100] == counted[1]
