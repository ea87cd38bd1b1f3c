"""What the apply functions share: the decoded batch item and the projection context."""

from __future__ import annotations

from dataclasses import dataclass, field

from contract.events import Event
from eventlog.consumer import RawRecord
from marketdata.calendar import VenueCalendars
from oms.instruments import Instrument, ReferenceData


@dataclass(frozen=True, slots=True)
class Item:
    """One decoded record of a batch."""

    record: RawRecord
    event: Event


@dataclass
class Context:
    """Reference data the projections need and the events do not carry.

    Fills carry no venue or multiplier: both come from the instrument the
    fill's partition's kernel announced (``ConfigApplied``, folded into
    ``reference`` by the projector), so a fill is valued exactly as the kernel
    booked it. Ticks carry their venue, whose calendar gives their trading day.
    """

    reference: ReferenceData = field(default_factory=ReferenceData)
    calendars: VenueCalendars = field(default_factory=VenueCalendars)

    def instrument(self, partition: int, symbol: str) -> Instrument:
        """``UnknownInstrument`` until the partition's kernel announced it (the projector waits for that)."""
        return self.reference.instrument(partition, symbol)

    def trading_day(self, venue: str, time_ms: int) -> str:
        return self.calendars(venue).session_of(time_ms).day
