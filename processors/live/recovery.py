"""Rebuilds one partition's kernel as it was just before a given input offset.

The live kernel keeps its state in memory only; what survives a crash is the
log. The state as of committed offset C is the latest ``KernelSnapshotTaken``
of that partition taken before C, plus the inputs after the snapshot and
before C applied again. Their outputs are discarded: they are on the log
already (or, for inputs the crashed worker applied but never flushed, they
are derived again when those inputs are processed live, with the same ids).
With no snapshot the kernel starts empty and applies [0, C).

A snapshot this code cannot read (another state format, written by other
code) is passed over for an earlier readable one, down to an empty kernel:
the log holds every input, so the state is rebuilt either way, only slower.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from contract.events import KernelSnapshotTaken
from contract.records import decode
from contract.serde import EventCodec
from contract.topics import INPUTS, SNAPSHOTS, Namespace
from eventlog.consumer import LogReader
from inference.models import ScorerResolver, load_scorer
from inference.scorer import Scorer
from kernel.engine import READABLE_FORMATS, snapshot_origin
from kernel.restore import restore_kernel, snapshot_state
from kernel.runner import KernelRunner
from kernel.settings import KernelSettings
from marketdata.calendar import VenueCalendars

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recovery:
    """How one partition's kernel was rebuilt."""

    partition: int
    next_offset: int  # C: the first input the rebuilt kernel has not applied
    snapshot_offset: int | None  # input offset the snapshot was taken after; None: started empty
    replayed: int  # inputs applied again after the snapshot

    def describe(self) -> str:
        start = "empty" if self.snapshot_offset is None else f"snapshot after input {self.snapshot_offset}"
        return f"partition {self.partition}: {start}, {self.replayed:,} inputs re-applied, live from offset {self.next_offset:,}"


def latest_snapshot(
    reader: LogReader, namespace: Namespace, partition: int, before_offset: int, codec: EventCodec
) -> KernelSnapshotTaken | None:
    """The readable snapshot of ``partition`` with the highest ``input_offset`` below ``before_offset``.

    Snapshots are rare (a few per trading day), so the whole partition is read.
    The topic may hold a snapshot twice (re-emitted after a crash): both copies
    are the same state, so either one does. Snapshots of another state format
    are skipped with a warning.
    """
    topic = namespace.topic(SNAPSHOTS)
    low, high = reader.watermarks(topic)[partition]
    best: KernelSnapshotTaken | None = None
    for batch in reader.read(topic, {partition: (low, high)}, batch_size=500):
        for record in batch:
            event = decode(codec, record)
            if not isinstance(event, KernelSnapshotTaken) or event.partition != partition:
                continue
            if event.input_offset < before_offset and (best is None or event.input_offset > best.input_offset):
                form, code = snapshot_origin(snapshot_state(event))
                if form not in READABLE_FORMATS:
                    log.warning("partition %d: passing over the snapshot after input %d: state format %d of kernel/%s",
                                partition, event.input_offset, form, code)
                    continue
                best = event
    return best


def recover_kernel(
    bootstrap_servers: str,
    namespace: Namespace,
    partition: int,
    next_offset: int,
    settings: KernelSettings,
    scorer: Scorer,
    calendars: VenueCalendars,
    resolve: ScorerResolver = load_scorer,
) -> tuple[KernelRunner, Recovery]:
    """A runner whose kernel has applied exactly the inputs of ``partition`` before ``next_offset``.

    ``settings`` only seed a kernel that starts empty; a snapshot carries the
    settings that were in force on the log, config changes included, and wins.
    """
    codec = EventCodec()
    with LogReader(bootstrap_servers) as reader:
        snapshot = latest_snapshot(reader, namespace, partition, next_offset, codec) if next_offset > 0 else None
        kernel = restore_kernel(partition, None if snapshot is None else snapshot_state(snapshot), scorer, calendars, settings, resolve)
        if snapshot is not None and kernel.settings != settings:
            log.warning(
                "partition %d: the snapshot's settings differ from this run's; the snapshot's stay in force "
                "(change settings on a running kernel with a ConfigChanged input)",
                partition,
            )
        runner = KernelRunner(kernel, codec)
        start = kernel.last_applied_offset + 1
        replayed = 0
        if start < next_offset:
            for batch in reader.read(namespace.topic(INPUTS), {partition: (start, next_offset)}):
                for record in batch:
                    runner.apply(record)  # outputs discarded: already on the log
                replayed += len(batch)
    if kernel.last_applied_offset != next_offset - 1:
        raise RuntimeError(
            f"partition {partition}: recovery reached input {kernel.last_applied_offset}, not {next_offset - 1}; "
            "the input topic lost records"
        )
    recovery = Recovery(partition, next_offset, None if snapshot is None else snapshot.input_offset, replayed)
    return runner, recovery
