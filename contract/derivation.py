"""Mints the envelopes of the events derived from one input record.

Every event the kernel emits while applying one input gets an id derived from
that input's position on the log plus an output index, and the input's event
time, so a replay derives the very same envelopes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contract.events import Envelope
from contract.ids import id_from_record


@dataclass(slots=True)
class Derivation:
    """One input record's position; hands out envelopes in output order."""

    topic: str
    partition: int
    offset: int
    producer: str
    _next_index: int = field(default=0, repr=False)

    def envelope(self, event_time_ms: int, causation_id: str | None, correlation_id: str | None = None) -> Envelope:
        """The next derived envelope; ``correlation_id`` defaults to the new event's own id (a chain's root)."""
        event_id = id_from_record(self.topic, self.partition, self.offset, self._next_index)
        self._next_index += 1
        return Envelope(
            event_id=event_id,
            event_time_ms=event_time_ms,
            producer=self.producer,
            causation_id=causation_id,
            correlation_id=correlation_id or event_id,
        )
