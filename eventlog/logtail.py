"""What is already at the end of the input topic: each partition's latest event time and last tick per symbol.

``aitrader ingest`` asks before it writes, so that loading a file again writes
nothing and a longer file resumes after the last tick already there. The last
tick of a (venue, symbol) is found by reading its partition backwards in
growing chunks from the end: a symbol that was loaded recently costs one small
read, and only a symbol that was never loaded makes the whole partition be
read (keys are compared before anything is decoded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from contract.events import Tick
from contract.sequencing import TickKey, tick_key
from contract.serde import EventCodec
from eventlog.consumer import LogReader, RawRecord, decode

FIRST_CHUNK = 1_000
LARGEST_CHUNK = 64_000


@dataclass
class PartitionTail:
    """One partition's end: its end offset, the timestamp of its last record, the last tick of each asked key."""

    partition: int
    end_offset: int
    latest_ms: int | None = None  # None: the partition is empty
    last: dict[TickKey, Tick] = field(default_factory=dict)


def read_tails(reader: LogReader, topic: str, wanted: Mapping[int, set[TickKey]], first_chunk: int = FIRST_CHUNK) -> dict[int, PartitionTail]:
    """For each partition in ``wanted``, its tail and the last tick of each wanted (venue, symbol) found on it."""
    codec = EventCodec()
    marks = reader.watermarks(topic)
    tails = {}
    for partition, keys in sorted(wanted.items()):
        low, end = marks[partition]
        tail = tails[partition] = PartitionTail(partition, end)
        missing = set(keys)
        chunk = first_chunk
        while missing and end > low:
            start = max(low, end - chunk)
            records = [r for batch in reader.read(topic, {partition: (start, end)}) for r in batch]
            if tail.latest_ms is None and records:
                tail.latest_ms = records[-1].timestamp_ms
            for record in reversed(records):
                tick = _wanted_tick(codec, record, missing)
                if tick is not None:
                    tail.last[tick_key(tick)] = tick
                    missing.discard(tick_key(tick))
            end, chunk = start, min(chunk * 2, LARGEST_CHUNK)
    return tails


def _wanted_tick(codec: EventCodec, record: RawRecord, missing: set[TickKey]) -> Tick | None:
    """The record's tick if it is one of a missing (venue, symbol); the key is checked before decoding."""
    if record.key is None or record.key.decode(errors="replace") not in {symbol for _, symbol in missing}:
        return None
    event = decode(codec, record)
    return event if isinstance(event, Tick) and tick_key(event) in missing else None
