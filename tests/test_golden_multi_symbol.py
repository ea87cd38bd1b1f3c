"""The multi-symbol golden day through the pure kernel, pinned: five symbols, two venues, three partitions.

Three symbols of two venues share partition 1 (ES and SYN_NQ on CME, SYN_SP500_ETF
on NYSE, closed on Labor Day), SYN_YM and SYN_ZN have partitions of their own,
and the kill switch acts mid-day while orders rest (``tests/multi_symbol_day.py``).
Pinned per partition: the counts and the SHA-256 of every derived event, so any
change of behaviour shows as a reviewed diff. Beside the pins, checks that do not
depend on them: the cancels the switches cause, every symbol's P&L against an
independent FIFO recomputation with its own multiplier, and kernels restored from
each snapshot deriving the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict, deque
from decimal import Decimal

import pytest

from contract.events import (
    Event,
    KernelSnapshotTaken,
    OrderCanceled,
    OrderFilled,
    TradingStateApplied,
)
from contract.serde import EventCodec
from contract.topics import DERIVED, topic_for
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings
from marketdata.synthetic import DEFAULT_SYMBOLS
from tests.fifo import Lots, book_fill
from tests.multi_symbol_day import SETTINGS, partition_inputs

pytestmark = pytest.mark.slow

# partition: (counts by event type, SHA-256 over its derived events in derivation order)
GOLDEN = {
    0: (  # SYN_YM: halted before its first tick, resumed; then the partition-wide halt and resume
        {"ConfigApplied": 1, "TradingStateApplied": 4, "KernelSnapshotTaken": 2, "Signal": 143, "OrderIntent": 7,
         "OrderInitialized": 7, "OrderAccepted": 7, "OrderFilled": 4, "OrderCanceled": 2},
        "e6ba558910a895378cab3bda0e8f5997c9a3254f87cabd15c18aaad45d1ebe01",
    ),
    1: (  # ES, SYN_NQ (REDUCING from the evening before) and SYN_SP500_ETF (NYSE, its first day 09-03)
        {"ConfigApplied": 1, "KernelSnapshotTaken": 4, "Signal": 343, "OrderIntent": 20, "OrderInitialized": 20,
         "OrderAccepted": 20, "OrderFilled": 11, "TradingStateApplied": 4, "OrderCanceled": 6},
        "b00c70576fc18d006960f008284893f883bc7c97d498496c8fb3053027097345",
    ),
    2: (  # SYN_ZN
        {"ConfigApplied": 1, "KernelSnapshotTaken": 2, "Signal": 137, "OrderIntent": 8, "OrderInitialized": 8,
         "OrderAccepted": 8, "OrderFilled": 4, "TradingStateApplied": 2, "OrderCanceled": 2},
        "25e85e2eb950695efa15be1478d4308a3f48778543e4f279ad546e64bf06fd0a",
    ),
}
MULTIPLIERS = {d.symbol: d.multiplier for d in DEFAULT_SYMBOLS}


def _kernel(partition: int) -> TradingKernel:
    return TradingKernel(partition, KernelSettings.parse(SETTINGS), BaselineScorer())


@pytest.fixture(scope="module")
def day() -> dict[int, tuple[list[Event], list[tuple[int, Event]]]]:
    """Per partition: the inputs, and each derived event with the offset of the input that caused it."""
    result = {}
    for partition, inputs in partition_inputs().items():
        kernel = _kernel(partition)
        result[partition] = (inputs, [(offset, e) for offset, event in enumerate(inputs) for e in kernel.apply(event, offset)])
    return result


def _digest(events: list[Event]) -> str:
    codec = EventCodec()
    digest = hashlib.sha256()
    for event in events:
        if topic_for(event) in DERIVED:
            digest.update(codec.encode(event))
    return digest.hexdigest()


@pytest.mark.parametrize("partition", sorted(GOLDEN))
def test_counts_and_digest_of_each_partition_are_pinned(day: dict, partition: int) -> None:
    _, caused = day[partition]
    derived = [e for _, e in caused]
    counts, digest = GOLDEN[partition]
    assert dict(Counter(type(e).__name__ for e in derived)) == counts
    assert _digest(derived) == digest


def test_the_switches_cancel_resting_orders_of_every_symbol_they_reach(day: dict) -> None:
    cancels = Counter((e.symbol, e.reason) for _, (_, caused) in day.items() for _, e in caused if isinstance(e, OrderCanceled))
    assert cancels[("SYN_NQ", "TRADING_REDUCING")] > 0
    for symbol in ("ES", "SYN_NQ", "SYN_SP500_ETF", "SYN_ZN", "SYN_YM"):
        assert cancels[(symbol, "TRADING_HALTED")] > 0, symbol
    # After the partition-wide resume SYN_NQ is still REDUCING on its own: the more severe state wins.
    applied = [e for _, e in day[1][1] if isinstance(e, TradingStateApplied)]
    resumed = next(e for e in applied if e.symbol is None and e.state.value == "ACTIVE")
    assert resumed.symbol_states == {"SYN_NQ": "REDUCING"}


def test_every_symbols_pnl_equals_an_independent_fifo_recomputation(day: dict) -> None:
    """Realized P&L per symbol from the fills alone, with each instrument's own multiplier, against the books."""
    for partition, (inputs, _) in day.items():
        kernel = _kernel(partition)
        fills = [e for offset, event in enumerate(inputs) for e in kernel.apply(event, offset) if isinstance(e, OrderFilled)]
        realized: dict[str, Decimal] = defaultdict(Decimal)
        lots: dict[str, Lots] = defaultdict(deque)
        for fill in fills:
            realized[fill.symbol] += book_fill(lots[fill.symbol], fill, MULTIPLIERS[fill.symbol])
        assert fills, partition
        for symbol, state in kernel.symbols.items():
            assert state.book.realized_pnl == realized[symbol], symbol


def test_kernels_restored_from_each_snapshot_derive_the_same_bytes(day: dict) -> None:
    codec = EventCodec()
    for partition, (inputs, caused) in day.items():
        snapshots = [e for _, e in caused if isinstance(e, KernelSnapshotTaken)]
        assert len(snapshots) >= 2
        for snapshot in snapshots:
            restored = TradingKernel.from_state(json.loads(snapshot.state_json), BaselineScorer())
            start = snapshot.input_offset + 1
            again = [e for offset in range(start, len(inputs)) for e in restored.apply(inputs[offset], offset)]
            original = [e for offset, e in caused if offset >= start]
            assert [codec.encode(e) for e in again] == [codec.encode(e) for e in original], (partition, snapshot.reason)
