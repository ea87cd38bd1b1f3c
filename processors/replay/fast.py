"""Fast replay: the kernel over a range of the input topic, in one process.

The same ``KernelRunner`` as live (decode at the edge, apply, route), driven by
batched reads; each derived event is encoded once and produced asynchronously
into the replay namespace, with one flush (and its acknowledgements) at the
end. Partitions are independent kernels and run one after the other, each
from its start state (``start.py``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from kernel.consumer import LogReader
from kernel.producer import EventProducer
from kernel.records import RawRecord
from kernel.topics import INPUTS, Namespace
from processors.engine import TradingKernel
from processors.replay.report import RunObserver
from processors.replay.window import ReplayPlan
from processors.runner import KernelRunner, Routed

READ_BATCH = 10_000


@dataclass
class InputSpan:
    """The inputs a partition's replay applied, with the offsets that share its first and last timestamps.

    Derived events carry their input's time, so the live events derived from these
    inputs are the live records stamped in [first_ms, last_ms]; at those two
    instants other inputs may share the millisecond, and ``head``/``tail`` let
    the comparison tell them apart by event id.
    """

    partition: int
    inputs: int = 0
    first_offset: int = -1
    last_offset: int = -1
    first_ms: int = 0
    last_ms: int = 0
    head: list[int] = field(default_factory=list)
    tail: list[int] = field(default_factory=list)

    def observe(self, offset: int, time_ms: int) -> None:
        if self.inputs == 0:
            self.first_offset, self.first_ms = offset, time_ms
        if time_ms == self.first_ms and len(self.head) == self.inputs:  # still in the first millisecond
            self.head.append(offset)
        if self.inputs == 0 or time_ms != self.last_ms:
            self.tail = []
        self.tail.append(offset)
        self.last_offset, self.last_ms = offset, time_ms
        self.inputs += 1


@dataclass
class FastRun:
    spans: dict[int, InputSpan]
    kernels: dict[int, TradingKernel]
    by_type: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)
    outputs: int = 0
    seconds: float = 0.0

    @property
    def inputs(self) -> int:
        return sum(s.inputs for s in self.spans.values())

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0

    def take(self, record: RawRecord, routed: list[Routed], kernel: TradingKernel, observer: RunObserver | None) -> None:
        """Accounts one applied input and what it derived (both replay modes)."""
        span = self.spans.get(record.partition)
        if span is None:
            span = self.spans[record.partition] = InputSpan(record.partition)
        span.observe(record.offset, record.timestamp_ms)
        for item in routed:
            self.by_type[type(item.event).__name__] += 1
            self.by_topic[item.spec.name] += 1
        self.outputs += len(routed)
        if observer is not None:
            observer.after(record.partition, record.timestamp_ms, routed, kernel)


def run_fast(
    reader: LogReader,
    producer: EventProducer,
    inputs: Namespace,
    plan: ReplayPlan,
    kernels: Mapping[int, TradingKernel],
    observer: RunObserver | None = None,
    batch_size: int = READ_BATCH,
) -> FastRun:
    """Applies each partition's inputs [start, end) to its kernel; derived events go to ``producer``'s namespace."""
    topic = inputs.topic(INPUTS)
    run = FastRun({}, dict(kernels))
    started = time.perf_counter()
    for part in plan.partitions:
        if part.inputs == 0:
            continue
        kernel = kernels[part.partition]
        runner = KernelRunner(kernel, producer.codec)
        for batch in reader.read(topic, {part.partition: (part.start, part.end)}, batch_size):
            for record in batch:
                routed = runner.apply(record)
                for item in routed:
                    producer.send(item.spec, item.key, item.event, partition=item.partition)
                run.take(record, routed, kernel, observer)
    producer.flush()
    run.seconds = time.perf_counter() - started
    return run
