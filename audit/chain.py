"""Hash chains over log records, one per topic partition.

    link(-1) = SHA-256( field(DOMAIN) || field(topic) || int64(partition) )
    link(n)  = SHA-256( link(n-1) || int64(offset) || field(key) || field(value)
                        || uint32(header count) || (field(name) || field(value))* || int64(timestamp) )

``field(x)`` is one byte 0 for an absent value, else one byte 1, the length as
8 bytes big-endian and the bytes, so no two different records encode alike
(a null key differs from an empty one, header boundaries cannot shift).
``topic`` is the logical name (no namespace prefix): a chain means the same in
any namespace and in an exported bundle.

Changing, removing, inserting or reordering any record changes every later
link, so one signed link (a checkpoint) vouches for the whole prefix.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DOMAIN = b"aitrader.audit.chain.v1"
LINK_BYTES = 32


@dataclass(frozen=True, slots=True)
class ChainRecord:
    """What the chain covers of one record: everything the broker stores, in order."""

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


def _field(data: bytes | None) -> bytes:
    if data is None:
        return b"\x00"
    return b"\x01" + len(data).to_bytes(8, "big") + data


def _int64(value: int) -> bytes:
    return value.to_bytes(8, "big", signed=True)


def genesis(topic: str, partition: int) -> bytes:
    """The link before a partition's first record."""
    return hashlib.sha256(_field(DOMAIN) + _field(topic.encode()) + _int64(partition)).digest()


def encode(record: ChainRecord) -> bytes:
    """The unambiguous encoding of one record (without the previous link)."""
    parts = [_int64(record.offset), _field(record.key), _field(record.value), len(record.headers).to_bytes(4, "big")]
    for name, value in record.headers:
        parts += [_field(name.encode()), _field(value)]
    parts.append(_int64(record.timestamp_ms))
    return b"".join(parts)


def link(previous: bytes, record: ChainRecord) -> bytes:
    if len(previous) != LINK_BYTES:
        raise ValueError(f"a link is {LINK_BYTES} bytes, got {len(previous)}")
    return hashlib.sha256(previous + encode(record)).digest()


@dataclass(slots=True)
class Chain:
    """One partition's chain as far as it has been extended.

    ``last_offset`` is the offset of the record ``head`` covers (-1 before the
    first); ``records`` how many records the chain covers in all.
    """

    topic: str
    partition: int
    head: bytes
    last_offset: int = -1
    records: int = 0
    last_timestamp_ms: int = 0

    @classmethod
    def start(cls, topic: str, partition: int) -> Chain:
        return cls(topic, partition, genesis(topic, partition))

    def extend(self, record: ChainRecord) -> bytes:
        """Adds the next record; offsets must increase (a refused record leaves the chain as it was)."""
        if record.offset <= self.last_offset:
            raise ValueError(
                f"{self.topic}[{self.partition}]: offset {record.offset} does not follow {self.last_offset}"
            )
        self.head = link(self.head, record)
        self.last_offset = record.offset
        self.records += 1
        self.last_timestamp_ms = record.timestamp_ms
        return self.head

    def extend_all(self, records: Iterable[ChainRecord]) -> bytes:
        for record in records:
            self.extend(record)
        return self.head

    def to_state(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "head": self.head.hex(),
            "last_offset": self.last_offset,
            "records": self.records,
            "last_timestamp_ms": self.last_timestamp_ms,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Chain:
        head = bytes.fromhex(str(state["head"]))
        if len(head) != LINK_BYTES:
            raise ValueError(f"chain head must be {LINK_BYTES} bytes")
        return cls(
            str(state["topic"]),
            int(state["partition"]),
            head,
            int(state["last_offset"]),
            int(state["records"]),
            int(state["last_timestamp_ms"]),
        )
