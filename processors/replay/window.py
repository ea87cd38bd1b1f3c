"""Which inputs a replay re-runs, and the kernel state it starts from.

A trading day's inputs are found by time: per partition, the records of the
input topic from the previous session's close to the day's close (ticks in the
break before the open already belong to the day, as the kernel's calendar
says). The starting state is the ``session-start DAY`` snapshot of that
partition, which the live kernel took just before the day's first input; its
``input_offset`` must be the offset just before the day's first input, or the
log contradicts itself and the replay refuses.

Explicit ranges (``--from-offsets``) start from the snapshot taken right after
input ``start - 1`` (any reason), so a replay can begin at any snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from kernel.calendar import Session, TradingCalendar
from kernel.consumer import LogReader
from kernel.events import KernelSnapshotTaken
from kernel.records import decode
from kernel.serde import EventCodec
from kernel.topics import INPUTS, SNAPSHOTS, Namespace

# How far back to look for the previous trading day (long holiday weekends included).
PREVIOUS_SESSION_SEARCH_DAYS = 14


class ReplayPlanError(ValueError):
    """The log does not allow the replay asked for; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class FoundSnapshot:
    """A kernel snapshot and where it sits on the snapshots topic."""

    offset: int
    event: KernelSnapshotTaken


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    """Inputs [start, end) of one partition, and the snapshot taken right before ``start`` (if any)."""

    partition: int
    start: int
    end: int
    snapshot: FoundSnapshot | None

    @property
    def inputs(self) -> int:
        return max(0, self.end - self.start)


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    label: str  # "day 2013-09-03" or "offsets"
    partitions: tuple[PartitionPlan, ...]
    session: Session | None = None

    @property
    def inputs(self) -> int:
        return sum(p.inputs for p in self.partitions)


def parse_offsets(text: str) -> dict[int, int]:
    """``"0:42158,1:0"`` -> {0: 42158, 1: 0}; ValueError with the bad part."""
    result: dict[int, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        partition, sep, offset = part.partition(":")
        if not sep or not partition.isdigit() or not offset.isdigit():
            raise ValueError(f"expected PARTITION:OFFSET, got {part!r}")
        if int(partition) in result:
            raise ValueError(f"partition {partition} given twice")
        result[int(partition)] = int(offset)
    if not result:
        raise ValueError("no PARTITION:OFFSET pairs given")
    return result


def previous_close(calendar: TradingCalendar, session: Session) -> int:
    day = date.fromisoformat(session.day)
    for back in range(1, PREVIOUS_SESSION_SEARCH_DAYS + 1):
        try:
            return calendar.session(day - timedelta(days=back)).close_ms
        except ValueError:
            continue
    raise ReplayPlanError(f"no trading day in the {PREVIOUS_SESSION_SEARCH_DAYS} days before {session.day}")


def find_snapshot(
    reader: LogReader,
    codec: EventCodec,
    namespace: Namespace,
    partition: int,
    from_ms: int,
    to_ms: int,
    wanted: Callable[[KernelSnapshotTaken], bool],
) -> FoundSnapshot | None:
    """The first snapshot of ``partition`` stamped in [from_ms, to_ms) that ``wanted`` accepts."""
    topic = namespace.topic(SNAPSHOTS)
    ranges = reader.window(topic, from_ms, to_ms)
    if partition not in ranges:
        return None
    for batch in reader.read(topic, {partition: ranges[partition]}):
        for record in batch:
            event = decode(codec, record)
            if isinstance(event, KernelSnapshotTaken) and event.partition == partition and wanted(event):
                return FoundSnapshot(record.offset, event)
    return None


def timestamp_at(reader: LogReader, topic: str, partition: int, offset: int) -> int:
    for batch in reader.read(topic, {partition: (offset, offset + 1)}):
        return batch[0].timestamp_ms
    raise ReplayPlanError(f"{topic}[{partition}] has no record at offset {offset}")


def plan_day(
    reader: LogReader,
    namespace: Namespace,
    calendar: TradingCalendar,
    day: date,
    partitions: set[int] | None,
    codec: EventCodec | None = None,
) -> ReplayPlan:
    """The day's inputs per partition (found by time) and each partition's ``session-start`` snapshot."""
    codec = codec or EventCodec()
    try:
        session = calendar.session(day)
    except ValueError as exc:
        raise ReplayPlanError(str(exc)) from None
    opened = previous_close(calendar, session)
    topic = namespace.topic(INPUTS)
    ranges = reader.window(topic, opened, session.close_ms)
    reason = f"session-start {session.day}"
    plans = []
    for partition, (start, end) in sorted(ranges.items()):
        if (partitions is not None and partition not in partitions) or end <= start:
            continue
        found = find_snapshot(reader, codec, namespace, partition, opened, session.close_ms, lambda s: s.reason == reason)
        if found is not None and found.event.input_offset + 1 != start:
            raise ReplayPlanError(
                f"partition {partition}: the {reason!r} snapshot follows input offset {found.event.input_offset}, "
                f"but the day's first input by time is at offset {start}; replay an explicit range instead "
                f"(--from-offsets {partition}:{found.event.input_offset + 1})"
            )
        plans.append(PartitionPlan(partition, start, end, found))
    return ReplayPlan(f"day {session.day}", tuple(plans), session)


def plan_offsets(
    reader: LogReader,
    namespace: Namespace,
    starts: dict[int, int],
    ends: dict[int, int] | None,
    codec: EventCodec | None = None,
) -> ReplayPlan:
    """Explicit ranges [start, end) (end: the log's end when not given) and the snapshot after ``start - 1``."""
    codec = codec or EventCodec()
    topic = namespace.topic(INPUTS)
    marks = reader.watermarks(topic)
    ends = ends if ends is not None else {p: marks[p][1] for p in starts if p in marks}
    if set(ends) != set(starts):
        raise ReplayPlanError(f"--from-offsets names partitions {sorted(starts)}, --to-offsets {sorted(ends)}")
    plans = []
    for partition, start in sorted(starts.items()):
        if partition not in marks:
            raise ReplayPlanError(f"{topic} has no partition {partition} (it has {len(marks)})")
        low, high = marks[partition]
        end = ends[partition]
        if not low <= start <= end <= high:
            raise ReplayPlanError(f"partition {partition}: range [{start}, {end}) is not within the log's [{low}, {high})")
        found = None
        if start > 0 and end > start:
            # The snapshot after input start-1 is stamped with that input's time (interval) or the next one's (session start).
            before, at = timestamp_at(reader, topic, partition, start - 1), timestamp_at(reader, topic, partition, start)
            found = find_snapshot(reader, codec, namespace, partition, before, at + 1, lambda s: s.input_offset == start - 1)
        plans.append(PartitionPlan(partition, start, end, found))
    return ReplayPlan("offsets", tuple(plans))
