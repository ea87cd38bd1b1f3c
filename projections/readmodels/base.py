"""What the apply functions share: the decoded batch item and the projection context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from kernel.calendar import TradingCalendar
from kernel.consumer import RawRecord
from kernel.events import Event
from oms.instruments import BUILTIN_INSTRUMENT_SETTINGS, instrument

DEFAULT_VENUE = "CME"


@dataclass(frozen=True, slots=True)
class Item:
    """One decoded record of a batch."""

    record: RawRecord
    event: Event


@dataclass
class Context:
    """Reference data the projections need and the events do not carry.

    Fills carry no venue or multiplier: the trading day comes from the symbol's
    venue calendar and P&L from its instrument settings (the OMS's defaults:
    ES, multiplier 50, unless ``instrument.<SYMBOL>.*`` settings say otherwise).
    """

    settings: Mapping[str, str] = field(default_factory=dict)
    venues: Mapping[str, str] = field(default_factory=dict)
    default_venue: str = DEFAULT_VENUE

    @cached_property
    def _calendars(self) -> dict[str, TradingCalendar]:
        return {}

    def calendar(self, symbol: str) -> TradingCalendar:
        venue = self.venues.get(symbol, self.default_venue)
        if venue not in self._calendars:
            self._calendars[venue] = TradingCalendar.for_venue(venue)
        return self._calendars[venue]

    def trading_day(self, symbol: str, time_ms: int) -> str:
        return self.calendar(symbol).session_of(time_ms).day

    def multiplier(self, symbol: str) -> Decimal:
        return instrument(symbol, {**BUILTIN_INSTRUMENT_SETTINGS, **self.settings}).multiplier
