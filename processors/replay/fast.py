"""Fast replay: the kernel over a range of the input topic, in one process.

The same ``KernelRunner`` as live (decode at the edge, apply, route), driven by
batched reads; each derived event is encoded once and produced asynchronously
into the replay namespace, with one flush (and its acknowledgements) at the
end. Partitions are independent kernels and run one after the other.

Where a partition starts:

* from its snapshot: ``TradingKernel.from_state`` on the snapshot's state,
  whose settings are the settings in force on the log at that point;
* empty (``--flat``, or a range that starts at offset 0, where live started
  empty too).

``--set`` overrides are applied the way a ``ConfigChanged`` input would apply
them at that point of the log, so pattern, strategy and risk settings all take
effect exactly as a live change would.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from inference.baseline import NAME as BASELINE_NAME
from inference.baseline import VERSION as BASELINE_VERSION
from inference.scorer import Scorer, ScorerSpec, load_scorer
from kernel.calendar import VenueCalendars
from kernel.consumer import LogReader
from kernel.derivation import Derivation
from kernel.events import ConfigApplied, ConfigChanged, DeadLettered, Envelope
from kernel.ids import id_from_parts
from kernel.producer import EventProducer
from kernel.records import RawRecord
from kernel.topics import INPUTS, Namespace
from processors.engine import PRODUCER, TradingKernel, canonical_json, snapshot_origin
from processors.replay.report import RunObserver
from processors.replay.window import PartitionPlan, ReplayPlan
from processors.runner import KernelRunner, Routed
from processors.settings import KernelSettings

READ_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class StartState:
    """A partition's kernel at the start of the replay, and where that state came from."""

    kernel: TradingKernel
    source: str
    recorded_by: str | None = None  # code version of the snapshot it came from

    @property
    def settings(self) -> dict[str, str]:
        return dict(self.kernel.settings.values)


def start_kernel(
    plan: PartitionPlan,
    overrides: Mapping[str, str],
    flat: bool = False,
    calendars: VenueCalendars | None = None,
) -> StartState:
    """The kernel a partition's replay starts with; ``ValueError`` when it cannot be built as asked."""
    found = plan.snapshot
    state = json.loads(found.event.state_json) if found is not None else None
    scorer = _scorer(state)
    if found is not None and state is not None and not flat:
        kernel = TradingKernel.from_state(state, scorer, calendars)
        if overrides:
            apply_what_if(kernel, overrides, found.event.event_time_ms, plan.start)
        source = f"snapshot at {found.offset} ({found.event.reason}, after input {found.event.input_offset})"
        return StartState(kernel, source, snapshot_origin(state)[1])
    if state is None and not flat and plan.start > 0:
        raise ValueError(
            f"partition {plan.partition}: no kernel snapshot right before input offset {plan.start}; "
            "start at a snapshot (aitrader log read --topic snapshots shows their input_offset) or replay --flat"
        )
    recorded = KernelSettings.parse() if state is None else KernelSettings.from_state(state)
    settings = recorded.changed(overrides, None) if overrides else recorded
    why = "--flat" if flat else "the log's start"
    origin = "settings of the snapshot" if state is not None else "default settings"
    return StartState(TradingKernel(plan.partition, settings, scorer, calendars), f"empty ({why}; {origin})")


def _scorer(state: Mapping[str, object] | None) -> Scorer:
    recorded = state.get("scorer") if state is not None else None
    if isinstance(recorded, Mapping):
        return load_scorer(ScorerSpec(str(recorded["name"]), str(recorded["version"])))
    return load_scorer(ScorerSpec(BASELINE_NAME, BASELINE_VERSION))


def apply_what_if(kernel: TradingKernel, overrides: Mapping[str, str], event_time_ms: int, start: int) -> None:
    """Applies what-if settings through the kernel's own config path (as a ConfigChanged right before ``start``).

    Shared by both replay modes: fast mode calls it on the kernel it restores,
    pipeline mode on the kernel the worker's recovery rebuilt.
    """
    event_id = id_from_parts("replay-what-if", kernel.partition, start, canonical_json(dict(overrides)))
    change = ConfigChanged(
        envelope=Envelope(event_id, event_time_ms, PRODUCER, None, event_id),
        symbol=None,
        settings=dict(overrides),
        reason="replay what-if",
        actor="aitrader replay --set",
    )
    derived = kernel.on_config(change, Derivation("replay-what-if", kernel.partition, start - 1, PRODUCER))
    refused = [e for e in derived if isinstance(e, DeadLettered)]
    if refused:
        raise ValueError(f"--set refused by the kernel: {refused[0].reason}")
    # The kernel announces what it applied; a what-if is not on the input log, so neither is its announcement.
    unexpected = [e for e in derived if not isinstance(e, ConfigApplied)]
    if unexpected:
        raise ValueError(f"--set made the kernel emit {len(unexpected)} events before the first input; refusing")


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
