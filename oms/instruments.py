"""What one contract of a symbol is: where it trades, what it is worth, its price grid and fee.

Reference data is configuration on the log: ``instrument.<SYMBOL>.<field>``
settings, in the run manifest and in ``ConfigChanged`` events, parsed here once
into ``Instrument`` values. A symbol without a definition is unknown and is
refused wherever it shows up; it is never priced like some other contract.
The sample day's E-mini S&P 500 (ES) is the one instrument built in
(``BUILTIN_INSTRUMENT_SETTINGS``); every other one is defined by settings, e.g.
``instrument.NQ.venue=CME``, ``.currency=USD``, ``.multiplier=20``,
``.tick_size=0.25`` and optionally ``.fee_per_unit`` (0 when not given).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contract.events import ConfigApplied
from marketdata.calendar import VENUE_CALENDARS, UnknownVenue
from oms.settings import decimal_setting

PREFIX = "instrument."
REQUIRED_FIELDS = ("venue", "currency", "multiplier", "tick_size")
FIELDS = (*REQUIRED_FIELDS, "fee_per_unit")
SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_/-]{0,31}\Z")
CURRENCY = re.compile(r"^[A-Z]{3}\Z")

# The sample day's contract (data/README.md): USD 50 per index point, quarter-point ticks,
# about USD 2.25 per contract per side in exchange and clearing fees.
BUILTIN_INSTRUMENT_SETTINGS: dict[str, str] = {
    "instrument.ES.venue": "CME",
    "instrument.ES.currency": "USD",
    "instrument.ES.multiplier": "50",
    "instrument.ES.tick_size": "0.25",
    "instrument.ES.fee_per_unit": "2.25",
}


class UnknownInstrument(ValueError):
    """A symbol with no instrument definition."""

    def __init__(self, symbol: str) -> None:
        super().__init__(
            f"unknown instrument {symbol!r}: define it with settings instrument.{symbol}.venue, "
            f"instrument.{symbol}.currency, instrument.{symbol}.multiplier and instrument.{symbol}.tick_size"
        )
        self.symbol = symbol


@dataclass(frozen=True, slots=True)
class Instrument:
    """A contract; prices are quoted in points, money is ``points * multiplier`` in ``currency``."""

    symbol: str
    venue: str
    currency: str
    multiplier: Decimal
    tick_size: Decimal
    fee_per_unit: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if not SYMBOL.match(self.symbol):
            raise ValueError(f"instrument {self.symbol!r}: a symbol is 1-32 letters, digits, '_', '/' or '-'")
        if self.venue not in VENUE_CALENDARS:
            raise UnknownVenue(self.venue)
        if not CURRENCY.match(self.currency):
            raise ValueError(f"instrument {self.symbol}: currency {self.currency!r} is not a three-letter code")
        if self.multiplier <= 0 or self.tick_size <= 0 or self.fee_per_unit < 0:
            raise ValueError(f"instrument {self.symbol}: multiplier and tick_size must be > 0, fee >= 0")

    def is_on_tick(self, price: Decimal) -> bool:
        return price % self.tick_size == 0

    def notional(self, quantity: Decimal, price: Decimal) -> Decimal:
        return quantity * price * self.multiplier

    def to_settings(self) -> dict[str, str]:
        """The ``instrument.*`` settings that define this instrument."""
        prefix = f"{PREFIX}{self.symbol}."
        return {
            f"{prefix}venue": self.venue,
            f"{prefix}currency": self.currency,
            f"{prefix}multiplier": str(self.multiplier),
            f"{prefix}tick_size": str(self.tick_size),
            f"{prefix}fee_per_unit": str(self.fee_per_unit),
        }

    def to_state(self) -> dict[str, Any]:
        return {"symbol": self.symbol, **{k.rpartition(".")[2]: v for k, v in self.to_settings().items()}}


def instruments_from_settings(settings: Mapping[str, str]) -> dict[str, Instrument]:
    """Every instrument the ``instrument.<SYMBOL>.<field>`` keys define, by symbol.

    Raises ``ValueError`` naming the key on an unknown field, a bad value, an
    unknown venue, or an instrument missing a required field.
    """
    fields: dict[str, dict[str, str]] = {}
    for key, value in settings.items():
        if not key.startswith(PREFIX):
            continue
        symbol, dot, name = key[len(PREFIX) :].rpartition(".")
        if not dot or not symbol:
            raise ValueError(f"setting {key!r}: expected {PREFIX}<SYMBOL>.<field>")
        if name not in FIELDS:
            raise ValueError(f"unknown setting {key!r}; an instrument has {', '.join(FIELDS)}")
        fields.setdefault(symbol, {})[name] = value.strip()
    instruments = {}
    for symbol, given in sorted(fields.items()):
        missing = [f"{PREFIX}{symbol}.{name}" for name in REQUIRED_FIELDS if name not in given]
        if missing:
            raise ValueError(f"instrument {symbol}: missing setting(s) {', '.join(missing)}")
        keyed = {f"{PREFIX}{symbol}.{name}": value for name, value in given.items()}
        instruments[symbol] = Instrument(
            symbol=symbol,
            venue=given["venue"],
            currency=given["currency"],
            multiplier=decimal_setting(keyed, f"{PREFIX}{symbol}.multiplier", Decimal(0)),
            tick_size=decimal_setting(keyed, f"{PREFIX}{symbol}.tick_size", Decimal(0)),
            fee_per_unit=decimal_setting(keyed, f"{PREFIX}{symbol}.fee_per_unit", Decimal(0)),
        )
    return instruments


def instrument(symbol: str, settings: Mapping[str, str]) -> Instrument:
    """The instrument of ``symbol`` among ``settings``; ``UnknownInstrument`` when none defines it."""
    found = instruments_from_settings(settings).get(symbol)
    if found is None:
        raise UnknownInstrument(symbol)
    return found


class ReferenceData:
    """The instruments each partition's kernel announced (``ConfigApplied``), for the read side.

    Projections and the account monitor value fills with exactly the
    instruments the kernel that booked them had; until a partition's kernel
    announces its settings, the built-in instruments stand for it.
    """

    def __init__(self) -> None:
        self._builtin = instruments_from_settings(BUILTIN_INSTRUMENT_SETTINGS)
        self._by_partition: dict[int, dict[str, Instrument]] = {}

    def apply(self, event: ConfigApplied) -> None:
        self._by_partition[event.partition] = instruments_from_settings(event.settings)

    def instrument(self, partition: int, symbol: str) -> Instrument:
        """The instrument of ``symbol`` on ``partition``; ``UnknownInstrument`` when its kernel defined none."""
        found = self._by_partition.get(partition, self._builtin).get(symbol)
        if found is None:
            raise UnknownInstrument(symbol)
        return found
