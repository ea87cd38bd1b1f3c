"""What is already at the end of the input topic: each partition's latest event time and last tick (or news) per symbol.

``aitrader ingest`` and ``aitrader ingest-news`` ask before they write, so that
loading a file again writes nothing and a longer file resumes after the last
item already there. The last tick of a (venue, symbol), or the last news of a
symbol, is found by reading its partition backwards in growing chunks from the
end: a symbol that was loaded recently costs one small read, and only a symbol
that was never loaded makes the whole partition be read (record keys and schema
fingerprints are compared before anything is decoded).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contract.events import Event, NewsScored, Tick
from contract.sequencing import tick_key
from contract.serde import HEADER_LENGTH, MAGIC, EventCodec
from eventlog.consumer import LogReader, RawRecord, decode

FIRST_CHUNK = 1_000
LARGEST_CHUNK = 64_000


@dataclass(frozen=True)
class Lookup:
    """What a tail read looks for: events of ``kind``, each under ``key_of(event)``, whose record key is ``symbol_of(key)``."""

    kind: type[Event]
    key_of: Callable[[Any], Hashable]
    symbol_of: Callable[[Any], str]


TICKS = Lookup(Tick, tick_key, lambda key: key[1])  # keys: (venue, symbol)
NEWS = Lookup(NewsScored, lambda news: news.symbol, lambda key: key)  # keys: symbol


@dataclass
class PartitionTail:
    """One partition's end: its end offset, the timestamp of its last record, the last event of each asked key."""

    partition: int
    end_offset: int
    latest_ms: int | None = None  # None: the partition is empty
    last: dict[Any, Any] = field(default_factory=dict)


def read_tails(
    reader: LogReader, topic: str, wanted: Mapping[int, set[Any]], first_chunk: int = FIRST_CHUNK, lookup: Lookup = TICKS
) -> dict[int, PartitionTail]:
    """For each partition in ``wanted``, its tail and the last event of each wanted key found on it."""
    codec = EventCodec()
    fingerprints = {fp for fp, schema in codec.registry.by_fingerprint.items() if schema.full_name == lookup.kind.SCHEMA}
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
            symbols = {lookup.symbol_of(key) for key in missing}
            for record in reversed(records):
                found = _wanted(codec, record, lookup, fingerprints, symbols, missing)
                if found is not None:
                    tail.last[lookup.key_of(found)] = found
                    missing.discard(lookup.key_of(found))
            end, chunk = start, min(chunk * 2, LARGEST_CHUNK)
    return tails


def _wanted(
    codec: EventCodec, record: RawRecord, lookup: Lookup, fingerprints: set[bytes], symbols: set[str], missing: set[Any]
) -> Event | None:
    """The record's event if it is one a missing key asks for; record key and writer fingerprint are checked before decoding."""
    if record.key is None or record.key.decode(errors="replace") not in symbols:
        return None
    value = record.value or b""
    if value[: len(MAGIC)] == MAGIC and value[len(MAGIC) : HEADER_LENGTH] not in fingerprints:
        return None
    event = decode(codec, record)
    return event if isinstance(event, lookup.kind) and lookup.key_of(event) in missing else None
