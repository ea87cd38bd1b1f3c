"""Feeds raw input records to a ``TradingKernel`` and routes what it derives.

Shared by every driver (the Faust agent, the fast replay, the tests): decode at
the edge, dead-letter what does not decode, apply, and say for each derived
event which topic, key and partition it goes to. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.events import (
    ConfigApplied,
    DeadLettered,
    Envelope,
    Event,
    KernelSnapshotTaken,
    ModelApplied,
    TradingStateApplied,
)
from contract.ids import id_from_record
from contract.records import INGEST_WALL_HEADER, RawRecord, UndecodableRecord, decode
from contract.serde import EventCodec
from contract.topics import INPUTS, TopicSpec, topic_for
from kernel.engine import PRODUCER, TradingKernel


@dataclass(frozen=True, slots=True)
class Routed:
    """One derived event and where it goes."""

    spec: TopicSpec
    key: str
    partition: int | None
    event: Event


def dead_letter(
    record: RawRecord, logical_topic: str, stage: str, reason: str, error_type: str = "DecodeError", id_topic: str | None = None
) -> DeadLettered:
    """The dead-letter event of a raw record, its id and time derived from the record itself.

    ``logical_topic`` is the record's topic as the catalog names it, never the broker's namespaced
    name: a replay in its own namespace then derives the same id and the same bytes, and the
    source reads as in the kernel's own refusals. ``id_topic`` (default: ``logical_topic``) lets
    another stage derive ids of its own for the same record.
    """
    event_id = id_from_record(id_topic or logical_topic, record.partition, record.offset, 0)
    return DeadLettered(
        envelope=Envelope(event_id, record.timestamp_ms, PRODUCER, None, event_id),
        source_topic=logical_topic,
        source_partition=record.partition,
        source_offset=record.offset,
        stage=stage,
        error_type=error_type,
        reason=reason,
        key=record.key,
        value=record.value,
        # The ingest wall clock differs from run to run: a copy of it would make a replay's dead letter differ from live's.
        headers={k: v for k, v in record.headers if v is not None and k != INGEST_WALL_HEADER},
    )


def route(event: Event, partition: int) -> Routed:
    spec = topic_for(event)
    if isinstance(event, (KernelSnapshotTaken, TradingStateApplied, ConfigApplied, ModelApplied)):
        # Partition state: it stays on the kernel's own partition whatever its symbols hash to.
        return Routed(spec, f"partition-{partition}", partition, event)
    if isinstance(event, DeadLettered):
        return Routed(spec, event.source_topic, None, event)
    return Routed(spec, event.symbol, None, event)


class KernelRunner:
    """One partition's kernel behind raw records."""

    def __init__(self, kernel: TradingKernel, codec: EventCodec | None = None) -> None:
        self.kernel = kernel
        self.codec = codec or EventCodec()

    def apply(self, record: RawRecord) -> list[Routed]:
        if record.offset <= self.kernel.last_applied_offset:
            return []
        try:
            event = decode(self.codec, record)
        except UndecodableRecord as exc:
            # Skipped for good: the record stays on the log, its copy and reason on the dead-letter topic.
            self.kernel.last_applied_offset = record.offset
            return [route(dead_letter(record, INPUTS.name, "kernel", exc.reason), record.partition)]
        return [route(e, record.partition) for e in self.kernel.apply(event, record.offset)]
