"""The accounting of a replay run, shared by both modes and read by the comparison and the report.

``InputSpan`` records which inputs of a partition ran (the comparison finds the
live events they derived by time and id); ``ReplayRun`` counts inputs and
derived events by type and topic. Kept apart from the drivers so that the
comparison and the report depend on what a run *is*, not on how it was run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from contract.records import RawRecord
from kernel.engine import TradingKernel
from kernel.runner import Routed

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

    def observe(self, records: Sequence[RawRecord]) -> None:
        """Takes the next applied inputs, in offset order (a batch gives what one record at a time gives)."""
        if not records:
            return
        if self.inputs == 0:
            self.first_offset, self.first_ms = records[0].offset, records[0].timestamp_ms
        if len(self.head) == self.inputs:  # still in the first millisecond
            for record in records:
                if record.timestamp_ms != self.first_ms:
                    break
                self.head.append(record.offset)
        last = records[-1]
        run = len(records) - 1  # the batch's last run of equal stamps starts at ``run``
        while run > 0 and records[run - 1].timestamp_ms == last.timestamp_ms:
            run -= 1
        if run > 0 or self.inputs == 0 or last.timestamp_ms != self.last_ms:
            self.tail = []
        self.tail.extend(record.offset for record in records[run:])
        self.last_offset, self.last_ms = last.offset, last.timestamp_ms
        self.inputs += len(records)


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

    def take(self, records: Sequence[RawRecord], routed: Sequence[Routed]) -> None:
        """Accounts applied inputs of one partition, in offset order, and everything they derived (both replay modes).

        Per batch or per record, the figures are the same; ``progress`` hears each multiple of
        ``PROGRESS_EVERY`` the batch passes.
        """
        partition = records[0].partition
        span = self.spans.get(partition)
        if span is None:
            span = self.spans[partition] = InputSpan(partition)
        span.observe(records)
        for item in routed:
            self.by_type[type(item.event).__name__] += 1
            self.by_topic[item.spec.name] += 1
        self.outputs += len(routed)
        before = self.inputs
        self.inputs += len(records)
        if self.progress is not None:
            for reached in range(before - before % PROGRESS_EVERY + PROGRESS_EVERY, self.inputs + 1, PROGRESS_EVERY):
                self.progress(reached)
