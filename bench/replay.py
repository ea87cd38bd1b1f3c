"""Replay throughput on the sample day in both modes, and where the time goes.

    python -m bench.replay

Puts the sample file on the log in a scratch namespace, derives "live" events
from it in-process (the kernel from an empty state over every input), then
replays trading day 2013-09-03 from its session-start snapshot in fast mode and
in pipeline mode (the live worker) and checks the determinism digests of
both. Prints inputs/s of each replay and, to attribute the fast one, of
decoding alone and of the kernel alone on pre-decoded inputs.

Needs a broker (``aitrader stack up`` or KAFKA_BOOTSTRAP_SERVERS).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from aitrader.stack.endpoints import endpoints
from bench.common import figure, rate, sample_ticks, scratch_namespace
from contract.events import Event, Tick
from contract.records import RawRecord, decode
from contract.serde import EventCodec
from contract.topics import INPUTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader, OffsetRanges
from eventlog.producer import EventProducer
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings
from processors.replay.compare import Comparison, compare_topics
from processors.replay.fast import run_fast
from processors.replay.names import REPLAY_TOPICS
from processors.replay.pipeline import run_pipeline
from processors.replay.start import start_kernel
from processors.replay.tally import ReplayRun
from processors.replay.window import PartitionPlan, ReplayPlan, plan_day

DAY = date(2013, 9, 3)
T = TypeVar("T")


def _records(reader: LogReader, topic: str, part: PartitionPlan) -> list[RawRecord]:
    return [r for batch in reader.read(topic, {part.partition: (part.start, part.end)}) for r in batch]


@dataclass(frozen=True)
class LiveDay:
    """The sample file on the log in a scratch namespace, with live's derived events and the day's replay plan."""

    live: Namespace
    ticks: int
    lived: ReplayRun
    plan: ReplayPlan
    planned_s: float

    def records(self, reader: LogReader, every_partition: bool = False) -> list[RawRecord]:
        """The raw input records of the day's first partition (or of each, one after the other), as a replay reads them."""
        parts = [p for p in self.plan.partitions if p.inputs]
        return [r for part in (parts if every_partition else parts[:1]) for r in _records(reader, self.live.topic(INPUTS), part)]


@contextmanager
def live_day(
    bootstrap: str,
    reader: LogReader,
    codec: EventCodec,
    step: int = 1,
    ticks: Sequence[Tick] | None = None,
    settings: Mapping[str, str] | None = None,
) -> Iterator[LiveDay]:
    """Puts the sample file (every ``step``-th tick), or ``ticks``, on the log and derives "live" events from it
    in-process (the kernel from an empty state on ``settings`` over every input), then plans trading day ``DAY``;
    deletes the namespace afterwards."""
    ticks = sample_ticks(step=step) if ticks is None else ticks
    with scratch_namespace(bootstrap) as live:
        producer = EventProducer(bootstrap, live, codec)
        for tick in ticks:
            producer.send(INPUTS, tick.symbol, tick)
        producer.flush()
        marks = reader.watermarks(live.topic(INPUTS))
        everything = ReplayPlan("all", tuple(PartitionPlan(p, low, high, None) for p, (low, high) in marks.items()))
        kernels = {p: TradingKernel(p, KernelSettings.parse(settings), BaselineScorer()) for p in marks}
        lived = run_fast(reader, producer, live, everything, kernels)
        planned_s, plan = _timed(lambda: plan_day(reader, live, DAY, None, codec))
        yield LiveDay(live, len(ticks), lived, plan, planned_s)


@contextmanager
def replay_namespace(bootstrap: str, day: LiveDay, name: str) -> Iterator[Namespace]:
    """Fresh replay topics beside the live ones, deleted afterwards."""
    target = Namespace(f"{day.live.prefix}replay.{name}.")
    admin = TopicAdmin(bootstrap, target)
    admin.create(REPLAY_TOPICS)
    try:
        yield target
    finally:
        admin.delete(REPLAY_TOPICS)


def replay_fast(bootstrap: str, reader: LogReader, codec: EventCodec, day: LiveDay, target: Namespace) -> ReplayRun:
    """The day in fast mode from its session-start snapshot, into ``target``."""
    starts = {p.partition: start_kernel(p, {}) for p in day.plan.partitions if p.inputs}
    return run_fast(reader, EventProducer(bootstrap, target, codec), day.live, day.plan, {p: s.kernel for p, s in starts.items()})


def measure(step: int = 1) -> dict:
    """Prints the figures (every ``step``-th tick of the sample, all by default) and returns them."""
    bootstrap = endpoints()[0]
    codec = EventCodec()
    with (
        LogReader(bootstrap) as reader,
        live_day(bootstrap, reader, codec, step) as day,
        replay_namespace(bootstrap, day, "bench") as target,
        replay_namespace(bootstrap, day, "benchpipe") as piped_target,
    ):
        live, plan, lived, planned_s = day.live, day.plan, day.lived, day.planned_s
        replayed = replay_fast(bootstrap, reader, codec, day, target)
        compared_s, comparison = _timed(lambda: _compared(reader, codec, live, target, replayed))

        # The same day through the live worker, into its own replay namespace.
        starts = {p.partition: start_kernel(p, {}) for p in plan.partitions if p.inputs}
        piped = run_pipeline(bootstrap, live, piped_target, plan, reader.watermarks(live.topic(INPUTS)), starts, {})
        piped_comparison = _compared(reader, codec, live, piped_target, piped.run)

        # Attribution on the same inputs: decoding alone, then the kernel alone on decoded events.
        first = next(p for p in plan.partitions if p.inputs)
        raw = day.records(reader)
        decoded: list[Event] = []
        decode_s, decode_rate = rate(len(raw), lambda: decoded.extend(decode(codec, r) for r in raw))
        kernel = start_kernel(first, {}).kernel
        kernel_s, kernel_rate = rate(len(decoded), lambda: [kernel.apply(e, r.offset) for e, r in zip(decoded, raw)])

    print(f"sample inputs                {day.ticks:>12,}")
    print(f"live (in-process, all)       {lived.rate:>12,.0f} inputs/s  ({lived.seconds:.1f} s, {lived.outputs:,} outputs)")
    print(f"day {DAY} inputs        {replayed.inputs:>12,}")
    print(f"plan (offsets by time, snapshot) {planned_s:>8.2f} s")
    print(f"replay, fast mode            {replayed.rate:>12,.0f} inputs/s  ({replayed.seconds:.1f} s: read+decode+kernel+produce+acks)")
    print(f"  decode only                {decode_rate:>12,.0f} inputs/s  ({decode_s:.1f} s)")
    print(f"  kernel only (decoded)      {kernel_rate:>12,.0f} inputs/s  ({kernel_s:.1f} s)")
    print(f"compare (digests, 4 topics)  {compared_s:>12.2f} s")
    print(f"identical to live            {comparison.identical!s:>12}  ({sum(t.replay.events for t in comparison.topics):,} derived events)")
    print(
        f"replay, pipeline mode        {piped.run.rate:>12,.0f} inputs/s  ({piped.run.seconds:.1f} s first input to last flush: "
        f"recovery+fetch+kernel+produce+acks+commits)"
    )
    piped_wall = piped.run.inputs / piped.wall_seconds
    print(f"  wall, worker start to stop {piped_wall:>12,.0f} inputs/s  ({piped.wall_seconds:.1f} s)")
    print(f"  identical to live          {piped_comparison.identical!s:>12}")
    same = [t.replay.sha256 for t in piped_comparison.topics] == [t.replay.sha256 for t in comparison.topics]
    print(f"  identical to fast mode     {same!s:>12}")
    return {
        "bench": "replay",
        "ticks": day.ticks,
        "day": DAY.isoformat(),
        "day_inputs": replayed.inputs,
        "identical": {"fast": comparison.identical, "pipeline": piped_comparison.identical, "pipeline_as_fast": same},
        "figures": [
            figure("live (in-process, all)", lived.rate, "inputs/s"),
            figure("replay, fast mode (read+decode+kernel+produce+acks)", replayed.rate, "inputs/s"),
            figure("decode only", decode_rate, "inputs/s"),
            figure("kernel only (decoded)", kernel_rate, "inputs/s"),
            figure("replay, pipeline mode (first input to last flush)", piped.run.rate, "inputs/s"),
            figure("replay, pipeline mode, wall (worker start to stop)", piped_wall, "inputs/s"),
        ],
    }


def main() -> None:
    measure()


def _compared(reader: LogReader, codec: EventCodec, live: Namespace, target: Namespace, run: ReplayRun) -> Comparison:
    """Digests of a replay written to fresh topics, against live."""
    written: dict[str, OffsetRanges] = {
        name: {p: (0, high) for p, (_, high) in reader.watermarks(target.topic(name)).items() if high} for name in run.by_topic
    }
    return compare_topics(reader, codec, live, target, run.spans, written, True)


def _timed(call: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


if __name__ == "__main__":
    main()
