"""The determinism proof: digests of the replayed and the live derived topics, and where they part.

Live side: derived events carry their input's event time, so the live events
derived from a partition's replayed inputs are the records of the derived
topic's partition stamped from the first replayed input's time to the last
one's. Inputs just outside the range may share those two milliseconds; records
stamped then are kept only if their id is one the kernel derives from an input
inside the range (ids are UUIDv5 of input partition, offset and output index).

Replay side: exactly the records this run appended to the replay topics.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from contract.digest import (
    Divergence,
    LoggedEvent,
    TopicDigest,
    first_divergence,
    topic_digest,
)
from contract.ids import id_from_record
from contract.records import decode
from contract.serde import EventCodec
from contract.topics import DERIVED, INPUTS, Namespace, TopicSpec
from eventlog.consumer import LogReader, OffsetRanges
from processors.replay.tally import InputSpan

# Most events one input can derive; only used to recognise events at the range's boundary milliseconds.
MAX_OUTPUTS_PER_INPUT = 1024


@dataclass(frozen=True, slots=True)
class TopicComparison:
    topic: str
    replay: TopicDigest
    live: TopicDigest | None  # None: not compared
    divergence: Divergence | None

    @property
    def identical(self) -> bool:
        return self.live is not None and self.live.sha256 == self.replay.sha256


@dataclass(frozen=True, slots=True)
class Comparison:
    topics: tuple[TopicComparison, ...]
    compared: bool

    @property
    def identical(self) -> bool:
        return self.compared and all(t.identical for t in self.topics)

    @property
    def first_divergence(self) -> Divergence | None:
        """The earliest differing event in event time over all derived topics (catalog order breaks ties)."""
        found = [t.divergence for t in self.topics if t.divergence is not None]
        return min(found, key=_divergence_time, default=None)


def _divergence_time(divergence: Divergence) -> int:
    times = [e.timestamp_ms for e in (divergence.live, divergence.replay) if e is not None]
    return min(times)


def read_events(reader: LogReader, codec: EventCodec, topic: str, ranges: OffsetRanges) -> dict[int, list[LoggedEvent]]:
    """Decoded records per partition, in log order."""
    result: dict[int, list[LoggedEvent]] = defaultdict(list)
    for batch in reader.read(topic, ranges):
        for record in batch:
            event = decode(codec, record)
            result[record.partition].append(
                LoggedEvent(record.partition, record.offset, record.timestamp_ms, record.value or b"", event)
            )
    return dict(result)


class _Boundary:
    """Tells, for records stamped at a span's first or last millisecond, whether the span's inputs derived them."""

    def __init__(self, span: InputSpan) -> None:
        self.span = span
        self._ids: dict[int, set[str]] = {}

    def _derivable(self, offsets: list[int]) -> set[str]:
        partition = self.span.partition
        return {id_from_record(INPUTS.name, partition, o, i) for o in offsets for i in range(MAX_OUTPUTS_PER_INPUT)}

    def keeps(self, record: LoggedEvent) -> bool:
        stamp = record.timestamp_ms
        if stamp not in (self.span.first_ms, self.span.last_ms):
            return True
        if stamp not in self._ids:
            offsets = (self.span.head if stamp == self.span.first_ms else []) + (
                self.span.tail if stamp == self.span.last_ms else []
            )
            self._ids[stamp] = self._derivable(offsets)
        return record.event.event_id in self._ids[stamp]


def live_events(
    reader: LogReader, codec: EventCodec, topic: str, spans: Mapping[int, InputSpan]
) -> dict[int, list[LoggedEvent]]:
    """The live records of ``topic`` derived from each span's inputs."""
    result: dict[int, list[LoggedEvent]] = {}
    for partition, span in sorted(spans.items()):
        start = reader.offsets_at(topic, span.first_ms)[partition]
        end = reader.offsets_at(topic, span.last_ms + 1)[partition]
        boundary = _Boundary(span)
        found = read_events(reader, codec, topic, {partition: (start, end)}).get(partition, [])
        result[partition] = [r for r in found if boundary.keeps(r)]
    return result


def compare_topics(
    reader: LogReader,
    codec: EventCodec,
    live: Namespace,
    replay: Namespace,
    spans: Mapping[int, InputSpan],
    written: Mapping[str, OffsetRanges],
    compare: bool,
    specs: tuple[TopicSpec, ...] = DERIVED,
) -> Comparison:
    """Digests of what this run wrote (``written``: logical topic -> ranges) and, if ``compare``, of live."""
    partitions = sorted(spans)
    results = []
    for spec in specs:
        replayed = read_events(reader, codec, replay.topic(spec), dict(written.get(spec.name, {})))
        replay_digest = topic_digest(spec.name, replayed, partitions)
        if not compare:
            results.append(TopicComparison(spec.name, replay_digest, None, None))
            continue
        lived = live_events(reader, codec, live.topic(spec), spans)
        live_digest = topic_digest(spec.name, lived, partitions)
        divergence = None
        if live_digest.sha256 != replay_digest.sha256:
            for partition in partitions:
                divergence = first_divergence(spec.name, partition, lived.get(partition, []), replayed.get(partition, []))
                if divergence is not None:
                    break
        results.append(TopicComparison(spec.name, replay_digest, live_digest, divergence))
    return Comparison(tuple(results), compare)
