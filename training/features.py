"""One row per 1-minute bar close, with the features the live strategy would hand its scorer on that bar.

The rows come from the very ``PatternEngine`` the kernel runs (``kernel/patterns.py``),
configured by the kernel's settings, with sessions started where the kernel starts
them (the venue's calendar, ``kernel/engine.py``). At a bar that fired a signal the
row's features are exactly the signal's features plus ``signal_score`` = the
signal's score, which is what ``Strategy.on_signal`` scores.

``signal_score`` at a bar close with no signal is 0.0: no pattern has a view, the
neutral score. When several patterns fire on one bar, the row takes the first in
the engine's evaluation order (ema_crossover, vwap, volatility_breakout).

A bar becomes a row once the engine defines every model feature (``zscore`` needs a
full return window, ``volume_ratio`` a warm volume average): before that the strategy
could not score it either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contract.derivation import Derivation
from contract.events import Signal, Tick
from contract.topics import INPUTS
from inference.scorer import FEATURE_NAMES, feature_vector
from kernel.engine import PRODUCER
from kernel.patterns import PatternEngine
from kernel.settings import SymbolSettings
from kernel.strategy import SIGNAL_SCORE_FEATURE
from marketdata.calendar import VenueCalendars

NO_SIGNAL_SCORE = 0.0
_ENGINE_FEATURES = tuple(name for name in FEATURE_NAMES if name != SIGNAL_SCORE_FEATURE)


@dataclass(frozen=True, slots=True)
class BarRow:
    """A closed bar: its session, when the strategy decides on it, its close and the model's features."""

    session: str  # the trading day the bar belongs to
    closed_at_ms: int  # the event time of the tick that closed the bar: when the strategy decides
    close: float
    features: tuple[float, ...]  # in FEATURE_NAMES order
    pattern: str | None  # the signal the row's signal_score comes from; None: no signal on this bar


def bar_rows(ticks: Iterable[Tick], settings: SymbolSettings, calendars: VenueCalendars | None = None) -> list[BarRow]:
    """The feature rows of one symbol's ticks, in time order.

    ``ticks``: every tick of that symbol the kernel would apply, in log order (a file ``aitrader ingest``
    accepts: it refuses what the kernel would dead-letter).
    """
    calendar = (calendars or VenueCalendars())(settings.instrument.venue)
    engine: PatternEngine | None = None
    session: str | None = None
    rows: list[BarRow] = []
    for offset, tick in enumerate(ticks):
        if engine is None:
            engine = PatternEngine(tick.symbol, settings.pattern)
        derivation = Derivation(INPUTS.name, 0, offset, PRODUCER)  # the engine mints ids; the rows drop them
        day = calendar.session_of(tick.event_time_ms).day
        if day != session:
            # As the kernel does: the open bar closes, still in the old session, before the new one starts.
            closed = engine.bars_closed
            signals = engine.start_session(tick, derivation)
            if engine.bars_closed > closed and session is not None:
                _append(rows, engine, signals, session, tick)
            session = day
        closed = engine.bars_closed
        signals = engine.on_tick(tick, derivation)
        if engine.bars_closed > closed:
            _append(rows, engine, signals, session, tick)
    return rows


def _append(rows: list[BarRow], engine: PatternEngine, signals: list[Signal], session: str, tick: Tick) -> None:
    # ``features()`` is the closed bar's features (what a signal carries) plus the latest trade price.
    features = engine.features()
    if any(name not in features for name in _ENGINE_FEATURES):
        return
    first = signals[0] if signals else None
    features[SIGNAL_SCORE_FEATURE] = NO_SIGNAL_SCORE if first is None else float(first.score)
    rows.append(
        BarRow(
            session=session,
            closed_at_ms=tick.event_time_ms,
            close=features["close"],
            features=feature_vector(features),
            pattern=None if first is None else first.pattern,
        )
    )
