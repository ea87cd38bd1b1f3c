"""Recomputes hash chains and holds them against signed checkpoints; says how complete a set of records is.

The core, ``verify_partition``, takes a starting anchor (the genesis link, or a
checkpoint the trust accepts), the records in the order they are presented, and
the accepted checkpoints they should meet. It reports:

* offsets missing, or out of order, in what was presented;
* a checkpoint whose sealed head differs from the recomputed one: something in
  the segment up to it was changed, removed, added or reordered;
* with a bundle's stored links, the first record where the chain departs from them;
* how far the partition is *proven*: up to the last checkpoint in good standing
  that the chain met (a compromised key's checkpoints count only once a good one
  after them confirms the chain through them), and what lies after it.

``complete_as_of`` goes from partitions to the topic: a checkpoint's
``topic_offsets`` say how far the notary had chained every partition when it
sealed, so records that reach those offsets in every partition hold everything
the topic had at that signed point. A bundle cut back, or missing a partition,
no longer covers the point it claims.

``judge`` sorts checkpoints by ``audit.trust``. Pure: no I/O; the log
(``onlog``) and bundles (``bundle``) feed it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from audit.chain import Chain, ChainRecord, genesis
from audit.events import Checkpoint
from audit.trust import Standing, Trust

Accepted = tuple[Checkpoint, Standing]


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where a verification starts: the genesis link or an accepted checkpoint's head."""

    last_offset: int  # -1 at genesis
    head: bytes
    records: int
    source: str
    standing: Standing = Standing.GOOD  # genesis needs no signature

    @classmethod
    def at_genesis(cls, topic: str, partition: int) -> Anchor:
        return cls(-1, genesis(topic, partition), 0, "genesis")

    @classmethod
    def at(cls, checkpoint: Checkpoint, standing: Standing = Standing.GOOD) -> Anchor:
        return cls(checkpoint.last_offset, bytes.fromhex(checkpoint.head), checkpoint.records,
                   f"checkpoint at offset {checkpoint.last_offset}", standing)


@dataclass
class PartitionReport:
    topic: str
    partition: int
    anchor: str = ""
    records: int = 0
    first_offset: int | None = None
    last_offset: int | None = None
    checkpoints_matched: int = 0
    unsealed: int = 0  # records after the proven point
    departs_at: int | None = None  # first offset whose recomputed link differs from the stored one
    proven_through: int | None = None  # last offset a good checkpoint proves (-1: genesis, nothing to prove)
    proven_by: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth saying, not a failure (void seals of a retired key)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Judged:
    """Checkpoints sorted by a trust: accepted (with standing), refused, and void (after their key's window closed)."""

    accepted: tuple[Accepted, ...]
    refused: tuple[tuple[Checkpoint, str], ...]
    void: tuple[tuple[Checkpoint, str], ...]

    def of(self, topic: str, partition: int) -> list[Accepted]:
        return [(c, s) for c, s in self.accepted if c.topic == topic and c.partition == partition]

    def refused_of(self, topic: str, partition: int | None = None) -> list[str]:
        return [why for c, why in self.refused if c.topic == topic and partition in (None, c.partition)]


def judge(checkpoints: Iterable[Checkpoint], trust: Trust) -> Judged:
    """Each checkpoint through ``trust``; two accepted seals with one sequence but different content are refused."""
    accepted: dict[tuple[str, int, int, str, str], Accepted] = {}
    refused: list[tuple[Checkpoint, str]] = []
    void: list[tuple[Checkpoint, str]] = []
    by_sequence: dict[int, Checkpoint] = {}
    for checkpoint in checkpoints:
        verdict = trust.judge(checkpoint)
        if verdict.standing is None:
            (void if verdict.void else refused).append((checkpoint, verdict.problem))
            continue
        other = by_sequence.setdefault(checkpoint.sequence, checkpoint)
        if other.signed_payload() != checkpoint.signed_payload():
            refused.append((checkpoint, f"two checkpoints carry sequence {checkpoint.sequence}: {other.where} and "
                                        f"{checkpoint.where}; a notary numbers each seal once"))
            continue
        accepted[(checkpoint.topic, checkpoint.partition, checkpoint.last_offset, checkpoint.head, checkpoint.key_id)] = (
            checkpoint, verdict.standing)
    ordered = sorted(accepted.values(), key=lambda a: (a[0].topic, a[0].partition, a[0].last_offset, a[0].sequence))
    return Judged(tuple(ordered), tuple(refused), tuple(void))


def anchor_before(topic: str, partition: int, first: int, accepted: Sequence[Accepted]) -> tuple[Anchor, Checkpoint | None]:
    """Where to start before offset ``first``: the last good checkpoint, else the last unconfirmed one, else genesis.

    A good anchor first, however much earlier: an unconfirmed one may be a thief's
    back-dated forgery, which then stays a checkpoint to hold the chain against.
    """
    before = [(c, s) for c, s in accepted if c.partition == partition and c.last_offset < first]
    if not before:
        return Anchor.at_genesis(topic, partition), None
    checkpoint, standing = max(before, key=lambda a: (a[1] is Standing.GOOD, a[0].last_offset))
    return Anchor.at(checkpoint, standing), checkpoint


def verify_partition(
    report: PartitionReport,
    anchor: Anchor,
    records: Iterable[tuple[ChainRecord, bytes | None]],
    checkpoints: Sequence[Accepted],
) -> PartitionReport:
    """Recomputes the chain from ``anchor`` over ``records`` (each with its stored link, if any).

    ``checkpoints`` are accepted ones; each after the anchor must meet a record at
    its offset with the same head.
    """
    report.anchor = anchor.source
    chain = Chain(report.topic, report.partition, anchor.head, anchor.last_offset, anchor.records)
    pending = sorted((a for a in checkpoints if a[0].last_offset > anchor.last_offset), key=lambda a: a[0].last_offset)
    sealed_through = anchor.last_offset
    known = len(report.problems)  # the caller's; proof stops at the first problem this walk finds
    if anchor.standing is Standing.GOOD:
        report.proven_through = anchor.last_offset
    for record, stored in records:
        if record.offset <= chain.last_offset:
            report.problems.append(f"offset {record.offset} comes after {chain.last_offset}: records out of order")
            continue
        if record.offset != chain.last_offset + 1:
            missing = f"{chain.last_offset + 1}" + (f"..{record.offset - 1}" if record.offset - 1 > chain.last_offset + 1 else "")
            report.problems.append(f"offset {missing} missing before offset {record.offset}")
        while pending and pending[0][0].last_offset < record.offset:
            report.problems.append(f"no record at offset {pending.pop(0)[0].last_offset}, which a checkpoint seals")
        head = chain.extend(record)
        report.records += 1
        report.first_offset = record.offset if report.first_offset is None else report.first_offset
        report.last_offset = record.offset
        if stored is not None and stored != head and report.departs_at is None:
            report.departs_at = record.offset
            report.problems.append(f"the chain departs from the stored links at offset {record.offset}: "
                                   "this record, or one before it, is not the one exported")
        sealed: list[Accepted] = []
        while pending and pending[0][0].last_offset == record.offset:
            sealed.append(pending.pop(0))
        for checkpoint, standing in sealed:
            if checkpoint.head == head.hex():
                report.checkpoints_matched += 1
                if standing is Standing.GOOD and len(report.problems) == known:
                    report.proven_through, report.proven_by = checkpoint.last_offset, checkpoint
                continue
            report.problems.append(
                f"checkpoint at offset {checkpoint.last_offset} does not match: sealed head {checkpoint.head[:16]}, "
                f"recomputed {head.hex()[:16]}; a record in offsets {sealed_through + 1}..{checkpoint.last_offset} "
                "was changed, removed, added or reordered"
            )
        good = [c for c, s in sealed if s is Standing.GOOD]
        if good and all(c.head != head.hex() for c in good):
            chain.head = bytes.fromhex(good[0].head)  # judge the next segment on its own
        if sealed:
            sealed_through = record.offset
    for checkpoint, _ in pending:
        report.problems.append(f"no record at offset {checkpoint.last_offset}, which a checkpoint seals")
    proven = -1 if report.proven_through is None else report.proven_through
    report.unsealed = 0 if report.last_offset is None else max(0, report.last_offset - max(proven, anchor.last_offset))
    return report


# --- the topic -------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """The signed point up to which records hold the whole topic (``checkpoint``: the seal that names it)."""

    checkpoint: Checkpoint
    partitions: int

    @property
    def through_ms(self) -> int:
        return self.checkpoint.last_timestamp_ms

    def offsets(self) -> list[int]:
        return [self.checkpoint.snapshot(p) for p in range(self.partitions)]


def partition_count(accepted: Iterable[Accepted]) -> int:
    """How many partitions the topic had, as the notary's seals say (the most any of them names)."""
    return max((len(c.topic_offsets) for c, _ in accepted), default=0)


def complete_as_of(reports: Sequence[PartitionReport], accepted: Sequence[Accepted]) -> Head | None:
    """The latest good checkpoint whose snapshot of every partition the reports prove, or None.

    A partition without a report proves nothing after genesis (-1): enough for one
    that was empty at the seal, not for one that held records.
    """
    return best_head({r.partition: -1 if r.proven_through is None else r.proven_through for r in reports}, accepted)


def best_head(proven: dict[int, int], accepted: Sequence[Accepted]) -> Head | None:
    """Among good checkpoints within ``proven`` (partition -> last proven offset), the latest whose snapshot it covers."""
    partitions = partition_count(accepted)
    best: Head | None = None
    for checkpoint, standing in accepted:
        if standing is not Standing.GOOD or checkpoint.last_offset > proven.get(checkpoint.partition, -1):
            continue
        if all(proven.get(p, -1) >= checkpoint.snapshot(p) for p in range(partitions)):
            if best is None or (checkpoint.last_timestamp_ms, checkpoint.sequence) > (best.through_ms, best.checkpoint.sequence):
                best = Head(checkpoint, partitions)
    return best


# --- what the auditor demands ------------------------------------------------------------

_OFFSET = re.compile(r"^(\d+):(\d+)$")


@dataclass(frozen=True)
class Expectation:
    """``--expect-through``: partition P proven through an offset, or the whole topic complete through a time."""

    partition: int | None = None
    offset: int | None = None
    time_ms: int | None = None
    text: str = ""

    @classmethod
    def parse_offset(cls, text: str) -> Expectation | None:
        """``P:OFFSET`` (None for anything else, which the caller reads as a time)."""
        found = _OFFSET.match(text.strip())
        return cls(int(found[1]), int(found[2]), None, text) if found else None

    def unmet(self, reports: Sequence[PartitionReport], head: Head | None) -> str | None:
        """Why the reports and head fall short of this demand, or None."""
        if self.time_ms is not None:
            if head is None:
                return f"expected the topic complete through {self.text}: no signed point is covered"
            if head.through_ms < self.time_ms:
                return (f"expected the topic complete through {self.text}: the bundle is complete only as of its "
                        f"head, sequence {head.checkpoint.sequence}, an earlier time")
            return None
        report = next((r for r in reports if r.partition == self.partition), None)
        proven = None if report is None else report.proven_through
        if proven is None or self.offset is None or proven < self.offset:
            shown = "nothing" if proven is None else f"offset {proven}"
            return f"expected partition {self.partition} proven through offset {self.offset}: proven through {shown}"
        return None
