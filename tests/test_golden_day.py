"""The whole sample day through the pure kernel, pinned: any change of behaviour shows as a reviewed diff.

When a change is meant to alter trading behaviour, update the pinned counts and
digest in the same commit and say why in its message.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from bench.common import sample_ticks
from contract.events import Event, KernelSnapshotTaken, OrderFilled, Tick
from contract.serde import EventCodec
from contract.topics import CONTROL, DERIVED, topic_for
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings

pytestmark = pytest.mark.slow

GOLDEN_COUNTS = {
    "Signal": 173,
    "OrderIntent": 82,
    "OrderInitialized": 82,
    "OrderAccepted": 82,
    "OrderFilled": 94,
    "ConfigApplied": 1,  # the settings the kernel starts with, announced at its first input
    "KernelSnapshotTaken": 6,  # at each session start (2013-09-02, the first tick; 2013-09-03), then every 100,000 inputs
}
# SHA-256 over the encoded signals, intents, order events and fills, in derivation order (the kernel's
# trading decisions; unchanged since the first kernel, through the multi-symbol work, until OrderIntent schema v2
# added model_sha256: the intents' other fields are the same as before). Code version 0.2.0 changed every
# envelope's producer label (kernel/0.1.0 -> kernel/0.2.0) and nothing else: relabelled back, the bytes give
# the 0.1.0 digest bf750c7e….
GOLDEN_DIGEST = "aa5b0332f0f92ad5dfea2f70015295ff314919f7bef99ec0d5509823a2b9694f"


def _kernel() -> TradingKernel:
    return TradingKernel(1, KernelSettings.parse(), BaselineScorer())


@pytest.fixture(scope="module")
def run() -> tuple[list[Tick], list[tuple[int, Event]]]:
    """The ticks, and each derived event with the offset of the input that caused it."""
    ticks = sample_ticks()
    kernel = _kernel()
    return ticks, [(offset, event) for offset, tick in enumerate(ticks) for event in kernel.apply(tick, offset)]


@pytest.fixture(scope="module")
def day(run: tuple[list[Tick], list[tuple[int, Event]]]) -> tuple[list[Tick], list[Event]]:
    ticks, caused = run
    return ticks, [event for _, event in caused]


def _decisions_digest(derived: list[Event]) -> str:
    """SHA-256 over the encoded signals, intents, order events and fills, in derivation order."""
    codec = EventCodec()
    digest = hashlib.sha256()
    for event in derived:
        if topic_for(event) in DERIVED and topic_for(event) is not CONTROL:
            digest.update(codec.encode(event))
    return digest.hexdigest()


def test_counts_and_digest_of_the_derived_events_are_pinned(day: tuple[list[Tick], list[Event]]) -> None:
    _, derived = day
    assert dict(Counter(type(e).__name__ for e in derived)) == GOLDEN_COUNTS
    assert _decisions_digest(derived) == GOLDEN_DIGEST
    (announced,) = [e for e in derived if topic_for(e) is CONTROL]
    assert announced.settings == KernelSettings.parse().values


# The same day under limits tight enough to refuse orders: the golden day above has no refusal at all.
REFUSING = {"risk.max_position": "1", "risk.max_daily_loss": "200"}
REFUSING_COUNTS = {
    "Signal": 173,
    "OrderIntent": 135,
    "OrderInitialized": 135,
    "OrderAccepted": 61,
    "OrderDenied": 74,
    "OrderFilled": 61,
    "ConfigApplied": 1,
    "KernelSnapshotTaken": 6,
}
REFUSING_REASONS = {"MAX_POSITION": 67, "MAX_DAILY_LOSS": 7}
REFUSING_DIGEST = "85dc71aa0140f8200471cd7dd82ccbe703facc8633587f3f9dac3da405e7b8a4"


def test_counts_and_digest_of_a_day_with_risk_refusals_are_pinned(day: tuple[list[Tick], list[Event]]) -> None:
    ticks, _ = day
    kernel = TradingKernel(1, KernelSettings.parse(REFUSING), BaselineScorer())
    derived = [event for offset, tick in enumerate(ticks) for event in kernel.apply(tick, offset)]
    assert dict(Counter(type(e).__name__ for e in derived)) == REFUSING_COUNTS
    assert dict(Counter(getattr(e, "reason") for e in derived if type(e).__name__ == "OrderDenied")) == REFUSING_REASONS
    assert _decisions_digest(derived) == REFUSING_DIGEST


def test_every_fill_links_back_to_a_tick_and_an_intent(day: tuple[list[Tick], list[Event]]) -> None:
    ticks, derived = day
    tick_ids = {t.event_id for t in ticks}
    by_id = {e.event_id: e for e in derived}
    fills = [e for e in derived if isinstance(e, OrderFilled)]
    assert fills
    for fill in fills:
        assert fill.envelope.causation_id in tick_ids
        # The correlation id is the chain's root: the signal that started it, itself caused by a tick.
        root = by_id[fill.envelope.correlation_id]
        assert type(root).__name__ == "Signal"
        assert root.envelope.causation_id in tick_ids


def test_a_second_run_derives_the_same_bytes(day: tuple[list[Tick], list[Event]]) -> None:
    ticks, derived = day
    kernel = _kernel()
    again = [event for offset, tick in enumerate(ticks[:150_000]) for event in kernel.apply(tick, offset)]
    codec = EventCodec()
    assert [codec.encode(e) for e in again] == [codec.encode(e) for e in derived[: len(again)]]


def test_a_kernel_restored_from_the_session_snapshot_continues_exactly(run: tuple[list[Tick], list[tuple[int, Event]]]) -> None:
    ticks, caused = run
    snapshot = next(
        e for _, e in caused if isinstance(e, KernelSnapshotTaken) and e.reason == "session-start 2013-09-03"
    )
    restored = TradingKernel.from_state(json.loads(snapshot.state_json), BaselineScorer())
    start = snapshot.input_offset + 1
    replayed = [e for offset in range(start, len(ticks)) for e in restored.apply(ticks[offset], offset)]
    original = [e for offset, e in caused if offset >= start]
    # The restored kernel even re-derives the snapshot itself, byte for byte, at the same input.
    assert replayed[0] == snapshot
    assert replayed == original
