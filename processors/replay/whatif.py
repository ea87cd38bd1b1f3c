"""A what-if replay beside the recorded day: the intents, fills and P&L each derived from the same inputs.

Asked for with ``replay --model NAME@VERSION --compare`` (or ``--set ... --compare``):
the digests already say *that* the run differs from live; this says by how
much, in the figures a trader reads. Both sides are folded the same way, so
the difference is the what-if's alone:

* intents and fills: the events derived from the replayed inputs, counted once
  per event id (live's by time and id, as the comparison finds them);
* P&L per symbol over the range: the position the range starts with (the
  start state's, the same on both sides), the side's fills booked on it FIFO
  net of fees (``oms.positions.Position``), marked at the last price the
  replay's kernel saw, minus what the opening position was worth at its own
  last price. For a day replayed from its session start that is the kernel's
  session P&L, so a what-if with the recorded model reports live's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contract.digest import LoggedEvent
from contract.events import OrderFilled
from contract.serde import EventCodec
from contract.topics import FILLS, INTENTS, Namespace
from eventlog.consumer import LogReader, OffsetRanges
from kernel.engine import TradingKernel
from oms.positions import Position
from processors.replay.compare import live_events, read_events
from processors.replay.tally import InputSpan


@dataclass(frozen=True, slots=True)
class SideFigures:
    intents: int
    fills: int
    pnl: dict[str, Decimal]  # per symbol, of the range's fills

    def to_json(self) -> dict[str, Any]:
        return {"intents": self.intents, "fills": self.fills, "pnl": {s: money(v) for s, v in sorted(self.pnl.items())}}


@dataclass(frozen=True, slots=True)
class WhatIfDifference:
    live: SideFigures
    replay: SideFigures

    @property
    def symbols(self) -> list[str]:
        return sorted(set(self.live.pnl) | set(self.replay.pnl))

    def pnl_difference(self, symbol: str) -> Decimal:
        return self.replay.pnl.get(symbol, Decimal(0)) - self.live.pnl.get(symbol, Decimal(0))

    @property
    def none(self) -> bool:
        """The what-if changed none of these figures."""
        return (self.live.intents, self.live.fills) == (self.replay.intents, self.replay.fills) and not any(
            self.pnl_difference(s) for s in self.symbols
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "live": self.live.to_json(),
            "replay": self.replay.to_json(),
            "difference": {
                "intents": self.replay.intents - self.live.intents,
                "fills": self.replay.fills - self.live.fills,
                "pnl": {s: money(self.pnl_difference(s)) for s in self.symbols},
            },
        }


def opening_positions(kernels: Mapping[int, TradingKernel]) -> dict[str, dict[str, Any]]:
    """Each known symbol's position state, before the run moves it."""
    return {name: s.book.to_state()["position"] for k in kernels.values() for name, s in sorted(k.symbols.items())}


def money(value: Decimal) -> str:
    """Exact, without the exponent or trailing zeros FIFO products carry (``-1094.25``, ``0``)."""
    return format(value.normalize(), "f")


def what_if_difference(
    reader: LogReader,
    codec: EventCodec,
    live: Namespace,
    replay: Namespace,
    spans: Mapping[int, InputSpan],
    written: Mapping[str, OffsetRanges],
    kernels: Mapping[int, TradingKernel],
    opening: Mapping[str, Mapping[str, Any]],
) -> WhatIfDifference:
    """The figures of live's events derived from the replayed inputs beside those this run wrote (``written``).

    ``opening``: each symbol's position state at the start (``opening_positions``, taken before the run).
    """
    sides = []
    for side in ("live", "replay"):
        found = {}
        for spec in (INTENTS, FILLS):
            if side == "live":
                found[spec.name] = live_events(reader, codec, live.topic(spec), spans)
            else:
                found[spec.name] = read_events(reader, codec, replay.topic(spec), dict(written.get(spec.name, {})))
        sides.append(_figures(found[INTENTS.name], found[FILLS.name], kernels, opening))
    return WhatIfDifference(*sides)


def _once(by_partition: Mapping[int, list[LoggedEvent]]) -> list[LoggedEvent]:
    """Each event id once (a crash may have re-sent it), in partition then log order."""
    seen: set[str] = set()
    kept = []
    for _, events in sorted(by_partition.items()):
        for logged in events:
            if logged.event.event_id not in seen:
                seen.add(logged.event.event_id)
                kept.append(logged)
    return kept


def _figures(
    intents: Mapping[int, list[LoggedEvent]],
    fills: Mapping[int, list[LoggedEvent]],
    kernels: Mapping[int, TradingKernel],
    opening: Mapping[str, Mapping[str, Any]],
) -> SideFigures:
    positions = {symbol: Position.from_state(dict(state)) for symbol, state in opening.items()}
    worth = {symbol: p.total_pnl for symbol, p in positions.items()}
    booked = _once(fills)
    for logged in booked:
        fill = logged.event
        if not isinstance(fill, OrderFilled):
            continue
        kernel = kernels[logged.partition]
        position = positions.get(fill.symbol)
        if position is None:
            position = positions[fill.symbol] = Position(fill.symbol, kernel.settings.instruments[fill.symbol].multiplier)
        position.apply_fill(fill)
    for symbol, position in positions.items():
        last = next((k.symbols[symbol].book.last_price for k in kernels.values() if symbol in k.symbols), None)
        if last is not None:
            position.mark(last)
    pnl = {s: p.total_pnl - worth.get(s, Decimal(0)) for s, p in sorted(positions.items())}
    return SideFigures(len(_once(intents)), len(booked), pnl)
