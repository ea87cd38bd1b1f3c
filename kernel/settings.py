"""The kernel's settings, parsed once into typed configs for the partition and each symbol.

Settings travel as flat ``key=value`` strings (the run manifest, ``ConfigChanged``
inputs, snapshots, ``ConfigApplied`` outputs); every reader goes through
``KernelSettings.parse``, which validates every key once and hands the stages
typed values, so no stage re-parses strings and a typo fails at the edge.

Two scopes, like the trading state: partition-wide ``values`` and per-symbol
overrides (a ``ConfigChanged`` that names a symbol, kept even before the
symbol's first tick). A symbol trades under the partition's values with its
overrides on top. Reference data (``instrument.*``) and the input policy
(``input.*``) are partition-wide only. Built-in reference data (the sample
day's ES) is merged in first, so the values a kernel holds, snapshots and
announces are complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contract.sequencing import DEFAULT_LATE_TOLERANCE_MS
from kernel.patterns import PatternConfig
from kernel.strategy import StrategyConfig
from oms.book import BookConfig
from oms.instruments import (
    BUILTIN_INSTRUMENT_SETTINGS,
    Instrument,
    UnknownInstrument,
    instruments_from_settings,
)
from oms.risk import RiskLimits
from oms.settings import settings_for
from oms.simulator import SimConfig

SYMBOL_SCOPED_PREFIXES = ("pattern.", "strategy.", "risk.", "sim.")
PARTITION_PREFIXES = ("instrument.", "input.")
SETTING_PREFIXES = (*SYMBOL_SCOPED_PREFIXES, *PARTITION_PREFIXES)


@dataclass(frozen=True, slots=True)
class InputPolicy:
    """Keys ``input.*``: which inputs the kernel refuses as late.

    ``late_tolerance_ms``: how far a tick may trail the latest event time
    already applied on its partition (another symbol's, since one symbol's
    ticks must never go back at all). Ingest merges files by time, so it only
    matters for feeds that write one partition from several sources.
    """

    late_tolerance_ms: int = DEFAULT_LATE_TOLERANCE_MS

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> InputPolicy:
        return cls(**settings_for(cls(), settings, "input."))


@dataclass(frozen=True, slots=True)
class SymbolSettings:
    """Everything one symbol's stages are configured with."""

    pattern: PatternConfig
    strategy: StrategyConfig
    book: BookConfig

    @property
    def instrument(self) -> Instrument:
        return self.book.instrument


@dataclass(frozen=True, slots=True)
class _Stages:
    pattern: PatternConfig
    strategy: StrategyConfig
    risk: RiskLimits
    sim: SimConfig

    @classmethod
    def parse(cls, settings: Mapping[str, str]) -> _Stages:
        return cls(
            PatternConfig.from_settings(settings),
            StrategyConfig.from_settings(settings),
            RiskLimits.from_settings(settings),
            SimConfig.from_settings(settings),
        )


class KernelSettings:
    """Validated settings of one partition; immutable, so a change builds a new one (``changed``)."""

    __slots__ = ("values", "symbol_values", "instruments", "inputs", "_stages", "_symbol_stages")

    def __init__(self, values: Mapping[str, str], symbol_values: Mapping[str, Mapping[str, str]]) -> None:
        """Use ``parse``: this trusts its arguments to be complete and valid."""
        self.values: dict[str, str] = dict(sorted(values.items()))
        self.symbol_values: dict[str, dict[str, str]] = {
            symbol: dict(sorted(over.items())) for symbol, over in sorted(symbol_values.items()) if over
        }
        self.instruments = instruments_from_settings(self.values)
        self.inputs = InputPolicy.from_settings(self.values)
        self._stages = _Stages.parse(self.values)
        self._symbol_stages = {s: _Stages.parse({**self.values, **over}) for s, over in self.symbol_values.items()}

    @classmethod
    def parse(
        cls, values: Mapping[str, str] | None = None, symbol_values: Mapping[str, Mapping[str, str]] | None = None
    ) -> KernelSettings:
        """Built-in reference data, then ``values``; ``ValueError`` naming the first bad key or value."""
        merged = {**BUILTIN_INSTRUMENT_SETTINGS, **(values or {})}
        stray = sorted(k for k in merged if not k.startswith(SETTING_PREFIXES))
        if stray:
            raise ValueError(f"unknown setting(s) {', '.join(stray)}: keys start with one of {', '.join(SETTING_PREFIXES)}")
        for symbol, over in (symbol_values or {}).items():
            _check_symbol_scoped(symbol, over)
        return cls(merged, symbol_values or {})

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> KernelSettings:
        return cls.parse(state["settings"], state["symbol_settings"])

    def to_state(self) -> dict[str, Any]:
        return {"settings": dict(self.values), "symbol_settings": {s: dict(v) for s, v in self.symbol_values.items()}}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KernelSettings):
            return NotImplemented
        return (self.values, self.symbol_values) == (other.values, other.symbol_values)

    def __hash__(self) -> int:
        return hash(tuple(self.values.items()))

    def for_symbol(self, symbol: str) -> SymbolSettings:
        """The symbol's configs; ``UnknownInstrument`` when no instrument defines it."""
        instrument = self.instruments.get(symbol)
        if instrument is None:
            raise UnknownInstrument(symbol)
        stages = self._symbol_stages.get(symbol, self._stages)
        return SymbolSettings(stages.pattern, stages.strategy, BookConfig(instrument, stages.risk, stages.sim))

    def changed(self, change: Mapping[str, str], symbol: str | None) -> KernelSettings:
        """These settings with ``change`` on top: partition-wide, or the overrides of ``symbol``.

        Refuses (``ValueError``) anything ``parse`` refuses, partition-wide keys in
        a symbol's change, and a change to an instrument already defined: positions
        and P&L were booked with it. New instruments may be added at any time.
        """
        if symbol is not None:
            _check_symbol_scoped(symbol, change)
            overrides = {**self.symbol_values, symbol: {**self.symbol_values.get(symbol, {}), **change}}
            return KernelSettings.parse(self.values, overrides)
        updated = KernelSettings.parse({**self.values, **change}, self.symbol_values)
        moved = sorted(s for s, i in self.instruments.items() if updated.instruments[s] != i)
        if moved:
            raise ValueError(f"instrument(s) {', '.join(moved)} cannot change once defined: positions and P&L were booked with them")
        return updated


def _check_symbol_scoped(symbol: str, settings: Mapping[str, str]) -> None:
    wrong = sorted(k for k in settings if not k.startswith(SYMBOL_SCOPED_PREFIXES))
    if wrong:
        raise ValueError(
            f"setting(s) {', '.join(wrong)} cannot be set for symbol {symbol} alone: "
            f"per-symbol keys start with one of {', '.join(SYMBOL_SCOPED_PREFIXES)}"
        )


def validate_change(change: Mapping[str, str], symbol: str | None = None) -> None:
    """Raises ``ValueError`` naming the key when the kernel would refuse this change even from its defaults.

    For ops' tools to refuse early; the kernel checks again against what is in force on its partition.
    """
    KernelSettings.parse().changed(change, symbol)
