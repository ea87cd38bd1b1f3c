"""The projector loop: log -> read models, one transaction per batch, offsets included.

A pass reads, for every topic, from the lowest stored offset of the
projections that read it up to the end captured at the start of that topic's
read; each batch (one partition's records) is applied with its offsets in one
transaction. Dead letters are produced and acknowledged before that commit, so
a crash re-sends them (same ids) rather than losing them. On start, and after
every pass, the stored offsets are where reading resumes: nothing is kept in
memory that the database does not also say.

A record that a read model refuses ends the run with ``ProjectionStopped``
once the batch has committed everything else (see ``projections.batch``);
ops' skip decisions (``projections.decisions``) are read at each pass start.

Reference data comes from the log too: at each pass start the kernels'
``ConfigApplied`` announcements on the control topic are folded into the
context, so fills are valued with the instruments their kernel booked them
with. A fill of an instrument not announced yet (the announcement is produced
before the fill, but another partition's record may become readable later)
rolls its batch back and is retried on the next pass; ``stop_at_end`` ends
with ``ReferenceDataMissing`` instead of guessing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import psycopg

from contract.events import ConfigApplied, ProjectionRecordSkipped
from contract.serde import EventCodec
from contract.topics import CONTROL, DEAD_LETTER, Namespace, TopicSpec
from eventlog import faults
from eventlog.consumer import (
    LogReader,
    OffsetRanges,
    RawRecord,
    UndecodableRecord,
    decode,
)
from eventlog.metrics import ProcessMetrics
from eventlog.producer import EventProducer
from kernel.runner import dead_letter
from oms.instruments import UnknownInstrument
from projections import offsets
from projections.batch import (
    Decoded,
    OffsetsMovedBack,
    Poison,
    Refusal,
    apply_batch,
    decode_batch,
)
from projections.db import connect
from projections.decisions import SkipKey, read_skips
from projections.prefetch import prefetched
from projections.readmodels.base import Context
from projections.registry import PROJECTIONS, TOPICS, Projection

log = logging.getLogger(__name__)

DEFAULT_BATCH = 10_000
POLL_INTERVAL_S = 0.5


@dataclass
class BatchReport:
    topic: str
    partition: int
    records: int
    applied: int
    dead: int
    seconds: float


@dataclass
class Totals:
    records: int = 0
    applied: int = 0
    dead: int = 0
    batches: int = 0
    seconds: float = 0.0
    by_topic: dict[str, int] = field(default_factory=dict)

    def add(self, report: BatchReport) -> None:
        self.records += report.records
        self.applied += report.applied
        self.dead += report.dead
        self.batches += 1
        self.by_topic[report.topic] = self.by_topic.get(report.topic, 0) + report.records


class ProjectionStopped(RuntimeError):
    """A projection met a decoded record its read model refuses, and no ops decision skips it.

    Raised after the batch committed the records before it (and the other
    projections' work), so the projection's offset is that record: a restart
    meets it again and nothing is lost. The message names the record and the
    model's error and says how to skip it after a human decision.
    """

    def __init__(self, refusals: Sequence[Refusal], spec: TopicSpec, namespace: Namespace) -> None:
        first = refusals[0]
        self.refusals = tuple(refusals)
        self.projection = first.projection
        self.topic = spec.name
        self.partition = first.item.record.partition
        self.offset = first.item.record.offset
        super().__init__("\n".join(self._describe(r, spec, namespace) for r in refusals))

    @staticmethod
    def _describe(refusal: Refusal, spec: TopicSpec, namespace: Namespace) -> str:
        record, event = refusal.item.record, refusal.item.event
        where = f"{spec.name} partition {record.partition} offset {record.offset}"
        skip = (
            f"aitrader projections skip --projection {refusal.projection} --topic {spec.name} "
            f"--partition {record.partition} --offset {record.offset} --reason '...'"
            + (f" --namespace {namespace.prefix}" if namespace.prefix else "")
        )
        return (
            f"projection {refusal.projection} stopped at {where}: its read model refused {type(event).__name__} "
            f"{event.event_id} ({refusal.error_type}: {refusal.error}). Nothing from this offset on is applied to "
            f"{refusal.projection}, and a restart stops here again. Fix the cause, or after a human decision skip "
            f"the record: {skip}"
        )


class ReferenceDataMissing(RuntimeError):
    """A fill of an instrument no kernel announced on the log."""


class Projector:
    def __init__(
        self,
        bootstrap: str,
        database_url: str,
        schema: str,
        namespace: Namespace | None = None,
        projections: Sequence[Projection] = PROJECTIONS,
        context: Context | None = None,
        batch_size: int = DEFAULT_BATCH,
        metrics: ProcessMetrics | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.metrics = metrics
        self.database_url = database_url
        self.schema = schema
        self.namespace = namespace or Namespace()
        self.projections = tuple(projections)
        self.context = context or Context()
        self.batch_size = batch_size
        self.codec = EventCodec()
        self._producer: EventProducer | None = None
        self._control_read: dict[int, int] = {}  # control topic partition -> next offset to fold into the context
        self._fault = faults.from_environment()  # tests only (eventlog/faults.py)
        self._projected = 0  # records in committed batches since start, what the fault counts

    # --- the loop ---------------------------------------------------------------

    def run(
        self,
        stop_at_end: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
        on_batch: Callable[[BatchReport], None] | None = None,
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> Totals:
        """Projects until stopped; with ``stop_at_end``, until the ends seen by one pass."""
        totals = Totals()
        started = time.perf_counter()
        # Watermarks come from a second client: metadata requests queue behind the reader's long-polling fetches.
        with connect(self.database_url, self.schema) as conn, LogReader(self.bootstrap) as reader, LogReader(
            self.bootstrap
        ) as ends:
            while not should_stop():
                try:
                    before = totals.records
                    self._pass(conn, reader, ends, totals, should_stop, on_batch)
                    if self.metrics is not None:
                        self.metrics.projection_stopped.set(0)  # a whole pass went through: no projection is stopped
                except OffsetsMovedBack:
                    continue  # someone reset offsets: read again from what the database says
                except UnknownInstrument as exc:
                    if stop_at_end:
                        raise ReferenceDataMissing(f"{exc}; no kernel announced it on {self.namespace.topic(CONTROL)}") from None
                    log.warning("waiting for a kernel to announce the instrument: %s", exc)
                    time.sleep(poll_interval_s)
                    continue
                if stop_at_end:
                    break
                if totals.records == before:
                    time.sleep(poll_interval_s)
        if self._producer is not None:
            self._producer.flush()
        totals.seconds = time.perf_counter() - started
        return totals

    def _pass(
        self,
        conn: psycopg.Connection,
        reader: LogReader,
        ends: LogReader,
        totals: Totals,
        should_stop: Callable[[], bool],
        on_batch: Callable[[BatchReport], None] | None,
    ) -> None:
        skips = read_skips(reader, self.namespace)  # small; read anew so a decision taken meanwhile counts
        self._fold_announcements(reader, ends)
        for spec in TOPICS:
            readers = [p for p in self.projections if p.reads(spec)]
            if not readers:
                continue
            topic = self.namespace.topic(spec)
            marks = ends.watermarks(topic)
            ranges, covered = self._ranges(conn, marks, topic, readers)
            self._report_lag(marks, topic, covered)
            batches = prefetched(self._decoded(reader, topic, ranges))
            try:
                for records, decoded in batches:
                    report = self._apply(conn, spec, readers, records, decoded, covered[records[0].partition], skips)
                    covered[report.partition] = records[-1].offset + 1
                    if self.metrics is not None:  # the log's end now: records appended since the pass began are lag too
                        self._report_lag(ends.watermarks(topic), topic, covered)
                    self._report_batch(report)
                    totals.add(report)
                    if on_batch is not None:
                        on_batch(report)
                    if should_stop():
                        return
            finally:
                batches.close()  # stops the reading thread before the reader is used again

    def _report_lag(self, marks: OffsetRanges, topic: str, covered: Mapping[int, int]) -> None:
        """Records on the log not applied yet, per partition, against ``marks`` (the log's ends when last asked).

        Not against the ends this pass reads to: a pass reads a topic to the ends it saw on reaching it, and what
        was appended since is lag too.
        """
        if self.metrics is None:
            return
        lags = {p: high - max(covered.get(p, low), low) for p, (low, high) in marks.items()}
        self.metrics.set_lag(topic, lags)
        for partition, lag in lags.items():
            self.metrics.projection_lag.labels(topic, str(partition)).set(max(lag, 0))

    def _report_batch(self, report: BatchReport) -> None:
        if self.metrics is not None:
            self.metrics.count_inputs(report.topic, report.partition, report.records)
            self.metrics.observe_batch(report.seconds)

    def _fold_announcements(self, reader: LogReader, ends: LogReader) -> None:
        """Folds the ``ConfigApplied`` events not read yet into the context's reference data (a small topic)."""
        topic = self.namespace.topic(CONTROL)
        marks = ends.watermarks(topic)
        ranges = {p: (self._control_read.get(p, low), high) for p, (low, high) in marks.items() if high > self._control_read.get(p, low)}
        for batch in reader.read(topic, ranges) if ranges else ():
            for record in batch:
                self._control_read[record.partition] = record.offset + 1
                try:
                    event = decode(self.codec, record)
                except UndecodableRecord:
                    continue  # the index projection dead-letters it; it announces nothing
                if isinstance(event, ConfigApplied):
                    self.context.reference.apply(event)

    def _decoded(self, reader: LogReader, topic: str, ranges: dict[int, tuple[int, int]]) -> Iterator[tuple[list[RawRecord], Decoded]]:
        codec = EventCodec()  # the reading thread's own
        for records in reader.read(topic, ranges, self.batch_size):
            yield records, decode_batch(codec, records)

    def _ranges(
        self, conn: psycopg.Connection, marks: OffsetRanges, topic: str, readers: Sequence[Projection]
    ) -> tuple[dict[int, tuple[int, int]], dict[int, int]]:
        """Per partition: [lowest stored offset, end) to read, and the lowest stored offset (``marks``: the log's ends)."""
        stored = offsets.stored(conn, topic)
        ranges: dict[int, tuple[int, int]] = {}
        covered: dict[int, int] = {}
        for partition, (low, high) in marks.items():
            start = min(stored.get(p.name, {}).get(partition, 0) for p in readers)
            covered[partition] = start
            if start < high:
                # Below the low watermark the records are gone from the log; reading starts where it can.
                ranges[partition] = (max(start, low), high)
        return ranges, covered

    def _apply(
        self,
        conn: psycopg.Connection,
        spec: TopicSpec,
        readers: Sequence[Projection],
        records: list[RawRecord],
        decoded: Decoded,
        covered_from: int,
        skips: Mapping[SkipKey, ProjectionRecordSkipped],
    ) -> BatchReport:
        started = time.perf_counter()
        partition = records[0].partition
        mine = {(name, offset): d for (name, topic, p, offset), d in skips.items() if topic == spec.name and p == partition}
        with conn.transaction():
            result = apply_batch(conn, readers, records, decoded, self.context, covered_from, mine)
            if result.dead:
                self._dead_letter(spec, result.dead)  # acknowledged before the offsets commit
            if self._fault is not None:
                where = f"{records[0].topic} partition {partition} offsets {records[0].offset}-{records[-1].offset}"
                self._fault.at(faults.BEFORE_COMMIT, self._projected + len(records), lambda: where)
        self._projected += len(records)
        if result.refusals:
            if self.metrics is not None:
                self.metrics.projection_stopped.set(1)
            raise ProjectionStopped(result.refusals, spec, self.namespace)
        return BatchReport(records[0].topic, partition, len(records), result.applied, len(result.dead), time.perf_counter() - started)

    def _dead_letter(self, spec: TopicSpec, dead: list[Poison]) -> None:
        if self._producer is None:
            self._producer = EventProducer(self.bootstrap, self.namespace, self.codec)
        for poison in dead:
            # The id is derived from the stage and the record, so it differs from the kernel's own
            # dead letter of the same input record and repeats exactly when this one is re-sent.
            event = dead_letter(poison.record, spec.name, poison.stage, poison.reason, poison.error_type, f"{poison.stage}:{spec.name}")
            self._producer.send(DEAD_LETTER, event.source_topic, event)
            log.warning("dead-lettered %s: %s", spec.name, poison.reason, extra=_where(poison.record, event.event_id))
        self._producer.flush()
        if self.metrics is not None:
            self.metrics.count_outputs(self._producer.take_acked())
            self.metrics.count_dead_letters(poison.error_type for poison in dead)


def _where(record: RawRecord, event_id: str | None) -> dict[str, object]:
    """The record's position on the log, as fields of a log line (``extra=``)."""
    return {"event_id": event_id, "topic": record.topic, "partition": record.partition, "offset": record.offset}
