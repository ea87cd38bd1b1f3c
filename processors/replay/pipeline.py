"""Pipeline replay: a range of the live input topic through the live kernel worker.

The code path is live's: the worker's input consumer, apply -> produce -> flush
-> commit per batch, and the recovery a restarted live worker does. Only the worker's
``PipelineConfig`` differs:

* input: the live input topic itself. Derived ids are UUIDv5 of the logical
  input topic, partition and offset, so the replay must read the very records
  live read; copying them elsewhere would renumber them;
* outputs: the replay namespace, and the consumer group of that namespace
  (``aitrader-kernel.replay.NAME``), so live's committed offsets are never touched;
* start: before the worker starts, the group's offsets are committed at the
  window's start offsets. The worker's recovery then finds, on the live
  snapshot topic, the snapshot taken right after input ``start - 1`` — the one
  fast mode starts from — and re-applies nothing;
* end: the worker applies nothing at or past each partition's end offset and
  stops once every partition's committed offset reached it. Partitions outside
  the window start and end at their current end offset, so they apply nothing.

What-if overrides (settings, ``--model``) are applied right after recovery
through ``apply_what_if`` and ``apply_model_what_if``, as in fast mode. The
recovered (and reconfigured) kernel is then checked
against the state fast mode starts from; any difference stops the replay
rather than producing a run that cannot be compared.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from contract.records import RawRecord
from contract.topics import INPUTS, Namespace
from eventlog.consumer import OffsetRanges
from eventlog.kafka_security import client_config
from inference.models import ScorerSpec
from kernel.engine import TradingKernel, canonical_json
from kernel.runner import KernelRunner, Routed
from kernel.settings import KernelSettings
from processors.live.app import (
    BATCH_MAX,
    LiveWorker,
    PipelineConfig,
    PipelineStats,
    group_id,
)
from processors.live.recovery import Recovery
from processors.replay.errors import ReplayRefused
from processors.replay.observe import RunObserver
from processors.replay.start import (
    StartState,
    apply_model_what_if,
    apply_what_if,
    starting_scorer,
)
from processors.replay.tally import ReplayRun
from processors.replay.window import PartitionPlan, ReplayPlan

# A crashed earlier run may still hold the group until its session times out; commits are refused until then.
COMMIT_RETRY_S = 45.0
COMMIT_RETRY_PAUSE_S = 1.0


class PipelineReplayError(ReplayRefused):
    """The pipeline replay could not run, or did not run as planned; the message says why."""


@dataclass(frozen=True, slots=True)
class PipelineRun:
    run: ReplayRun  # what was applied and derived, in the shape fast mode reports
    stats: PipelineStats
    group: str
    wall_seconds: float  # worker start to stop: Faust start-up, group join, processing, commit, shutdown


def bounds(plan: ReplayPlan, marks: OffsetRanges) -> tuple[dict[int, int], dict[int, int]]:
    """Start and end offsets for every partition of the input topic; unplanned ones at their end offset."""
    planned = {p.partition: p for p in plan.partitions}
    starts, ends = {}, {}
    for partition, (_, high) in sorted(marks.items()):
        part = planned.get(partition)
        starts[partition], ends[partition] = (part.start, part.end) if part is not None else (high, high)
    return starts, ends


def commit_offsets(bootstrap_servers: str, group: str, topic: str, offsets: Mapping[int, int]) -> None:
    """Commits ``offsets`` for ``group`` without joining it, so the group's next member starts there."""
    consumer = Consumer({**client_config(bootstrap_servers), "group.id": group, "enable.auto.commit": False})
    asked = [TopicPartition(topic, p, o) for p, o in sorted(offsets.items())]
    deadline = time.monotonic() + COMMIT_RETRY_S
    try:
        while True:
            try:
                done = consumer.commit(offsets=asked, asynchronous=False) or []
                failed = [tp for tp in done if tp.error is not None]
                if not failed:
                    return
                problem = f"{failed[0].topic}[{failed[0].partition}]: {failed[0].error}"
            except KafkaException as exc:
                problem = str(exc)
            if time.monotonic() > deadline:
                raise PipelineReplayError(f"cannot set the start offsets of group {group}: {problem}")
            time.sleep(COMMIT_RETRY_PAUSE_S)
    finally:
        consumer.close()


class _Replay:
    """The worker's hooks: each partition's start state on recovery, and the accounting of each applied input.

    Both run on the worker's single kernel thread.
    """

    def __init__(
        self,
        plan: ReplayPlan,
        starts: Mapping[int, StartState],
        overrides: Mapping[str, str],
        model: ScorerSpec | None,
        observer: RunObserver | None,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.parts: dict[int, PartitionPlan] = {p.partition: p for p in plan.partitions if p.inputs}
        self.starts = starts
        self.overrides = dict(overrides)
        self.model = model
        self.observer = observer
        self.run = ReplayRun({}, {}, progress=progress)
        self.failure: str | None = None

    def recovered(self, runner: KernelRunner, recovery: Recovery) -> None:
        try:
            self._start(runner.kernel, recovery)
        except Exception as exc:
            self.failure = str(exc)  # the worker logs and stops; the command reports this line
            raise

    def _start(self, kernel: TradingKernel, recovery: Recovery) -> None:
        part = self.parts.get(recovery.partition)
        if part is None or recovery.next_offset != part.start:
            raise PipelineReplayError(
                f"partition {recovery.partition}: the worker rebuilt its kernel at input {recovery.next_offset:,}, "
                "not at the window's start (a rebalance or a gap in the input topic)"
            )
        if self.model is not None and recovery.snapshot_offset is not None:
            apply_model_what_if(kernel, starting_scorer(self.model))  # an empty kernel already starts with it
        if self.overrides:
            found = part.snapshot
            apply_what_if(kernel, self.overrides, found.event.event_time_ms if found is not None else 0, part.start)
        expected = self.starts[part.partition]
        if canonical_json(kernel.to_state()) != canonical_json(expected.kernel.to_state()):
            raise PipelineReplayError(
                f"partition {part.partition}: the worker's recovery ({recovery.describe()}) did not rebuild the state "
                f"the replay plan starts from ({expected.source})"
            )
        self.run.kernels[part.partition] = kernel

    def applied(self, record: RawRecord, routed: list[Routed], kernel: TradingKernel) -> None:
        if self.observer is not None:
            self.observer.after(record.partition, record.timestamp_ms, routed, kernel)
        self.run.take([record], routed)


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    """The Faust worker reconfigures the root logger for its process; a replay gives it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def run_pipeline(
    bootstrap_servers: str,
    inputs: Namespace,
    target: Namespace,
    plan: ReplayPlan,
    marks: OffsetRanges,
    starts: Mapping[int, StartState],
    overrides: Mapping[str, str],
    observer: RunObserver | None = None,
    batch_max: int = BATCH_MAX,
    model: ScorerSpec | None = None,
    loglevel: str = "warning",
    progress: Callable[[int], None] | None = None,
) -> PipelineRun:
    """Runs ``plan`` through a kernel worker reading ``inputs`` and writing to ``target``; blocks until it stopped.

    ``marks`` are the input topic's watermarks; ``starts`` the start states the
    plan implies (``start_kernel``), against which each recovery is checked.
    ``progress`` hears the inputs applied so far, now and then, on the worker's thread.
    ``model`` (a what-if) replaces each recovered kernel's model and seeds an empty one.
    """
    begin, end = bounds(plan, marks)
    hooks = _Replay(plan, starts, overrides, model, observer, progress)
    config = PipelineConfig(
        bootstrap_servers,
        inputs,
        KernelSettings.parse(),  # seeds only a kernel starting empty (a range from offset 0): default settings, as fast mode
        starting_scorer(model),  # seeds a kernel starting empty; a recovered one keeps its snapshot's model
        stop_at_end=True,
        batch_max=batch_max,
        outputs=target,
        end_offsets=end,
        after_recovery=hooks.recovered,
        on_applied=hooks.applied,
    )
    commit_offsets(bootstrap_servers, group_id(target), inputs.topic(INPUTS), begin)
    worker = LiveWorker(config, loglevel=loglevel)
    started = time.perf_counter()
    with _root_logging_kept():
        try:
            code = worker.run()
        except Exception as exc:  # the worker re-raises what crashed its agent
            raise PipelineReplayError(hooks.failure or f"the pipeline worker crashed: {type(exc).__name__}: {exc}") from exc
    wall = time.perf_counter() - started
    if code != 0:
        raise PipelineReplayError(hooks.failure or f"the pipeline worker stopped with exit code {code}")
    run = hooks.run
    short = [
        f"{p.partition}: applied up to {run.spans[p.partition].last_offset if p.partition in run.spans else p.start - 1:,}"
        f" of [{p.start:,}, {p.end:,})"
        for p in hooks.parts.values()
        if p.partition not in run.spans or run.spans[p.partition].last_offset != p.end - 1
    ]
    if short:
        raise PipelineReplayError(f"the worker stopped before the window's end: partition {'; '.join(short)}")
    run.seconds = worker.pipeline.stats.busy_seconds
    return PipelineRun(run, worker.pipeline.stats, group_id(target), wall)
