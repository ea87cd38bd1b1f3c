"""Determinism digests of derived topics, and the first place two runs differ.

A replay is proven identical to live when, for each derived topic and
partition, the deduplicated sequences of encoded events are identical. The
digest is SHA-256 over that sequence: each event's bytes prefixed with their
length (8 bytes, big-endian), so no two different sequences can concatenate to
the same stream. Deduplication keeps the first record of each event id in log
order: at-least-once delivery may write an event twice, same id, same bytes.

Pure: no I/O. The adapters (``processors.replay.compare``) read the records.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contract.events import Event

LENGTH_BYTES = 8


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One decoded record of a derived topic and where it sits."""

    partition: int
    offset: int
    timestamp_ms: int
    value: bytes
    event: Event


@dataclass(frozen=True, slots=True)
class PartitionDigest:
    partition: int
    events: int  # after deduplication
    duplicates: int  # records dropped as repeats of an id already seen
    sha256: str


@dataclass(frozen=True, slots=True)
class TopicDigest:
    """A topic's digest: its partitions' digests, and one SHA-256 over them in partition order."""

    topic: str
    partitions: tuple[PartitionDigest, ...]
    sha256: str

    @property
    def events(self) -> int:
        return sum(p.events for p in self.partitions)

    @property
    def duplicates(self) -> int:
        return sum(p.duplicates for p in self.partitions)


def deduplicated(records: Iterable[LoggedEvent]) -> tuple[list[LoggedEvent], int]:
    """(first record of each event id in the given order, number of repeats dropped)."""
    seen: set[str] = set()
    kept: list[LoggedEvent] = []
    repeats = 0
    for record in records:
        if record.event.event_id in seen:
            repeats += 1
            continue
        seen.add(record.event.event_id)
        kept.append(record)
    return kept, repeats


def sequence_sha256(values: Iterable[bytes]) -> str:
    hasher = hashlib.sha256()
    for value in values:
        hasher.update(len(value).to_bytes(LENGTH_BYTES, "big"))
        hasher.update(value)
    return hasher.hexdigest()


def partition_digest(partition: int, records: Sequence[LoggedEvent]) -> PartitionDigest:
    """Digest of one partition's records, given in log order (deduplicated here)."""
    kept, repeats = deduplicated(records)
    return PartitionDigest(partition, len(kept), repeats, sequence_sha256(r.value for r in kept))


def topic_digest(topic: str, by_partition: Mapping[int, Sequence[LoggedEvent]], partitions: Iterable[int]) -> TopicDigest:
    """Digest over ``partitions`` (a partition without records digests as empty, so both sides agree on the set)."""
    digests = tuple(partition_digest(p, by_partition.get(p, ())) for p in sorted(set(partitions)))
    combined = hashlib.sha256()
    for digest in digests:
        combined.update(f"{digest.partition}:{digest.events}:{digest.sha256};".encode())
    return TopicDigest(topic, digests, combined.hexdigest())


# --- where two runs part ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldDifference:
    """One field that differs; ``path`` like ``quantity``, ``envelope.event_id`` or ``features.zscore``.

    The values are the events' own (Decimal, enum, ...); ``json.dumps(..., default=str)`` renders them.
    """

    path: str
    live: Any
    replay: Any


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first event of one partition where live and replay differ (after deduplication).

    ``index`` is the position in the deduplicated sequences; an event is None
    when that side has run out of events.
    """

    topic: str
    partition: int
    index: int
    live: LoggedEvent | None
    replay: LoggedEvent | None
    fields: tuple[FieldDifference, ...]


def first_divergence(
    topic: str, partition: int, live: Sequence[LoggedEvent], replay: Sequence[LoggedEvent]
) -> Divergence | None:
    """The first position where the deduplicated sequences differ byte-wise, with the fields that differ."""
    live_kept, _ = deduplicated(live)
    replay_kept, _ = deduplicated(replay)
    for index in range(max(len(live_kept), len(replay_kept))):
        left = live_kept[index] if index < len(live_kept) else None
        right = replay_kept[index] if index < len(replay_kept) else None
        if left is not None and right is not None and left.value == right.value:
            continue
        fields = field_differences(left.event, right.event) if left is not None and right is not None else ()
        return Divergence(topic, partition, index, left, right, fields)
    return None


def field_differences(live: Event, replay: Event) -> tuple[FieldDifference, ...]:
    """Every differing field: the type first, then payload fields in declaration order, the envelope last.

    The envelope comes last because ids and causation differ whenever the cause
    differs; the payload says what the decision was. Equal decoded events whose
    bytes differ (e.g. written with another schema version) yield ``encoding``.
    """
    if type(live) is not type(replay):
        return (FieldDifference("type", type(live).__name__, type(replay).__name__),)
    payload = [f.name for f in dataclasses.fields(live) if f.name != "envelope"]
    differences: list[FieldDifference] = []
    for name in payload:
        differences += _compare(name, getattr(live, name), getattr(replay, name))
    differences += _compare("envelope", live.envelope, replay.envelope)
    return tuple(differences) or (FieldDifference("encoding", "bytes differ", "decoded events are equal"),)


def _compare(path: str, left: Any, right: Any) -> list[FieldDifference]:
    if dataclasses.is_dataclass(left) and type(left) is type(right):
        out: list[FieldDifference] = []
        for f in dataclasses.fields(left):
            out += _compare(f"{path}.{f.name}", getattr(left, f.name), getattr(right, f.name))
        return out
    if isinstance(left, dict) and isinstance(right, dict):
        out = []
        for key in sorted(set(left) | set(right), key=str):
            out += _compare(f"{path}.{key}", left.get(key), right.get(key))
        return out
    if left == right and type(left) is type(right):
        return []
    return [FieldDifference(path, left, right)]
