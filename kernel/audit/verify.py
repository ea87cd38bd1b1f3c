"""Recomputes hash chains and holds them against signed checkpoints.

The pure core, ``verify_partition``, takes a starting anchor (the genesis link,
or a checkpoint trusted because its signature verifies), the records in the
order they are presented, and the checkpoints they should meet. It reports:

* checkpoints whose signature does not verify with the trusted key (forged);
* offsets missing, or out of order, in what was presented;
* a checkpoint whose sealed head differs from the recomputed one: something in
  the segment up to it was changed, removed, added or reordered;
* with a bundle's stored links, the first record where the chain departs from them;
* records after the last checkpoint (not sealed yet: not proven either way).

``select`` and ``verify_log`` apply it to the log itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kernel.audit.chain import Chain, ChainRecord, genesis
from kernel.audit.events import Checkpoint
from kernel.audit.sign import PublicKey
from kernel.consumer import LogReader
from kernel.events import AuditCheckpointSealed
from kernel.records import RawRecord, UndecodableRecord, decode
from kernel.serde import EventCodec
from kernel.topics import AUDIT_CHECKPOINTS, CATALOG, Namespace, TopicSpec

# Every topic the notary chains: the whole catalog but its own output.
EVENT_TOPICS: tuple[TopicSpec, ...] = tuple(s for s in CATALOG if s is not AUDIT_CHECKPOINTS)


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where a verification starts: the genesis link or a signed checkpoint's head."""

    last_offset: int  # -1 at genesis
    head: bytes
    records: int
    source: str

    @classmethod
    def at_genesis(cls, topic: str, partition: int) -> Anchor:
        return cls(-1, genesis(topic, partition), 0, "genesis")

    @classmethod
    def at(cls, checkpoint: Checkpoint) -> Anchor:
        return cls(checkpoint.last_offset, bytes.fromhex(checkpoint.head), checkpoint.records,
                   f"checkpoint at offset {checkpoint.last_offset}")


@dataclass
class PartitionReport:
    topic: str
    partition: int
    anchor: str = ""
    records: int = 0
    first_offset: int | None = None
    last_offset: int | None = None
    checkpoints_matched: int = 0
    unsealed: int = 0
    departs_at: int | None = None  # first offset whose recomputed link differs from the stored one
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def log_reader(bootstrap: str) -> LogReader:
    return LogReader(bootstrap)


def chain_record(record: RawRecord) -> ChainRecord:
    return ChainRecord(record.offset, record.timestamp_ms, record.key, record.value, tuple(record.headers))


def signed_checkpoints(
    checkpoints: Iterable[Checkpoint], key: PublicKey
) -> tuple[list[Checkpoint], list[str]]:
    """(checkpoints whose signature verifies with ``key``, one problem per one that does not)."""
    valid: dict[tuple[int, str], Checkpoint] = {}
    problems = []
    for checkpoint in checkpoints:
        if checkpoint.key_id != key.key_id or not key.verifies(checkpoint.signature, checkpoint.signed_payload()):
            problems.append(
                f"forged or corrupted checkpoint {checkpoint.topic}[{checkpoint.partition}] at offset "
                f"{checkpoint.last_offset}: its signature (key {checkpoint.key_id}) does not verify with key {key.key_id}"
            )
            continue
        valid[(checkpoint.last_offset, checkpoint.head)] = checkpoint  # a re-sealed point is the same statement
    return sorted(valid.values(), key=lambda c: c.last_offset), problems


def verify_partition(
    report: PartitionReport,
    anchor: Anchor,
    records: Iterable[tuple[ChainRecord, bytes | None]],
    checkpoints: Sequence[Checkpoint],
) -> PartitionReport:
    """Recomputes the chain from ``anchor`` over ``records`` (each with its stored link, if any).

    ``checkpoints`` are signature-checked ones after the anchor, by offset; each must
    meet a record at its offset with the same head.
    """
    report.anchor = anchor.source
    chain = Chain(report.topic, report.partition, anchor.head, anchor.last_offset, anchor.records)
    pending = [c for c in checkpoints if c.last_offset > anchor.last_offset]
    sealed_through = anchor.last_offset
    for record, stored in records:
        if record.offset <= chain.last_offset:
            report.problems.append(f"offset {record.offset} comes after {chain.last_offset}: records out of order")
            continue
        if record.offset != chain.last_offset + 1:
            missing = f"{chain.last_offset + 1}" + (f"..{record.offset - 1}" if record.offset - 1 > chain.last_offset + 1 else "")
            report.problems.append(f"offset {missing} missing before offset {record.offset}")
        while pending and pending[0].last_offset < record.offset:
            report.problems.append(f"no record at offset {pending.pop(0).last_offset}, which a checkpoint seals")
        head = chain.extend(record)
        report.records += 1
        report.first_offset = record.offset if report.first_offset is None else report.first_offset
        report.last_offset = record.offset
        if stored is not None and stored != head and report.departs_at is None:
            report.departs_at = record.offset
            report.problems.append(f"the chain departs from the stored links at offset {record.offset}: "
                                   "this record, or one before it, is not the one exported")
        if pending and pending[0].last_offset == record.offset:
            checkpoint = pending.pop(0)
            if checkpoint.head != head.hex():
                report.problems.append(
                    f"checkpoint at offset {checkpoint.last_offset} does not match: sealed head {checkpoint.head[:16]}, "
                    f"recomputed {head.hex()[:16]}; a record in offsets {sealed_through + 1}..{checkpoint.last_offset} "
                    "was changed, removed, added or reordered"
                )
                chain.head = bytes.fromhex(checkpoint.head)  # judge the next segment on its own
            else:
                report.checkpoints_matched += 1
            sealed_through = checkpoint.last_offset
    for checkpoint in pending:
        report.problems.append(f"no record at offset {checkpoint.last_offset}, which a checkpoint seals")
    report.unsealed = 0 if report.last_offset is None else max(0, report.last_offset - sealed_through)
    return report


# --- on the log ------------------------------------------------------------------


def read_checkpoints(reader: LogReader, namespace: Namespace) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint on ``audit.checkpoints``, and a problem per record that is not one."""
    topic = namespace.topic(AUDIT_CHECKPOINTS)
    found: list[Checkpoint] = []
    problems = []
    codec = EventCodec()
    for batch in reader.read(topic, reader.watermarks(topic)):
        for record in batch:
            try:
                event = decode(codec, record)
            except UndecodableRecord as exc:
                problems.append(str(exc))
                continue
            if isinstance(event, AuditCheckpointSealed):
                found.append(Checkpoint.from_event(event))
            else:
                problems.append(f"{topic}[{record.partition}]@{record.offset}: a {type(event).__name__}, not a checkpoint")
    return found, problems


@dataclass(frozen=True, slots=True)
class Selection:
    """What to read of one partition to verify offsets [start, end): from the anchor to the sealing checkpoint."""

    partition: int
    anchor: Anchor
    anchor_checkpoint: Checkpoint | None
    read_from: int
    read_to: int  # exclusive
    checkpoints: tuple[Checkpoint, ...]
    sealed: bool  # a checkpoint at or after end - 1 closes the range
    problems: tuple[str, ...]


def select(
    spec: TopicSpec,
    partition: int,
    marks: tuple[int, int],
    wanted: tuple[int, int],
    checkpoints: Sequence[Checkpoint],
    key: PublicKey,
) -> Selection:
    """The records and checkpoints that prove offsets ``wanted`` [start, end) of one partition."""
    mine = [c for c in checkpoints if c.topic == spec.name and c.partition == partition]
    valid, problems = signed_checkpoints(mine, key)
    start, end = wanted
    before = [c for c in valid if c.last_offset < start]
    anchor = Anchor.at(before[-1]) if before else Anchor.at_genesis(spec.name, partition)
    if not before and marks[0] > 0:
        problems.append(f"offsets below {marks[0]} were deleted from the log and no checkpoint lies after them")
    closing = next((c for c in valid if c.last_offset >= end - 1), None)
    read_to = closing.last_offset + 1 if closing is not None else marks[1]
    inside = tuple(c for c in valid if anchor.last_offset < c.last_offset < read_to)
    return Selection(partition, anchor, before[-1] if before else None, anchor.last_offset + 1, read_to, inside,
                     closing is not None, tuple(problems))


def verify_log(
    reader: LogReader,
    namespace: Namespace,
    spec: TopicSpec,
    key: PublicKey,
    offsets: dict[int, tuple[int, int]] | None = None,
) -> list[PartitionReport]:
    """Verifies a topic on the log (``offsets``: partition -> [start, end); default: everything)."""
    topic = namespace.topic(spec)
    checkpoints, unreadable = read_checkpoints(reader, namespace)
    marks = reader.watermarks(topic)
    reports: list[PartitionReport] = []
    for partition, bounds in sorted(marks.items()):
        wanted = offsets.get(partition, bounds) if offsets is not None else bounds
        if offsets is not None and partition not in offsets:
            continue
        chosen = select(spec, partition, bounds, wanted, checkpoints, key)
        stray = unreadable if not reports else []  # said once, with the first partition
        report = PartitionReport(spec.name, partition, problems=[*stray, *chosen.problems])
        records = (
            (chain_record(r), None)
            for batch in reader.read(topic, {partition: (chosen.read_from, chosen.read_to)})
            for r in batch
        )
        reports.append(verify_partition(report, chosen.anchor, records, chosen.checkpoints))
    return reports
