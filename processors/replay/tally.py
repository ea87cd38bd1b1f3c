"""The accounting of a replay run, shared by both modes and read by the comparison and the report.

``InputSpan`` records which inputs of a partition ran (the comparison finds the
live events they derived by time and id); ``ReplayRun`` counts inputs and
derived events by type and topic. Kept apart from the drivers so that the
comparison and the report depend on what a run *is*, not on how it was run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from contract.records import RawRecord
from kernel.engine import TradingKernel
from kernel.runner import Routed
from processors.replay.observe import RunObserver

PROGRESS_EVERY = 10_000  # inputs


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
class ReplayRun:
    """What a replay applied and derived, in either mode, and when to tell ``progress`` how far it is.

    ``progress`` hears the count of applied inputs every ``PROGRESS_EVERY``
    inputs: often enough to follow a day's replay, rare enough to cost nothing
    next to the kernel.
    """

    spans: dict[int, InputSpan]
    kernels: dict[int, TradingKernel]
    by_type: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)
    inputs: int = 0
    outputs: int = 0
    seconds: float = 0.0
    progress: Callable[[int], None] | None = None

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
        self.inputs += 1
        if self.progress is not None and self.inputs % PROGRESS_EVERY == 0:
            self.progress(self.inputs)
