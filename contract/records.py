"""A log record as the kernel sees it, and decoding it at the edge.

Pure: the broker adapters build ``RawRecord`` values; the kernel runner, replay
and audit only read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.events import Event
from contract.serde import DecodeError, EventCodec

# Set by `aitrader ingest` on every input record: ASCII decimal epoch milliseconds of the wall clock when it was
# produced, for the wall-time latency metrics (eventlog/metrics.py). It varies from run to run, so nothing derived
# from a record ever copies it into event bytes.
INGEST_WALL_HEADER = "aitrader-ingest-wall-ms"


@dataclass(frozen=True, slots=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


class UndecodableRecord(DecodeError):
    """A record that does not decode, with where it sits on the log."""

    def __init__(self, record: RawRecord, reason: str) -> None:
        super().__init__(f"{record.topic}[{record.partition}]@{record.offset}: {reason}")
        self.record = record
        self.reason = reason


def decode(codec: EventCodec, record: RawRecord) -> Event:
    if record.value is None:
        raise UndecodableRecord(record, "no value (tombstone)")
    try:
        return codec.decode(record.value)
    except DecodeError as exc:
        raise UndecodableRecord(record, exc.reason) from exc
