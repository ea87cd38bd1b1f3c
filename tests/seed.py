"""Puts a realistic log in a namespace: sample ticks, then what the kernel derives from them.

For the projection tests and benchmarks: the ticks go onto the input topic,
are read back with their real partitions and offsets, and run through the
pure kernel (``kernel.runner.KernelRunner``) in-process; its signals,
intents, orders, fills and snapshots are produced to their topics exactly as
the live kernel would route them.
"""

from __future__ import annotations

import gzip
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from contract.events import Event, Tick
from contract.partitioner import partition_for
from contract.topics import INPUTS, Namespace
from eventlog.consumer import LogReader
from eventlog.ingest import SAMPLE_DAY, read_ticks
from eventlog.producer import EventProducer
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.runner import KernelRunner
from kernel.settings import KernelSettings
from marketdata.calendar import VenueCalendars


@dataclass
class SeedReport:
    ticks: int = 0
    derived: Counter[str] = field(default_factory=Counter)
    kernels: dict[int, TradingKernel] = field(default_factory=dict)  # each partition's, after its last input


def sample_ticks(
    limit: int | None = None, step: int = 1, path: Path = SAMPLE_DAY, symbol: str = "ES", venue: str = "CME"
) -> Iterator[Tick]:
    """Every ``step``-th tick of the sample days, at most ``limit`` of them (all when None).

    A step thins the whole file evenly, so a small slice still spans both trading days.
    """
    yield from itertools.islice(read_ticks(path, symbol, venue), 0, None if limit is None else limit * step, step)


def sample_slice(directory: Path, name: str, start: int, stop: int) -> Path:
    """Data rows [start, stop) of the sample day, under the sample's header, as a plain CSV (for ``aitrader ingest``)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    with gzip.open(SAMPLE_DAY, "rt", newline="") as lines, path.open("w", newline="") as out:
        out.write(next(lines))
        out.writelines(itertools.islice(lines, start, stop))
    return path


def seed(bootstrap: str, namespace: Namespace, ticks: Iterable[Tick], settings: dict[str, str] | None = None) -> SeedReport:
    """Ticks onto ``inputs`` (each on its symbol's partition), then the kernel's outputs onto the derived topics."""
    by_partition: dict[int, list[Event]] = defaultdict(list)
    for tick in ticks:
        by_partition[partition_for(tick.symbol, INPUTS.partitions)].append(tick)
    return seed_partitions(bootstrap, namespace, by_partition, settings)


def put_inputs(producer: EventProducer, inputs: Mapping[int, Sequence[Event]]) -> int:
    """Each partition's inputs onto ``inputs``, in the order given, keyed as ingest and control key them; the ticks put."""
    for partition, events in sorted(inputs.items()):
        for event in events:
            producer.send(INPUTS, getattr(event, "symbol", None) or "*", event, partition=partition)
    producer.flush()
    return sum(isinstance(e, Tick) for events in inputs.values() for e in events)


def seed_partitions(
    bootstrap: str, namespace: Namespace, inputs: Mapping[int, Sequence[Event]], settings: dict[str, str] | None = None
) -> SeedReport:
    """Each partition's inputs in the order given, then what a kernel per partition derives, routed as live routes it."""
    report = SeedReport()
    producer = EventProducer(bootstrap, namespace)
    report.ticks = put_inputs(producer, inputs)
    calendars = VenueCalendars()
    parsed = KernelSettings.parse(settings)
    topic = namespace.topic(INPUTS)
    with LogReader(bootstrap) as reader:
        marks = reader.watermarks(topic)
        for partition, (low, high) in sorted(marks.items()):
            runner = KernelRunner(TradingKernel(partition, parsed, BaselineScorer(), calendars))
            for batch in reader.read(topic, {partition: (low, high)}):
                for record in batch:
                    for routed in runner.apply(record):
                        producer.send(routed.spec, routed.key, routed.event, partition=routed.partition)
                        report.derived[type(routed.event).__name__] += 1
            report.kernels[partition] = runner.kernel
    producer.flush()
    return report
