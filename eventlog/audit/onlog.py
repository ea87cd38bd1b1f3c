"""The audit trail on the log: reading ``audit.checkpoints`` and verifying a topic where it lives.

``audit.checkpoints`` holds the notary's checkpoints and the root key's
statements about notary keys (``audit.trust``), both as events.
``verify_log`` picks, per partition, the records between the accepted
checkpoint before the wanted range and the first good one at or after its end,
and hands them to the pure ``verify_partition``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from audit.chain import ChainRecord
from audit.events import Checkpoint
from audit.trust import KeyStatement, Standing, Trust
from audit.verify import (
    Accepted,
    Anchor,
    PartitionReport,
    anchor_before,
    judge,
    verify_partition,
)
from contract.events import AuditCheckpointSealed, NotaryKeyCertified
from contract.records import RawRecord, UndecodableRecord, decode
from contract.serde import EventCodec
from contract.topics import AUDIT_CHECKPOINTS, CATALOG, Namespace, TopicSpec
from eventlog.consumer import LogReader

# Every topic the notary chains: the whole catalog but its own output.
EVENT_TOPICS: tuple[TopicSpec, ...] = tuple(s for s in CATALOG if s is not AUDIT_CHECKPOINTS)


def log_reader(bootstrap: str) -> LogReader:
    return LogReader(bootstrap)


def chain_record(record: RawRecord) -> ChainRecord:
    return ChainRecord(record.offset, record.timestamp_ms, record.key, record.value, tuple(record.headers))


@dataclass
class AuditLog:
    """What ``audit.checkpoints`` of one namespace holds."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    statements: list[KeyStatement] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # records that are neither
    last_timestamp_ms: int = 0  # of its last record: the time a new statement borrows

    @property
    def next_sequence(self) -> int:
        """The sequence the next seal takes: after every one on the log, trusted or not, so none is reused."""
        return max((c.sequence for c in self.checkpoints if not c.legacy), default=-1) + 1


def read_audit_log(reader: LogReader, namespace: Namespace) -> AuditLog:
    topic = namespace.topic(AUDIT_CHECKPOINTS)
    found = AuditLog()
    codec = EventCodec()
    for batch in reader.read(topic, reader.watermarks(topic)):
        for record in batch:
            found.last_timestamp_ms = max(found.last_timestamp_ms, record.timestamp_ms)
            try:
                event = decode(codec, record)
            except UndecodableRecord as exc:
                found.problems.append(str(exc))
                continue
            if isinstance(event, AuditCheckpointSealed):
                found.checkpoints.append(Checkpoint.from_event(event))
            elif isinstance(event, NotaryKeyCertified):
                found.statements.append(KeyStatement.from_event(event))
            else:
                found.problems.append(f"{topic}[{record.partition}]@{record.offset}: a {type(event).__name__}, "
                                      "not a checkpoint or key statement")
    return found


@dataclass(frozen=True, slots=True)
class Selection:
    """What to read of one partition to verify offsets [start, end): from the anchor to the sealing checkpoint."""

    partition: int
    anchor: Anchor
    anchor_checkpoint: Checkpoint | None
    read_from: int
    read_to: int  # exclusive
    checkpoints: tuple[Accepted, ...]
    sealed: bool  # a good checkpoint at or after end - 1 closes the range
    problems: tuple[str, ...]


def select(
    spec: TopicSpec, partition: int, marks: tuple[int, int], wanted: tuple[int, int], accepted: Sequence[Accepted],
    close_at: int | None = None,
) -> Selection:
    """The records and checkpoints that prove offsets ``wanted`` [start, end) of one partition.

    The range closes at the first good checkpoint at or after ``end - 1`` (or
    ``close_at``, when more must be covered): a compromised key's seal is no proof.
    """
    mine = [(c, s) for c, s in accepted if c.topic == spec.name and c.partition == partition]
    start, end = wanted
    anchor, anchor_checkpoint = anchor_before(spec.name, partition, start, mine)
    problems = []
    if anchor_checkpoint is None and marks[0] > 0:
        problems.append(f"offsets below {marks[0]} were deleted from the log and no checkpoint lies after them")
    last = max(end - 1, close_at if close_at is not None else -1)
    closing = next((c for c, s in mine if s is Standing.GOOD and c.last_offset >= last), None)
    if last <= anchor.last_offset and anchor.standing is Standing.GOOD:
        closing = anchor_checkpoint
    read_to = closing.last_offset + 1 if closing is not None else marks[1]
    inside = tuple((c, s) for c, s in mine if anchor.last_offset < c.last_offset < read_to)
    return Selection(partition, anchor, anchor_checkpoint, anchor.last_offset + 1, max(read_to, anchor.last_offset + 1),
                     inside, closing is not None or last < 0, tuple(problems))


def verify_log(
    reader: LogReader,
    namespace: Namespace,
    spec: TopicSpec,
    trust: Trust,
    audit: AuditLog,
    offsets: dict[int, tuple[int, int]] | None = None,
) -> list[PartitionReport]:
    """Verifies a topic on the log (``offsets``: partition -> [start, end); default: everything)."""
    topic = namespace.topic(spec)
    judged = judge(audit.checkpoints, trust)
    marks = reader.watermarks(topic)
    reports: list[PartitionReport] = []
    for partition, bounds in sorted(marks.items()):
        if offsets is not None and partition not in offsets:
            continue
        wanted = offsets[partition] if offsets is not None else bounds
        chosen = select(spec, partition, bounds, wanted, judged.of(spec.name, partition))
        refused = judged.refused_of(spec.name, partition)
        report = PartitionReport(spec.name, partition, problems=[*refused, *chosen.problems])
        report.notes += [why for c, why in judged.void if c.topic == spec.name and c.partition == partition]
        records = (
            (chain_record(r), None)
            for batch in reader.read(topic, {partition: (chosen.read_from, chosen.read_to)})
            for r in batch
        )
        reports.append(verify_partition(report, chosen.anchor, records, chosen.checkpoints))
    return reports
