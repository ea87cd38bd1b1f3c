"""Loads trade files onto the kernel's input topic: checked whole, merged in time, each trade once, never late.

Every file is checked whole before anything is written, so a bad row stops the
load with its line number and leaves the log untouched; ``skip_bad`` instead
counts bad rows and reports them. The ticks of all files then go in merged by
event time (``contract.sequencing.merge_in_time``), so a partition's timestamps
never go down while one load writes it.

A load writes only the ticks after the last one of their (venue, symbol)
already on the log (``eventlog.logtail``): the same file loaded again writes
nothing, a longer one resumes where the log ends. It refuses, before writing
anything, ticks the kernel would refuse as late: older than their partition's
latest record by more than the tolerance. That happens when symbols sharing a
partition are loaded one after another instead of together.

Pacing (``speed``) replays the merged stream in event time, e.g. ``speed=10``
sends an hour of trading in six minutes. Every record carries the wall clock of
its sending in the header ``aitrader-ingest-wall-ms`` (never in its bytes): in
paced mode the kernel's tick -> fill wall-time latency is then a live figure.
"""

from __future__ import annotations

import bisect
import gzip
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from contract.events import NewsScored, Tick
from contract.partitioner import partition_for
from contract.sequencing import (
    DEFAULT_LATE_TOLERANCE_MS,
    SequenceGate,
    TickKey,
    merge_in_time,
    sequence_time_ms,
)
from contract.topics import INPUTS
from eventlog.logtail import PartitionTail
from eventlog.metrics import ingest_wall_header
from eventlog.producer import EventProducer
from marketdata.tickfile import BadRow, TickParser, check_lines, parse_lines

MAX_REPORTED_BAD_ROWS = 20
# The bundled sample day (data/README.md): real ES trades in CME local time.
SAMPLE_DAY = Path(__file__).resolve().parent.parent / "data" / "es_2013-09-01_03_ticks.csv.gz"
CHICAGO = ZoneInfo("America/Chicago")


class BadInputError(ValueError):
    def __init__(self, bad: BadRow) -> None:
        super().__init__(str(bad))
        self.bad = bad


class IngestRefused(ValueError):
    """The load as a whole would put ticks on the log that the kernel cannot use; nothing was written."""


@contextmanager
def open_text(path: Path) -> Iterator[TextIO]:
    """Plain or gzip-compressed text, by the file's magic bytes."""
    with path.open("rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"
    handle = gzip.open(path, "rt", newline="") if compressed else path.open("r", newline="")
    with handle as text:
        yield text  # type: ignore[misc]


@dataclass(frozen=True)
class TickFile:
    """A trade file and whose trades it holds: ``symbol`` on ``venue``, local times in ``zone``."""

    path: Path
    symbol: str
    venue: str
    zone: ZoneInfo

    @property
    def key(self) -> TickKey:
        return (self.venue, self.symbol)

    def items(self) -> Iterator[Tick | BadRow]:
        """Every data row as a tick or a bad row, in file order (a fresh parse each call)."""
        with open_text(self.path) as lines:
            yield from parse_lines(lines, self._parser())

    def sequences(self) -> Iterator[int | BadRow]:
        """Every data row's tick sequence or bad row, in file order: ``items`` without building the ticks."""
        with open_text(self.path) as lines:
            yield from check_lines(lines, self._parser())

    def ticks(self) -> Iterator[Tick]:
        """The good rows' ticks; whether bad rows may be skipped was the check pass's decision."""
        return (item for item in self.items() if isinstance(item, Tick))

    def _parser(self) -> TickParser:
        return TickParser(source=self.path.name, symbol=self.symbol, venue=self.venue, zone=self.zone)


def read_ticks(path: Path = SAMPLE_DAY, symbol: str = "ES", venue: str = "CME", zone: ZoneInfo = CHICAGO) -> Iterator[Tick]:
    """Every tick of a file known to be good (the sample day, for benchmarks and tests), in file order.

    Raises ``BadInputError`` at the first bad row rather than skipping it.
    """
    for item in TickFile(path, symbol, venue, zone).items():
        if isinstance(item, BadRow):
            raise BadInputError(item)
        yield item


@dataclass
class IngestReport:
    """One file: what the check pass found (rows, bad rows, its ticks' sequences) and what was published."""

    file: TickFile
    rows: int = 0
    bad_rows: int = 0
    first_bad: list[BadRow] = field(default_factory=list)
    sequences: array[int] = field(default_factory=lambda: array("q"))  # increasing: a file is in time order
    published: int = 0
    first_time_ms: int | None = None
    last_time_ms: int | None = None
    seconds: float = 0.0

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds else 0.0

    def first_after(self, sequence: int | None) -> int:
        """Index of this file's first tick after ``sequence`` (0 when None): the ticks from there on are new."""
        return 0 if sequence is None else bisect.bisect_right(self.sequences, sequence)


def check(file: TickFile, skip_bad: bool, progress: Callable[[int], None]) -> IngestReport:
    """First pass: counts rows and keeps the ticks' sequences; raises ``BadInputError`` on a bad row unless ``skip_bad``."""
    report = IngestReport(file)
    for item in file.sequences():
        report.rows += 1
        if isinstance(item, BadRow):
            if not skip_bad:
                raise BadInputError(item)
            report.bad_rows += 1
            if len(report.first_bad) < MAX_REPORTED_BAD_ROWS:
                report.first_bad.append(item)
        else:
            report.sequences.append(item)
        progress(1)
    return report


@dataclass
class SymbolPlan:
    """What one load will do for one (venue, symbol)."""

    key: TickKey
    partition: int
    on_log: Tick | None  # the last tick of this (venue, symbol) already on the log
    ticks: int = 0  # good ticks in its files
    to_write: int = 0  # those after ``on_log`` (at most: a trade given in two files is written once)
    first_to_write_ms: int | None = None

    @property
    def symbol(self) -> str:
        return self.key[1]


def plan(reports: Sequence[IngestReport], tails: Mapping[int, PartitionTail], partitions: int) -> dict[TickKey, SymbolPlan]:
    """Per (venue, symbol), in the order the files were given: the ticks after the last one on the log.

    Raises ``IngestRefused`` when that last tick's sequence is not derived from its
    event time (written before sequences were): it cannot tell what is new.
    """
    plans: dict[TickKey, SymbolPlan] = {}
    for report in reports:
        key = report.file.key
        if key not in plans:
            partition = partition_for(report.file.symbol, partitions)
            plans[key] = SymbolPlan(key, partition, _checked_last(tails[partition].last.get(key), partition))
        symbol = plans[key]
        index = report.first_after(symbol.on_log.sequence if symbol.on_log else None)
        symbol.ticks += len(report.sequences)
        symbol.to_write += len(report.sequences) - index
        if index < len(report.sequences):
            first_ms = sequence_time_ms(report.sequences[index])
            if symbol.first_to_write_ms is None or first_ms < symbol.first_to_write_ms:
                symbol.first_to_write_ms = first_ms
    return plans


def _checked_last(tick: Tick | None, partition: int) -> Tick | None:
    if tick is not None and sequence_time_ms(tick.sequence) != tick.event_time_ms:
        raise IngestRefused(
            f"the last {tick.symbol} tick on {INPUTS.name}[{partition}] has sequence {tick.sequence}, a line number "
            "from before sequences were derived from event time, so what is already on the log cannot be told "
            "from what is new; load into a fresh namespace (or recreate the topics)"
        )
    return tick


@dataclass(frozen=True)
class LateStart:
    """A partition whose first tick to write is older than the partition's latest record by more than the tolerance."""

    partition: int
    first: SymbolPlan  # the symbol whose tick would go first
    latest_ms: int
    symbols: tuple[str, ...]  # this load's symbols on the partition


def late_starts(plans: Mapping[TickKey, SymbolPlan], tails: Mapping[int, PartitionTail], tolerance_ms: int = DEFAULT_LATE_TOLERANCE_MS) -> list[LateStart]:
    """The partitions this load would write ticks to that the kernel refuses as late; none means go."""
    late = []
    for partition, tail in sorted(tails.items()):
        on_partition = [p for p in plans.values() if p.partition == partition]
        starts = [(p.first_to_write_ms, p) for p in on_partition if p.first_to_write_ms is not None]
        if tail.latest_ms is None or not starts:
            continue
        first_ms, first = min(starts, key=lambda start: start[0])
        if first_ms < tail.latest_ms - tolerance_ms:
            late.append(LateStart(partition, first, tail.latest_ms, tuple(p.symbol for p in on_partition)))
    return late


@dataclass
class Published:
    """What the publish pass sent, per (venue, symbol)."""

    counts: Counter[TickKey] = field(default_factory=Counter)
    news: int = 0  # NewsScored events sent among the ticks
    first_time_ms: int | None = None
    last_time_ms: int | None = None
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


def publish_merged(
    files: Sequence[TickFile],
    producer: EventProducer,
    gate: SequenceGate,
    speed: float | None,
    progress: Callable[[int], None],
    news: Sequence[NewsScored] = (),
) -> Published:
    """Second pass: the good rows of every file, merged by event time, each sent when ``gate`` admits it.

    ``news`` (already scored and past its own gate, ``eventlog.news``) goes in
    among the ticks by event time, after the ticks of its millisecond.
    ``speed`` None is as fast as the broker takes them; pacing is presentation
    only: the wall clock decides when, never what, is sent.
    """
    sent = Published()
    started = time.monotonic()
    for event in merge_in_time([*(f.ticks() for f in files), news]):
        if isinstance(event, Tick) and not gate.admits(event):
            continue
        sent.first_time_ms = event.event_time_ms if sent.first_time_ms is None else sent.first_time_ms
        if speed is not None:
            delay = started + (event.event_time_ms - sent.first_time_ms) / 1000 / speed - time.monotonic()
            if delay > 0:
                producer.flush()
                time.sleep(delay)
        # The wall clock rides in a header, never in the event: the tick -> fill wall-time metric reads it.
        producer.send(INPUTS, event.symbol, event, headers=ingest_wall_header())
        if isinstance(event, Tick):
            sent.counts[(event.venue, event.symbol)] += 1
        else:
            sent.news += 1
        sent.last_time_ms = event.event_time_ms
        progress(1)
    producer.flush()
    sent.seconds = time.monotonic() - started
    return sent


def validate(path: Path, symbol: str, venue: str, zone: ZoneInfo, skip_bad: bool, progress: Callable[[int], None]) -> IngestReport:
    """``check`` of one file (benchmarks and tests)."""
    return check(TickFile(path, symbol, venue, zone), skip_bad, progress)


def publish(
    path: Path,
    producer: EventProducer,
    symbol: str,
    venue: str,
    zone: ZoneInfo,
    report: IngestReport,
    speed: float | None,
    progress: Callable[[int], None],
) -> IngestReport:
    """Every good row of one file, without asking the log what is there (``aitrader ingest`` does; benchmarks and tests)."""
    sent = publish_merged([TickFile(path, symbol, venue, zone)], producer, SequenceGate(), speed, progress)
    report.published, report.seconds = sent.total, sent.seconds
    report.first_time_ms, report.last_time_ms = sent.first_time_ms, sent.last_time_ms
    return report
