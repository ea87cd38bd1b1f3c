"""The venue side of the OMS, as a protocol a real broker adapter can implement later.

The OMS accepts an order after pre-trade risk and hands it to the venue; the
venue answers with execution events (fills, cancels, expiries). Every answer is a
list of events minted through the caller's ``Derivation``, so a venue that answers
at once (the simulator) and one that answers later (a live adapter, whose reports
then come back as inputs through the sequencer) fit the same interface; an empty
list means "nothing yet".
"""

from __future__ import annotations

from typing import Protocol

from contract.derivation import Derivation
from contract.events import Event, Tick
from oms.order import Order


class BrokerAdapter(Protocol):
    @property
    def has_working_orders(self) -> bool:
        """True while some order is working at the venue."""
        ...

    def submit_order(self, order: Order, accepted_time_ms: int) -> list[Event]:
        """Send an accepted order to the venue; returns any immediate venue events."""
        ...

    def cancel_order(
        self, order_id: str, reason: str, event_time_ms: int, causation_id: str, derivation: Derivation
    ) -> list[Event]:
        """Ask the venue to cancel; returns the ``OrderCanceled`` if confirmed now, [] if unknown or later."""
        ...

    def on_market_tick(self, tick: Tick, derivation: Derivation) -> list[Event]:
        """Market data reached the venue; returns the executions, cancels and expiries it caused."""
        ...
