"""Ops' decisions about records a projection refused: recorded on ``ops.decisions``, read by the projector.

The projector stops at a decoded record that a read model refuses (see
``projections.batch``). Letting it pass is a human decision, so it is written
onto the log as a ``ProjectionRecordSkipped`` fact: the projector reads the
decisions at the start of every pass, every rebuild from offset 0 skips the
same records, and the notary chains the decisions like any other topic. A
decision only matters where the model refuses the record: a record the model
accepts is applied whatever was decided.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import KafkaException

from contract import __version__
from contract.events import Envelope, Event, ProjectionRecordSkipped
from contract.ids import id_from_parts
from contract.serde import EventCodec
from contract.topics import OPS_DECISIONS, Namespace, by_name
from eventlog.consumer import LogReader, RawRecord, UndecodableRecord, decode
from eventlog.producer import EventProducer
from projections.registry import PROJECTIONS

PRODUCER = f"ops/{__version__}"

SkipKey = tuple[str, str, int, int]
"""(projection, logical topic, partition, offset)."""


class SkipRefused(ValueError):
    """The skip cannot be recorded as asked (unknown projection or topic, no such record, no reason)."""


def skip_decision(
    record: RawRecord, event: Event | None, projection: str, topic: str, reason: str, actor: str
) -> ProjectionRecordSkipped:
    """The decision for ``record`` (on logical ``topic``), caused by its event when it decodes.

    The id is derived from the decision's content, so recording the same decision
    twice gives one id; the time is the record's own, never the wall clock.
    """
    event_id = id_from_parts(OPS_DECISIONS.name, "skip", projection, topic, record.partition, record.offset, actor, reason)
    envelope = Envelope(event_id, record.timestamp_ms, PRODUCER, event.event_id if event else None, event_id)
    return ProjectionRecordSkipped(envelope, projection, topic, record.partition, record.offset, reason, actor)


def _record_at(reader: LogReader, broker_topic: str, topic: str, partition: int, offset: int) -> RawRecord:
    try:
        marks = reader.watermarks(broker_topic)
    except KafkaException as exc:
        raise SkipRefused(f"cannot read {broker_topic}: {exc}") from None
    if partition not in marks:
        raise SkipRefused(f"topic {topic} has no partition {partition} (partitions: {', '.join(map(str, sorted(marks)))})")
    low, high = marks[partition]
    if not low <= offset < high:
        held = f"offsets {low}..{high - 1}" if high > low else "no records"
        raise SkipRefused(f"no record at {topic} partition {partition} offset {offset}: the partition holds {held}")
    (record,) = next(reader.read(broker_topic, {partition: (offset, offset + 1)}))
    return record


def record_skip(
    bootstrap: str, namespace: Namespace, projection: str, topic: str, partition: int, offset: int, reason: str, actor: str
) -> ProjectionRecordSkipped:
    """Checks the request against the registry and the log, then writes the decision onto ``ops.decisions``."""
    known = {p.name: p for p in PROJECTIONS}
    if projection not in known:
        raise SkipRefused(f"unknown projection {projection!r}; known: {', '.join(known)}")
    try:
        spec = by_name(topic)
    except KeyError as exc:
        raise SkipRefused(str(exc.args[0])) from None
    if not known[projection].reads(spec):
        reads = ", ".join(t.name for t in known[projection].topics)
        raise SkipRefused(f"projection {projection} does not read {topic}; it reads {reads}")
    if not reason.strip():
        raise SkipRefused("--reason must say why the record may be skipped")
    with LogReader(bootstrap) as reader:
        record = _record_at(reader, namespace.topic(spec), topic, partition, offset)
    try:
        event: Event | None = decode(EventCodec(), record)
    except UndecodableRecord:
        event = None  # already dead-lettered by the projector; the decision is recorded all the same
    decision = skip_decision(record, event, projection, spec.name, reason, actor)
    producer = EventProducer(bootstrap, namespace)
    producer.send(OPS_DECISIONS, projection, decision)
    producer.flush()
    return decision


def read_skips(reader: LogReader, namespace: Namespace) -> Mapping[SkipKey, ProjectionRecordSkipped]:
    """Every recorded skip, the first decision of each record winning; other or unreadable records are ignored."""
    topic = namespace.topic(OPS_DECISIONS)
    codec = EventCodec()
    skips: dict[SkipKey, ProjectionRecordSkipped] = {}
    for batch in reader.read(topic, reader.watermarks(topic)):
        for record in batch:
            try:
                event = decode(codec, record)
            except UndecodableRecord:
                continue
            if isinstance(event, ProjectionRecordSkipped):
                skips.setdefault((event.projection, event.topic, event.partition, event.offset), event)
    return skips
