"""The trading kernel of one partition: pattern -> strategy -> risk -> OMS -> simulator.

Pure and synchronous: ``apply(event, offset)`` takes one input record of the
sequenced input topic and returns the events it caused, in order. Fills update
positions inside the same step, so nothing feeds back through the broker and a
replay of the same inputs from the same state derives the same events, byte for
byte. The Faust agent, the fast replay and the tests all drive this class.

Beyond one symbol (docs/design.md, "Inputs"):

* Partition state applies to every symbol, seen or not: the trading state
  (kill switch) and settings live at partition level with per-symbol entries on
  top, are kept in snapshots, and a symbol's first tick starts under them. The
  kernel announces what it applied (``TradingStateApplied``, ``ConfigApplied``).
* Each symbol has its own trading session from its instrument's venue calendar;
  this kernel is the one place sessions are tracked. The partition's trading day
  is the latest session any of its symbols is in; the first tick that moves it
  (the partition's very first tick too) takes the ``session-start DAY`` snapshot
  a replay of that day starts from, so venues that open at other times share one
  well-defined day boundary per partition.
* A tick is applied only if it is a known instrument's, on its venue, after the
  last one applied for its symbol (sequence up, time not down) and not later
  than ``input.late_tolerance_ms`` behind the partition's latest event time;
  anything else is dead-lettered with the reason, never traded and never moving
  a session. Offsets already applied are skipped, which makes at-least-once
  delivery exact; the sequence check does the same for a file loaded twice.
* Wherever outputs depend on iteration, symbols go in sorted order, so a kernel
  restored from a snapshot derives what the live one did.
* The model that scores signals is partition state too (``kernel/model.py``):
  a ``ModelActivated`` input switches it from the next input on, or fails the
  partition closed (no intents) when the model cannot be had exactly; the
  kernel announces either with ``ModelApplied``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contract import __version__
from contract.derivation import Derivation
from contract.events import (
    ConfigApplied,
    ConfigChanged,
    DeadLettered,
    Event,
    KernelSnapshotTaken,
    ModelActivated,
    ModelApplied,
    NewsScored,
    OrderIntent,
    Side,
    Signal,
    Tick,
    TradingState,
    TradingStateApplied,
    TradingStateChanged,
)
from contract.topics import INPUTS
from inference.models import ScorerResolver, ScorerSpec, load_scorer
from inference.scorer import Scorer
from kernel.model import ActiveModel
from kernel.patterns import PatternConfig, PatternEngine
from kernel.sentiment import NewsSentiment
from kernel.settings import KernelSettings, SymbolSettings
from kernel.strategy import AccountContext, Strategy
from marketdata.calendar import VenueCalendars
from oms.book import OmsBook
from oms.instruments import UnknownInstrument

PRODUCER = f"kernel/{__version__}"
SNAPSHOT_EVERY_INPUTS = 100_000
# Bumped whenever the shape of ``TradingKernel.to_state`` changes; a snapshot of another format is refused.
# Format 3 keeps the active model (name, version, SHA-256, refusal) where format 2 kept the scorer's name and
# version; a format-2 snapshot still restores, as the model of that name and version this host provides.
SNAPSHOT_FORMAT = 3
READABLE_FORMATS = (2, 3)
_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def config_hash(settings: Mapping[str, str]) -> str:
    return hashlib.sha256(canonical_json(dict(settings)).encode()).hexdigest()


class SnapshotFormatError(ValueError):
    """A snapshot this code cannot read: another state format (taken by other code)."""


def snapshot_origin(state: Mapping[str, Any]) -> tuple[int, str]:
    """(state format, code version) of a snapshot's state; the first format carried neither."""
    return int(state.get("format", 1)), str(state.get("code_version", "0.1.0 or earlier"))


@dataclass
class SymbolState:
    """Everything the kernel knows of one symbol."""

    settings: SymbolSettings
    patterns: PatternEngine
    book: OmsBook
    strategy: Strategy
    session: str | None = None
    last_sequence: int = -1
    last_time_ms: int = -(2**63)


@dataclass
class TradingStates:
    """The kill switch at both scopes; a symbol trades under the more severe of the two."""

    partition: TradingState = TradingState.ACTIVE
    symbols: dict[str, TradingState] = field(default_factory=dict)

    def of(self, symbol: str) -> TradingState:
        own = self.symbols.get(symbol, TradingState.ACTIVE)
        return own if _SEVERITY[own] > _SEVERITY[self.partition] else self.partition

    def set(self, symbol: str | None, state: TradingState) -> None:
        if symbol is None:
            self.partition = state
        elif state is TradingState.ACTIVE:
            self.symbols.pop(symbol, None)  # ACTIVE is the default: nothing to remember
        else:
            self.symbols[symbol] = state

    def symbol_values(self) -> dict[str, str]:
        return {s: state.value for s, state in sorted(self.symbols.items())}

    def to_state(self) -> dict[str, Any]:
        return {"partition": self.partition.value, "symbols": self.symbol_values()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TradingStates:
        return cls(TradingState(state["partition"]), {s: TradingState(v) for s, v in state["symbols"].items()})


class TradingKernel:
    def __init__(
        self,
        partition: int,
        settings: KernelSettings,
        scorer: Scorer,
        calendars: VenueCalendars | None = None,
        snapshot_every: int = SNAPSHOT_EVERY_INPUTS,
        resolve: ScorerResolver = load_scorer,
    ) -> None:
        """``scorer`` is the model an empty kernel starts with; ``ModelActivated`` inputs switch it via ``resolve``."""
        self.partition = partition
        self.model = ActiveModel.of(scorer)
        self.resolve = resolve
        self.calendars = calendars or VenueCalendars()
        self.snapshot_every = snapshot_every
        self.settings = settings
        self.trading = TradingStates()
        self.news = NewsSentiment()
        self.symbols: dict[str, SymbolState] = {}
        self.last_applied_offset = -1
        self.clock_ms: int | None = None  # the latest tick time applied on this partition
        # The latest session any symbol is in (derived from ``symbols``, kept here so a tick need not scan them).
        self.trading_day: str | None = None
        self.settings_announced = False
        self._applied_since_snapshot = 0

    # --- input ------------------------------------------------------------------

    def apply(self, event: Event, offset: int) -> list[Event]:
        """The events caused by the input at ``offset``; [] for an offset already applied."""
        if offset <= self.last_applied_offset:
            return []
        derivation = Derivation(INPUTS.name, self.partition, offset, PRODUCER)
        if isinstance(event, Tick):
            out = self._on_tick(event, derivation)  # announces after a session-start snapshot, which comes first
        else:
            out = self._announcement(event, derivation)
            if isinstance(event, TradingStateChanged):
                out += self._on_trading_state(event, derivation)
            elif isinstance(event, ConfigChanged):
                out += self.on_config(event, derivation)
            elif isinstance(event, ModelActivated):
                out.append(self._on_model(event, derivation))
            elif isinstance(event, NewsScored):
                out += self._on_news(event, derivation)
            else:
                out.append(self._refuse(event, derivation, "UnexpectedInput", f"{type(event).__name__} is not a kernel input"))
        self.last_applied_offset = offset
        self._applied_since_snapshot += 1
        if self.snapshot_every and self._applied_since_snapshot >= self.snapshot_every:
            out.append(self.snapshot(derivation, event.event_time_ms, "interval"))
        return out

    def _on_tick(self, tick: Tick, derivation: Derivation) -> list[Event]:
        # The hot path of a replay: every tick comes here, so the tick's time is read once and the common
        # case (a known symbol, no session change, no signal) builds nothing it does not return.
        name = tick.symbol
        symbol = self.symbols.get(name)
        refusal = self._tick_refusal(tick, symbol)
        if refusal is not None:
            return [*self._announcement(tick, derivation), self._refuse(tick, derivation, *refusal)]
        time_ms = tick.envelope.event_time_ms
        # A known symbol carries its parsed settings; only a new one asks the partition's (once).
        settings = self.settings.for_symbol(name) if symbol is None else symbol.settings
        session = self.calendars(settings.instrument.venue).session_of(time_ms)
        day = session.day
        out: list[Event] = []
        if self.trading_day is None or day > self.trading_day:
            # What live had as the partition's day began (its first included): a replay of that day starts here.
            out.append(self.snapshot(derivation, time_ms, f"session-start {day}"))
            self.trading_day = day
        if not self.settings_announced:
            out += self._announcement(tick, derivation)
        if symbol is None:
            symbol = self.symbols[name] = self._new_symbol(name, settings)
        symbol.last_sequence = tick.sequence
        symbol.last_time_ms = time_ms
        clock = self.clock_ms
        if clock is None or time_ms > clock:
            self.clock_ms = time_ms
        patterns = symbol.patterns
        signals: list[Signal] = []
        if symbol.session != day:
            symbol.session = day
            symbol.book.on_session_start()
            signals = patterns.start_session(tick, derivation)
        fills = symbol.book.on_tick(tick, derivation)
        if fills:
            out += fills
        fired = patterns.on_tick(tick, derivation)
        if fired:
            signals += fired
        for signal in signals:
            out.append(signal)
            out += self._on_signal(symbol, signal, session.close_ms, derivation)
        return out

    def _tick_refusal(self, tick: Tick, symbol: SymbolState | None) -> tuple[str, str] | None:
        """(error type, reason) when the tick must not be applied; None when it may."""
        instrument = self.settings.instruments.get(tick.symbol)
        if instrument is None:
            return "UnknownInstrument", str(UnknownInstrument(tick.symbol))
        if tick.venue != instrument.venue:
            return "VenueMismatch", f"tick of {tick.symbol} on venue {tick.venue!r}; the instrument trades on {instrument.venue!r}"
        time_ms = tick.envelope.event_time_ms
        if symbol is not None:
            if tick.sequence <= symbol.last_sequence:
                return "DuplicateTick", (
                    f"{_where(tick)} sequence {tick.sequence} is not after the last one applied ({symbol.last_sequence}): "
                    "a tick already applied, or one out of order"
                )
            if time_ms < symbol.last_time_ms:
                return "TimeGoesBack", f"{_where(tick)} event time {time_ms} is before its last tick's ({symbol.last_time_ms})"
        clock = self.clock_ms
        if clock is not None:
            tolerance = self.settings.inputs.late_tolerance_ms
            if time_ms < clock - tolerance:
                return "LateTick", (
                    f"{_where(tick)} event time {time_ms} is {clock - time_ms} ms behind the partition's "
                    f"latest ({clock}); input.late_tolerance_ms is {tolerance}"
                )
        return None

    def _on_news(self, news: NewsScored, derivation: Derivation) -> list[Event]:
        known = news.symbol in self.settings.instruments
        refusal = self.news.refusal(news, known, self.clock_ms, self.settings.inputs.late_tolerance_ms)
        if refusal is not None:
            return [self._refuse(news, derivation, *refusal)]
        self.news.apply(news)
        return []

    def _on_signal(self, symbol: SymbolState, signal: Signal, session_close_ms: int, derivation: Derivation) -> list[Event]:
        book, patterns = symbol.book, symbol.patterns
        last = book.last_price
        scorer = self.model.scorer
        if last is None or scorer is None:  # no model: fail closed, the signal stands but nothing is ordered
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
            news_sentiment=self.news.score_of(signal.symbol),
        )
        out: list[Event] = []
        intents: list[OrderIntent] = symbol.strategy.on_signal(signal, context, scorer, derivation)
        for intent in intents:
            out.append(intent)
            out += book.on_intent(intent, derivation, session_end_ms=session_close_ms)
        return out

    def _on_trading_state(self, event: TradingStateChanged, derivation: Derivation) -> list[Event]:
        self.trading.set(event.symbol, event.state)
        applied = TradingStateApplied(
            envelope=derivation.envelope(event.event_time_ms, event.event_id, event.envelope.correlation_id),
            partition=self.partition,
            symbol=event.symbol,
            state=event.state,
            partition_state=self.trading.partition,
            symbol_states=self.trading.symbol_values(),
            reason=event.reason,
            actor=event.actor,
        )
        out: list[Event] = [applied]
        for name in sorted(self.symbols):
            book = self.symbols[name].book
            state = self.trading.of(name)
            if state is not book.trading_state:
                out += book.set_trading_state(state, event, derivation)
        return out

    def _on_model(self, event: ModelActivated, derivation: Derivation) -> ModelApplied:
        """Switches scoring from the next input on, or fails closed when the model cannot be had exactly."""
        self.model = ActiveModel.activated(ScorerSpec(event.name, event.version, event.sha256), self.resolve)
        return ModelApplied(
            envelope=derivation.envelope(event.event_time_ms, event.event_id, event.envelope.correlation_id),
            partition=self.partition,
            name=event.name,
            version=event.version,
            sha256=event.sha256,
            refusal=self.model.refusal,
            reason=event.reason,
            actor=event.actor,
        )

    def on_config(self, event: ConfigChanged, derivation: Derivation) -> list[Event]:
        """Applies a settings change (also used by what-if replays before their first input).

        A change the settings refuse is not applied at all and comes back as a DeadLettered event.
        """
        try:
            settings = self.settings.changed(event.settings, event.symbol)
        except ValueError as exc:
            # A bad change is refused whole and kept on the dead-letter topic; trading goes on as configured.
            return [self._refuse(event, derivation, "BadConfig", str(exc))]
        self.settings = settings
        for name in sorted(self.symbols):
            symbol = self.symbols[name]
            now = settings.for_symbol(name)
            if now != symbol.settings:
                symbol.settings = now
                symbol.patterns = _reconfigured(symbol.patterns, now.pattern)
                symbol.strategy = Strategy(now.strategy)
                symbol.book.reconfigure(now.book)
        return [self._config_applied(event, derivation, event.symbol, event.settings, event.reason, event.actor)]

    # --- state ------------------------------------------------------------------

    def _announcement(self, cause: Event, derivation: Derivation) -> list[Event]:
        """A kernel that starts empty announces the settings it starts with once, at its first input.

        Minted after a session-start snapshot of that input (whose state has not
        announced yet), so a kernel restored from that snapshot announces again
        under the same id, as live did.
        """
        if self.settings_announced:
            return []
        self.settings_announced = True
        return [self._config_applied(cause, derivation, None, self.settings.values, "start", "kernel")]

    def _new_symbol(self, name: str, settings: SymbolSettings) -> SymbolState:
        return SymbolState(
            settings,
            PatternEngine(name, settings.pattern),
            OmsBook(settings.book, self.trading.of(name)),
            Strategy(settings.strategy),
        )

    def _config_applied(
        self, cause: Event, derivation: Derivation, symbol: str | None, changed: Mapping[str, str], reason: str, actor: str
    ) -> ConfigApplied:
        state = self.settings.to_state()
        return ConfigApplied(
            envelope=derivation.envelope(cause.event_time_ms, cause.event_id, cause.envelope.correlation_id),
            partition=self.partition,
            symbol=symbol,
            changed=dict(sorted(changed.items())),
            settings=state["settings"],
            symbol_settings=state["symbol_settings"],
            reason=reason,
            actor=actor,
        )

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
            "format": SNAPSHOT_FORMAT,
            "code_version": __version__,
            "partition": self.partition,
            "last_applied_offset": self.last_applied_offset,
            "settings_announced": self.settings_announced,
            "clock_ms": self.clock_ms,
            **self.settings.to_state(),
            "trading": self.trading.to_state(),
            **self.news.to_state(),
            "model": self.model.to_state(),
            "symbols": {
                name: {
                    "session": s.session,
                    "last_sequence": s.last_sequence,
                    "last_time_ms": s.last_time_ms,
                    "patterns": s.patterns.to_state(),
                    "book": s.book.to_state(),
                }
                for name, s in sorted(self.symbols.items())
            },
        }

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        scorer: Scorer,
        calendars: VenueCalendars | None = None,
        resolve: ScorerResolver = load_scorer,
    ) -> TradingKernel:
        """The kernel a snapshot holds, scoring with the model the snapshot recorded.

        ``scorer`` is the caller's starting model: used if it is the recorded
        one, else the recorded one comes from ``resolve``. ``SnapshotFormatError``
        for a format this code cannot read, ``ValueError`` for a recorded model
        this host cannot provide.
        """
        form, code = snapshot_origin(state)
        if form not in READABLE_FORMATS:
            raise SnapshotFormatError(
                f"snapshot of state format {form} (taken by kernel/{code}); kernel/{__version__} reads formats "
                f"{', '.join(map(str, READABLE_FORMATS))} only: start from an earlier point of the log with a kernel "
                "that starts empty"
            )
        # Format 2 named the scorer by name and version only; any build of them this host provides continues it.
        recorded = state["model"] if form == SNAPSHOT_FORMAT else state["scorer"]
        kernel = cls(state["partition"], KernelSettings.from_state(state), scorer, calendars, resolve=resolve)
        kernel.model = ActiveModel.from_state(recorded, scorer, resolve)
        kernel.last_applied_offset = state["last_applied_offset"]
        kernel.settings_announced = state["settings_announced"]
        kernel.clock_ms = state["clock_ms"]
        kernel.trading = TradingStates.from_state(state["trading"])
        kernel.news = NewsSentiment.from_state(state)
        for name, s in sorted(state["symbols"].items()):
            settings = kernel.settings.for_symbol(name)
            kernel.symbols[name] = SymbolState(
                settings,
                PatternEngine.from_state(settings.pattern, s["patterns"]),
                OmsBook.from_state(settings.book, s["book"]),
                Strategy(settings.strategy),
                s["session"],
                s["last_sequence"],
                s["last_time_ms"],
            )
        kernel.trading_day = max((s.session for s in kernel.symbols.values() if s.session is not None), default=None)
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


def _where(tick: Tick) -> str:
    """How a refusal names the tick's instrument (built only for a refusal, never on the hot path)."""
    return f"{tick.venue}:{tick.symbol}"


def _reconfigured(engine: PatternEngine, config: PatternConfig) -> PatternEngine:
    """The engine under a new config: thresholds change in place, new indicator windows warm up afresh."""
    if config == engine.config:
        return engine
    try:
        return PatternEngine.from_state(config, engine.to_state())
    except ValueError:  # the indicators' windows changed: their history does not fit them
        return PatternEngine(engine.symbol, config)
