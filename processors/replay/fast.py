"""Fast replay: the kernel over a range of the input topic, in one process.

The same ``KernelRunner`` as live (decode at the edge, apply, route), driven by
batched reads; each derived event is encoded once and produced asynchronously
into the replay namespace, with one flush (and its acknowledgements) at the
end. Partitions are independent kernels and run one after the other, each
from its start state (``start.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from contract.topics import INPUTS, Namespace
from eventlog.consumer import LogReader
from eventlog.producer import EventProducer
from kernel.engine import TradingKernel
from kernel.runner import KernelRunner, Routed
from processors.heap import frozen_heap
from processors.replay.observe import RunObserver
from processors.replay.tally import ReplayRun
from processors.replay.window import PartitionPlan, ReplayPlan

READ_BATCH = 10_000


def run_fast(
    reader: LogReader,
    producer: EventProducer,
    inputs: Namespace,
    plan: ReplayPlan,
    kernels: Mapping[int, TradingKernel],
    observer: RunObserver | None = None,
    batch_size: int = READ_BATCH,
    progress: Callable[[int], None] | None = None,
) -> ReplayRun:
    """Applies each partition's inputs [start, end) to its kernel; derived events go to ``producer``'s namespace.

    ``progress`` hears the number of inputs applied so far, now and then (``ReplayRun``).
    """
    topic = inputs.topic(INPUTS)
    run = ReplayRun({}, dict(kernels), progress=progress)
    started = time.perf_counter()
    with frozen_heap():  # the kernels and every module stay out of the collections the records trigger
        for part in plan.partitions:
            if part.inputs:
                _replay_partition(reader, topic, part, kernels[part.partition], producer, observer, batch_size, run)
    producer.flush()
    run.seconds = time.perf_counter() - started
    return run


def _replay_partition(
    reader: LogReader,
    topic: str,
    part: PartitionPlan,
    kernel: TradingKernel,
    producer: EventProducer,
    observer: RunObserver | None,
    batch_size: int,
    run: ReplayRun,
) -> None:
    apply = KernelRunner(kernel, producer.codec).apply
    send = producer.send
    for batch in reader.read(topic, {part.partition: (part.start, part.end)}, batch_size):
        derived: list[Routed] = []
        for record in batch:
            routed = apply(record)
            if routed:  # most inputs derive nothing
                for item in routed:
                    send(item.spec, item.key, item.event, partition=item.partition)
                derived += routed
            if observer is not None:
                observer.after(record.partition, record.timestamp_ms, routed, kernel)
        run.take(batch, derived)
