"""Kafka's murmur2 partitioner (the Java client's and aiokafka's default), for choosing a partition up front.

Producers hash keys themselves (``partitioner=murmur2_random``); this is for code
that must know the partition *before* it writes, e.g. to stamp a control event
with that partition's current event time.
"""

from __future__ import annotations

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """The 32-bit murmur2 hash with Kafka's seed, as an unsigned int."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    body = length - length % 4
    for i in range(0, body, 4):
        k = (int.from_bytes(data[i : i + 4], "little") * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = data[body:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: str, partitions: int) -> int:
    """The partition a key goes to: ``toPositive(murmur2(key)) % partitions``, as Kafka clients compute it."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
