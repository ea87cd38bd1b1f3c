"""Loads a trade file onto the kernel's input topic.

The file is checked whole before anything is written, so a bad row stops the
load with its line number and leaves the log untouched; ``skip_bad`` instead
counts bad rows and reports them. Pacing (``speed``) replays the file in event
time, e.g. ``speed=10`` sends an hour of trading in six minutes.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from kernel.events import Tick
from kernel.producer import EventProducer
from kernel.tickfile import BadRow, TickParser, parse_lines
from kernel.topics import INPUTS

MAX_REPORTED_BAD_ROWS = 20
# The bundled sample day (data/README.md): real ES trades in CME local time.
SAMPLE_DAY = Path(__file__).resolve().parent.parent / "data" / "es_2013-09-01_03_ticks.csv.gz"
CHICAGO = ZoneInfo("America/Chicago")


class BadInputError(ValueError):
    def __init__(self, bad: BadRow) -> None:
        super().__init__(str(bad))
        self.bad = bad


@dataclass
class IngestReport:
    path: Path
    rows: int = 0
    published: int = 0
    bad_rows: int = 0
    first_bad: list[BadRow] = field(default_factory=list)
    first_time_ms: int | None = None
    last_time_ms: int | None = None
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds else 0.0


@contextmanager
def open_text(path: Path) -> Iterator[TextIO]:
    """Plain or gzip-compressed text, by the file's magic bytes."""
    with path.open("rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"
    handle = gzip.open(path, "rt", newline="") if compressed else path.open("r", newline="")
    with handle as text:
        yield text  # type: ignore[misc]


def _ticks(path: Path, parser: TickParser) -> Iterator[Tick | BadRow]:
    with open_text(path) as lines:
        yield from parse_lines(lines, parser)


def _parser(path: Path, symbol: str, venue: str, zone: ZoneInfo) -> TickParser:
    return TickParser(source=path.name, symbol=symbol, venue=venue, zone=zone)


def read_ticks(path: Path = SAMPLE_DAY, symbol: str = "ES", venue: str = "CME", zone: ZoneInfo = CHICAGO) -> Iterator[Tick]:
    """Every tick of a file known to be good (the sample day, for benchmarks and tests), in file order.

    Raises ``BadInputError`` at the first bad row rather than skipping it.
    """
    for item in _ticks(path, _parser(path, symbol, venue, zone)):
        if isinstance(item, BadRow):
            raise BadInputError(item)
        yield item


def validate(path: Path, symbol: str, venue: str, zone: ZoneInfo, skip_bad: bool, progress: Callable[[int], None]) -> IngestReport:
    """First pass: counts rows; raises ``BadInputError`` on the first bad row unless ``skip_bad``."""
    report = IngestReport(path)
    for item in _ticks(path, _parser(path, symbol, venue, zone)):
        report.rows += 1
        if isinstance(item, BadRow):
            if not skip_bad:
                raise BadInputError(item)
            report.bad_rows += 1
            if len(report.first_bad) < MAX_REPORTED_BAD_ROWS:
                report.first_bad.append(item)
        progress(1)
    return report


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
    """Second pass: sends every good row; ``speed`` None is as fast as the broker takes them."""
    started = time.monotonic()
    first_event_ms: int | None = None
    for item in _ticks(path, _parser(path, symbol, venue, zone)):
        if isinstance(item, BadRow):
            continue
        if speed is not None:
            first_event_ms = item.event_time_ms if first_event_ms is None else first_event_ms
            # Pacing is presentation only: the wall clock decides when, never what, is sent.
            due = started + (item.event_time_ms - first_event_ms) / 1000 / speed
            delay = due - time.monotonic()
            if delay > 0:
                producer.flush()
                time.sleep(delay)
        producer.send(INPUTS, item.symbol, item)
        report.published += 1
        report.first_time_ms = report.first_time_ms or item.event_time_ms
        report.last_time_ms = item.event_time_ms
        progress(1)
    producer.flush()
    report.seconds = time.monotonic() - started
    return report
