"""The trading kernel of one partition: pattern -> strategy -> risk -> OMS -> simulator.

Pure and synchronous: ``apply(event, offset)`` takes one input record of the
sequenced input topic and returns the events it caused, in order. Fills update
positions inside the same step, so nothing feeds back through the broker and a
replay of the same inputs from the same state derives the same events, byte for
byte. The Faust agent, the fast replay and the tests all drive this class.

At-least-once delivery is made exact here: the kernel remembers the last input
offset it applied and ignores anything at or below it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inference.scorer import Scorer
from kernel import __version__
from kernel.calendar import Session, TradingCalendar
from kernel.derivation import Derivation
from kernel.events import (
    ConfigChanged,
    DeadLettered,
    Event,
    KernelSnapshotTaken,
    OrderIntent,
    Side,
    Signal,
    Tick,
    TradingStateChanged,
)
from kernel.topics import INPUTS
from oms.book import OmsBook
from oms.instruments import instruments_from_settings
from oms.risk import RiskLimits
from oms.simulator import SimConfig
from processors.patterns import PatternConfig, PatternEngine
from processors.strategy import AccountContext, Strategy, StrategyConfig

PRODUCER = f"kernel/{__version__}"
SNAPSHOT_EVERY_INPUTS = 100_000


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def config_hash(settings: Mapping[str, str]) -> str:
    return hashlib.sha256(canonical_json(dict(settings)).encode()).hexdigest()


# The stages that read settings, by key prefix; a key under none of them would be silently ignored.
SETTING_PREFIXES = ("pattern.", "strategy.", "risk.", "sim.", "instrument.")


def validate_settings(settings: Mapping[str, str]) -> None:
    """Raises ``ValueError`` naming the key when any stage would refuse these settings."""
    stray = sorted(k for k in settings if not k.startswith(SETTING_PREFIXES))
    if stray:
        raise ValueError(f"unknown setting(s) {', '.join(stray)}: keys start with one of {', '.join(SETTING_PREFIXES)}")
    PatternConfig.from_settings(settings)
    StrategyConfig.from_settings(settings)
    RiskLimits.from_settings(settings)
    SimConfig.from_settings(settings)
    instruments_from_settings(settings)


@dataclass
class SymbolState:
    """Everything the kernel knows of one symbol."""

    patterns: PatternEngine
    book: OmsBook
    strategy: Strategy
    session: str | None = None


class TradingKernel:
    def __init__(
        self,
        partition: int,
        settings: Mapping[str, str],
        scorer: Scorer,
        calendar: TradingCalendar,
        snapshot_every: int = SNAPSHOT_EVERY_INPUTS,
    ) -> None:
        self.partition = partition
        self.scorer = scorer
        self.calendar = calendar
        self.snapshot_every = snapshot_every
        self.settings: dict[str, str] = dict(settings)
        validate_settings(self.settings)
        self.symbols: dict[str, SymbolState] = {}
        self.last_applied_offset = -1
        self.session: str | None = None
        self._applied_since_snapshot = 0

    # --- input ------------------------------------------------------------------

    def apply(self, event: Event, offset: int) -> list[Event]:
        """The events caused by the input at ``offset``; [] for an offset already applied."""
        if offset <= self.last_applied_offset:
            return []
        derivation = Derivation(INPUTS.name, self.partition, offset, PRODUCER)
        if isinstance(event, Tick):
            out = self._on_tick(event, derivation)
        elif isinstance(event, TradingStateChanged):
            out = self._on_trading_state(event, derivation)
        elif isinstance(event, ConfigChanged):
            out = self.on_config(event, derivation)
        else:
            out = [self._refuse(event, derivation, "UnexpectedInput", f"{type(event).__name__} is not a kernel input")]
        self.last_applied_offset = offset
        self._applied_since_snapshot += 1
        if self.snapshot_every and self._applied_since_snapshot >= self.snapshot_every:
            out.append(self.snapshot(derivation, event.event_time_ms, "interval"))
        return out

    def _on_tick(self, tick: Tick, derivation: Derivation) -> list[Event]:
        session = self.calendar.session_of(tick.event_time_ms)
        out: list[Event] = []
        if self.session is not None and session.day > self.session:
            # What live had at the day's start: a replay of this day starts from here.
            out.append(self.snapshot(derivation, tick.event_time_ms, f"session-start {session.day}"))
        if self.session is None or session.day > self.session:
            self.session = session.day
        symbol = self._symbol(tick.symbol)
        if symbol.session != session.day:
            symbol.book.on_session_start(session.day)
            symbol.session = session.day
        out += symbol.book.on_tick(tick, derivation)
        for signal in symbol.patterns.on_tick(tick, derivation, session.day):
            out.append(signal)
            out += self._on_signal(symbol, signal, session, derivation)
        return out

    def _on_signal(self, symbol: SymbolState, signal: Signal, session: Session, derivation: Derivation) -> list[Event]:
        book, patterns = symbol.book, symbol.patterns
        last = book.last_price
        if last is None:
            return []
        volatility = patterns.volatility
        context = AccountContext(
            symbol=signal.symbol,
            position=book.position_qty,
            open_buy_qty=book.open_qty(Side.BUY),
            open_sell_qty=book.open_qty(Side.SELL),
            realized_pnl=book.daily_realized_pnl,
            unrealized_pnl=book.unrealized_pnl,
            last_price=last,
            volatility=None if volatility is None else volatility * float(last),
            tick_size=book.instrument.tick_size,
            multiplier=book.instrument.multiplier,
            trading_state=book.trading_state,
        )
        out: list[Event] = []
        intents: list[OrderIntent] = symbol.strategy.on_signal(signal, context, self.scorer, derivation)
        for intent in intents:
            out.append(intent)
            out += book.on_intent(intent, derivation, session_end_ms=session.close_ms)
        return out

    def _on_trading_state(self, event: TradingStateChanged, derivation: Derivation) -> list[Event]:
        out: list[Event] = []
        for name, symbol in self.symbols.items():
            if event.symbol in (None, name):
                out += symbol.book.on_control(event, derivation)
        return out

    def on_config(self, event: ConfigChanged, derivation: Derivation) -> list[Event]:
        """Applies a settings change (also used by what-if replays before their first input).

        A change any stage refuses is not applied at all and comes back as a DeadLettered event.
        """
        merged = {**self.settings, **event.settings}
        try:
            validate_settings(merged)
        except ValueError as exc:
            # A bad change is refused whole and kept on the dead-letter topic; trading goes on as configured.
            return [self._refuse(event, derivation, "BadConfig", str(exc))]
        self.settings = merged
        out: list[Event] = []
        for symbol in self.symbols.values():
            symbol.patterns = _reconfigured(symbol.patterns, PatternConfig.from_settings(merged))
            symbol.strategy = Strategy(StrategyConfig.from_settings(merged))
            out += symbol.book.on_control(event, derivation)
        return out

    # --- state ------------------------------------------------------------------

    def _symbol(self, name: str) -> SymbolState:
        state = self.symbols.get(name)
        if state is None:
            state = SymbolState(
                PatternEngine(name, PatternConfig.from_settings(self.settings)),
                OmsBook(name, self.settings),
                Strategy(StrategyConfig.from_settings(self.settings)),
            )
            self.symbols[name] = state
        return state

    def _refuse(self, event: Event, derivation: Derivation, error_type: str, reason: str) -> DeadLettered:
        return DeadLettered(
            envelope=derivation.envelope(event.event_time_ms, event.event_id, event.envelope.correlation_id),
            source_topic=INPUTS.name,
            source_partition=derivation.partition,
            source_offset=derivation.offset,
            stage="kernel",
            error_type=error_type,
            reason=reason,
            key=None,
            value=None,
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "last_applied_offset": self.last_applied_offset,
            "session": self.session,
            "settings": self.settings,
            "scorer": {"name": self.scorer.name, "version": self.scorer.version},
            "symbols": {
                name: {"session": s.session, "patterns": s.patterns.to_state(), "book": s.book.to_state()}
                for name, s in sorted(self.symbols.items())
            },
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], scorer: Scorer, calendar: TradingCalendar) -> TradingKernel:
        if (state["scorer"]["name"], state["scorer"]["version"]) != (scorer.name, scorer.version):
            raise ValueError(f"snapshot was taken with scorer {state['scorer']}, not {scorer.name} {scorer.version}")
        kernel = cls(state["partition"], state["settings"], scorer, calendar)
        kernel.last_applied_offset = state["last_applied_offset"]
        kernel.session = state["session"]
        strategy = Strategy(StrategyConfig.from_settings(kernel.settings))
        for name, s in state["symbols"].items():
            kernel.symbols[name] = SymbolState(
                PatternEngine.from_state(s["patterns"]), OmsBook.from_state(s["book"]), strategy, s["session"]
            )
        return kernel

    def snapshot(self, derivation: Derivation, event_time_ms: int, reason: str) -> KernelSnapshotTaken:
        self._applied_since_snapshot = 0
        return KernelSnapshotTaken(
            envelope=derivation.envelope(event_time_ms, None),
            partition=self.partition,
            input_offset=self.last_applied_offset,
            reason=reason,
            state_json=canonical_json(self.to_state()),
        )



def _reconfigured(engine: PatternEngine, config: PatternConfig) -> PatternEngine:
    """The engine under a new config: thresholds change in place, new indicator windows warm up afresh."""
    if config == engine.config:
        return engine
    state = engine.to_state()
    state["config"] = config.to_settings()
    try:
        return PatternEngine.from_state(state)
    except ValueError:  # the indicators' windows changed: their history does not fit them
        return PatternEngine(engine.symbol, config)
