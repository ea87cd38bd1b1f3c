"""Which inputs a replay re-runs, and the kernel state it starts from.

A trading day of a partition runs from its ``session-start DAY`` snapshot to
the next ``session-start`` snapshot (or, for a day not over yet, the log's
end). The kernel takes that snapshot at the first input of the day on its
partition (the partition's first ever included), where "the day" is the latest
session any of its symbols is in, each by its own venue's calendar: when
venues that open at different times share a partition, the day starts with
the first of them to open and lasts until the partition's next day begins.
The snapshot is the state live had right there, so a replay of the day starts
from it and re-runs exactly the inputs live applied in that day.

The snapshot is found by time: the kernel stamps it with the time of the tick
that began the day, which lies within a few days before the day's date (a
venue's session for day D may open the evening before, after a weekend or a
holiday) and the day itself.

Explicit ranges (``--from-offsets``) start from the snapshot taken right after
input ``start - 1`` (any reason), so a replay can begin at any snapshot.

``plan_window`` is the planner's one entry: a ``DayWindow`` or an
``OffsetWindow``, narrowed to the partitions holding some symbols.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone

from contract.events import KernelSnapshotTaken
from contract.partitioner import partition_for
from contract.records import decode
from contract.serde import EventCodec
from contract.topics import INPUTS, SNAPSHOTS, Namespace
from eventlog.consumer import LogReader
from processors.replay.errors import ReplayRefused

SESSION_START = "session-start "
# Where to look for a day's session-start snapshot, around the day's date (UTC midnight).
OPENS_UP_TO_DAYS_BEFORE = 4
# How far after the day to look for the next day's snapshot (long holiday weekends included).
NEXT_DAY_WITHIN_DAYS = 15


class ReplayPlanError(ReplayRefused):
    """The log does not allow the replay asked for; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class DayWindow:
    """A trading day: each partition's inputs from its ``session-start DAY`` snapshot to its next day's."""

    day: date


@dataclass(frozen=True, slots=True)
class OffsetWindow:
    """Explicit input offsets [start, end) per partition; no ``ends``: up to the log's end."""

    starts: Mapping[int, int]
    ends: Mapping[int, int] | None = None


Window = DayWindow | OffsetWindow


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
    day: str | None = None

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


def _midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def _session_day(snapshot: KernelSnapshotTaken) -> str | None:
    return snapshot.reason[len(SESSION_START) :] if snapshot.reason.startswith(SESSION_START) else None


def plan_day(
    reader: LogReader,
    namespace: Namespace,
    day: date,
    partitions: set[int] | None,
    codec: EventCodec | None = None,
) -> ReplayPlan:
    """Each partition's inputs of trading day ``day``, from its ``session-start`` snapshot to its next day's."""
    codec = codec or EventCodec()
    wanted_day = day.isoformat()
    around = _midnight_ms(day)
    marks = reader.watermarks(namespace.topic(INPUTS))
    plans = []
    traded = False
    for partition, (_, high) in sorted(marks.items()):
        found = find_snapshot(
            reader, codec, namespace, partition,
            around - OPENS_UP_TO_DAYS_BEFORE * 86_400_000, around + 86_400_000,
            lambda s: _session_day(s) == wanted_day,
        )
        if found is None:
            continue  # no symbol of this partition traded that day (or its kernel has not reached it)
        traded = True
        if partitions is not None and partition not in partitions:
            continue
        start = found.event.input_offset + 1
        following = find_snapshot(
            reader, codec, namespace, partition,
            found.event.event_time_ms, around + NEXT_DAY_WITHIN_DAYS * 86_400_000,
            lambda s: (_session_day(s) or "") > wanted_day,
        )
        end = high if following is None else following.event.input_offset + 1
        plans.append(PartitionPlan(partition, start, end, found))
    if not traded:
        raise ReplayPlanError(
            f"no partition has a 'session-start {wanted_day}' snapshot: no symbol traded that day, or the kernel has "
            "not processed it yet (aitrader log read --topic snapshots lists the days it has)"
        )
    return ReplayPlan(f"day {wanted_day}", tuple(plans), wanted_day)


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


def plan_window(
    reader: LogReader,
    namespace: Namespace,
    window: Window,
    symbols: tuple[str, ...] = (),
    codec: EventCodec | None = None,
) -> ReplayPlan:
    """The plan of ``window`` on the log under ``namespace``; with ``symbols``, only their partitions."""
    wanted = None
    if symbols:
        count = len(reader.partitions(namespace.topic(INPUTS)))
        wanted = {partition_for(symbol, count) for symbol in symbols}
    if isinstance(window, DayWindow):
        return plan_day(reader, namespace, window.day, wanted, codec)
    ends = dict(window.ends) if window.ends is not None else None
    plan = plan_offsets(reader, namespace, dict(window.starts), ends, codec)
    if wanted is None:
        return plan
    return ReplayPlan(plan.label, tuple(p for p in plan.partitions if p.partition in wanted), plan.day)
