"""The live kernel: one ``TradingKernel`` per input partition, fed in batches by a confluent-kafka consumer.

Faust hosts the process (lifecycle, signals, logging, the stop deadline, the
periodic tasks) and opens no Kafka client of its own. The input topic is read
by a confluent-kafka ``Consumer`` of the kernel's consumer group
(``group_id``), driven by one Faust task on one dedicated kernel thread. Per
batch (``consume``: the first record, then up to ``batch_max`` more that
arrive within ``batch_within_s``; with 0, those fetched by then), in this
order:

1. apply each record to its partition's kernel (``KernelRunner``) and queue the
   derived events on the kernel's idempotent confluent-kafka producer;
2. ``flush()``: wait until the broker has acknowledged every queued record;
3. only then commit the batch's offsets (asynchronously, and at most every
   ``COMMIT_EVERY_S`` with the latest flushed ones; a commit the broker
   refused is asked again after the next batch or idle poll).

A failure (a ``DeliveryError`` from the flush, a kernel bug) raises out of the
task before step 3, the Faust app crashes and the worker exits non-zero: the
committed offset never passes an input whose outputs are not durable. A
restart rebuilds each kernel from the log (``recovery.py``) and derives the
lost outputs again, with the same ids and bytes. Batch composition cannot
change any output: the kernel applies inputs one by one.

Why not Faust's own consumer and stream: its per-message path (fetcher,
conductor, stream buffer, event and ack bookkeeping) cost about 250 µs an
input, two thirds of the worker's time, whatever its buffer size or Cython
extension (``docs/performance.md``, "The live worker's consume path").
librdkafka fetches in its own threads and ``consume`` hands over a whole
batch in one call.

Everything the consumer does happens on the kernel thread: batches, commits,
and the group's rebalances, whose callbacks librdkafka runs inside
``consume``/``poll``, so between batches, never during one. Rebalances are
eager (the default assignors): every worker first gives up all its
partitions (``on_revoke``), then gets its new share (``on_assign``) and reads
each assigned partition from the group's committed offset. So:

- a revocation commits what is flushed (synchronously: the next owner starts
  there) and forgets it; records of a revoked partition in hand afterwards are
  neither applied, nor produced, nor committed: the next owner (this worker
  too) reads them again from the committed offset. A batch held at the
  ``before-apply`` fault point keeps serving the group (its partitions paused,
  so nothing more is fetched); if any revocation came meanwhile, the whole
  batch is left alone;
- an assignment drops the kernels of the partitions not given back; a kernel
  kept through the rebalance goes on, since what comes back is at or below its
  last applied offset (skipped) or past a gap (rebuilt).

No fence stops a worker evicted inside one batch that outlasts the rebalance
timeout (librdkafka's ``max.poll.interval.ms``, 300 s): it finishes that batch.
Its outputs carry the ids and bytes the new owner derives, its commits are
refused, and consumers deduplicate.

Stopping (SIGTERM, or ``stop_at_end`` once the group's committed offsets reach
the ends): the kernel thread finishes the batch in hand, flushes, commits what
is flushed and closes the consumer, which leaves the group; then Faust stops.

Live reads and writes one namespace. A pipeline replay runs this same worker
with a ``PipelineConfig`` that reads the live input topic (the very records,
so derived ids match), writes to its replay namespace under that namespace's
consumer group, stops at fixed end offsets, and hooks into recovery and into
each applied input (``processors/replay/pipeline.py``). Every one of those
settings defaults to live's behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import cast

import faust
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from faust.app.base import BootStrategy

from contract.events import DeadLettered
from contract.records import RawRecord
from contract.topics import INPUTS, Namespace
from eventlog import faults
from eventlog.consumer import LogReader, raw_record
from eventlog.kafka_security import client_config
from eventlog.metrics import ProcessMetrics
from eventlog.producer import EventProducer
from eventlog.retry import retry_transient
from inference.models import load_scorer
from inference.scorer import Scorer
from kernel.engine import TradingKernel
from kernel.runner import KernelRunner, Routed
from kernel.settings import KernelSettings
from marketdata.calendar import VenueCalendars
from processors.live.observe import Applied, BatchObserver, TimedScorer, timed_resolver
from processors.live.recovery import Recovery, recover_kernel
from processors.live.stop_deadline import (
    STOP_DEADLINE_S,
    DeadlineWorker,
    StopDeadline,
    exit_overdue,
)

log = logging.getLogger(__name__)

GROUP_PREFIX = "aitrader-kernel"
BATCH_MAX = 5000
# Longest a batch waits for more records after its first. 0 (it takes what is fetched by then) halved the median
# tick -> fill latency on a quiet machine and lengthened the tail on a busier one (docs/performance.md, "No wait
# at all"); 50 ms fell behind at 5,000/s.
BATCH_WITHIN_S = 0.005
IDLE_POLL_S = 0.2  # longest the kernel thread waits for a first record before it looks whether to stop
STOP_CHECK_S = 0.5
LAG_EVERY_S = 2.0  # how often the consumer-lag gauge asks the broker
# Flushed offsets are committed at most this often: a paced stream makes a batch of a few inputs every
# millisecond, and a commit each would be the broker's largest load. A crash re-applies at most this much more.
COMMIT_EVERY_S = 0.1
# How long a kernel's rebuild waits for a broker that does not answer before the worker gives up, and the longest
# wait between its tries: within one batch, so well under librdkafka's max.poll.interval.ms (300 s), past which the group
# would give the worker's partitions away.
RECOVERY_PATIENCE_S = 240.0
RECOVERY_RETRY_S = 2.0
# How long the broker waits for a silent worker before its partitions go to another
# (or to the same worker restarted): a long wait stalls a restart after a crash.
SESSION_TIMEOUT_S = 10.0


def group_id(namespace: Namespace) -> str:
    """The kernel's consumer group in a namespace."""
    suffix = namespace.prefix.rstrip(".")
    return f"{GROUP_PREFIX}.{suffix}" if suffix else GROUP_PREFIX


# Called on the kernel thread right after a partition's kernel was rebuilt; raising stops the worker.
RecoveryHook = Callable[[KernelRunner, Recovery], None]
# Called on the kernel thread after each input the kernel applied (not for skipped re-deliveries).
AppliedHook = Callable[[RawRecord, list[Routed], TradingKernel], None]


@dataclass(frozen=True)
class PipelineConfig:
    """What one kernel worker runs on; everything after ``session_timeout_s`` is for replays.

    ``namespace`` holds the input topic and the snapshots recovery starts from;
    ``outputs`` (default: the same) receives the derived events and names the
    consumer group. With ``end_offsets`` (partition -> first offset not to
    apply; partitions not named apply nothing) records at or past a
    partition's end are neither applied nor acknowledged, so the group's
    committed offsets stop exactly there; ``stop_at_end`` then stops at those
    ends instead of the input's end offsets at start.
    """

    bootstrap_servers: str
    namespace: Namespace
    settings: KernelSettings
    scorer: Scorer
    stop_at_end: bool = False
    batch_max: int = BATCH_MAX
    batch_within_s: float = BATCH_WITHIN_S
    session_timeout_s: float = SESSION_TIMEOUT_S
    outputs: Namespace | None = None
    end_offsets: Mapping[int, int] | None = None
    after_recovery: RecoveryHook | None = None
    on_applied: AppliedHook | None = None
    metrics: ProcessMetrics | None = None  # `aitrader run processors` exposes them; replays and most tests leave them out

    @property
    def output_namespace(self) -> Namespace:
        return self.namespace if self.outputs is None else self.outputs

    @property
    def group(self) -> str:
        return group_id(self.output_namespace)

    def due(self, partition: int, offset: int) -> bool:
        """Whether the worker applies this input at all (always, unless end offsets bound the run)."""
        return self.end_offsets is None or offset < self.end_offsets.get(partition, 0)


@dataclass
class PipelineStats:
    """What the worker did; read by progress displays and the final summary."""

    inputs: int = 0
    outputs: int = 0
    batches: int = 0
    next_offsets: dict[int, int] = field(default_factory=dict)  # partition -> first offset not yet flushed
    recoveries: list[Recovery] = field(default_factory=list)
    fenced: int = 0  # inputs in hand when their partition was revoked: not applied, not acked
    first_input_at: float | None = None  # time.monotonic(), for rates only
    last_flush_at: float | None = None

    @property
    def busy_seconds(self) -> float:
        if self.first_input_at is None or self.last_flush_at is None:
            return 0.0
        return self.last_flush_at - self.first_input_at


def describe_batch(records: Sequence[RawRecord]) -> str:
    """The offsets a batch holds, per partition (logs): ``partition 0 offsets 100-2099; partition 2 ...``."""
    ranges: dict[int, tuple[int, int]] = {}
    for record in records:
        low, high = ranges.get(record.partition, (record.offset, record.offset))
        ranges[record.partition] = (min(low, record.offset), max(high, record.offset))
    return "; ".join(f"partition {p} offsets {low}-{high}" for p, (low, high) in sorted(ranges.items()))


class KernelPipeline:
    """The kernels of the partitions this worker holds, and the producer of their outputs.

    Every method runs on the single kernel thread, never on the event loop.
    """

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.calendars = VenueCalendars()
        self.calendars.warm()  # now, not on the first tick (some seconds at worst: marketdata/calendar.py)
        self.producer = EventProducer(config.bootstrap_servers, config.output_namespace)
        self.runners: dict[int, KernelRunner] = {}
        self.assigned: set[int] = set()  # input partitions this worker holds; records of others are fenced
        self.stats = PipelineStats()
        self.fault = faults.from_environment()
        self.observer = None if config.metrics is None else BatchObserver(config.metrics)
        self.scorer = config.scorer if config.metrics is None else TimedScorer(config.scorer, config.metrics)
        self.resolve = load_scorer if config.metrics is None else timed_resolver(config.metrics)

    def process(self, records: Sequence[RawRecord]) -> set[int]:
        """Applies the records, sends what they derive, and returns once the broker has all of it.

        Records of partitions this worker no longer holds are left alone; the
        partitions they belong to are returned: their inputs must not be committed.
        """
        fenced = {record.partition for record in records} - self.assigned
        if fenced:
            records = self.fence(records, fenced)
        if not records:
            return fenced
        if self.stats.first_input_at is None:
            self.stats.first_input_at = time.monotonic()
        started = time.perf_counter()
        applied = self.config.on_applied
        observed: list[Applied] = []
        for record in records:
            runner = self._runner(record)
            fresh = record.offset > runner.kernel.last_applied_offset
            derived = runner.apply(record)
            for routed in derived:
                self.producer.send(routed.spec, routed.key, routed.event, partition=routed.partition)
                if isinstance(routed.event, DeadLettered):
                    log.warning("dead-lettered input: %s", routed.event.reason,
                                extra={"event_id": routed.event.event_id, "topic": record.topic, "partition": record.partition,
                                       "offset": record.offset})
            self.stats.outputs += len(derived)
            if applied is not None and fresh:
                applied(record, derived, runner.kernel)
            if self.observer is not None:
                observed.append((record, derived))
        if self.fault is not None:
            self.fault.at(faults.AFTER_APPLY, self.stats.inputs + len(records), lambda: describe_batch(records))
        self.producer.flush()  # raises DeliveryError: the batch is not committed and the worker stops
        for record in records:
            self.stats.next_offsets[record.partition] = max(self.stats.next_offsets.get(record.partition, 0), record.offset + 1)
        self.stats.inputs += len(records)
        self.stats.batches += 1
        self.stats.last_flush_at = time.monotonic()
        if self.observer is not None:
            self.observer.flushed(observed, self.producer.take_acked(), time.perf_counter() - started)
        return fenced

    def fence(self, records: Sequence[RawRecord], fenced: set[int]) -> list[RawRecord]:
        """Logs and leaves out the records of revoked partitions; returns the others.

        Their kernels stay until the rebalance ends: a partition given back
        goes on from where its kernel is, one given away is dropped then.
        """
        for partition in sorted(fenced):
            caught = [record for record in records if record.partition == partition]
            log.info("not applied: %s (%d inputs): the partition was revoked from this worker", describe_batch(caught), len(caught),
                     extra={"topic": caught[0].topic, "partition": partition, "offset": caught[0].offset})
            self.stats.fenced += len(caught)
        return [record for record in records if record.partition not in fenced]

    def _runner(self, record: RawRecord) -> KernelRunner:
        runner = self.runners.get(record.partition)
        # A gap means another worker applied inputs meanwhile (or this is the first record): rebuild.
        # At or below the last applied offset the kernel itself skips the record.
        if runner is None or record.offset > runner.kernel.last_applied_offset + 1:
            runner, recovery = self._recover(record.partition, record.offset)
            log.info("recovered %s", recovery.describe(),
                     extra={"topic": record.topic, "partition": recovery.partition, "offset": recovery.next_offset})
            if self.config.after_recovery is not None:
                self.config.after_recovery(runner, recovery)
            self.stats.recoveries.append(recovery)
            self.runners[record.partition] = runner
        return runner

    def _recover(self, partition: int, next_offset: int) -> tuple[KernelRunner, Recovery]:
        """``recover_kernel``, asked again while the broker does not answer, for up to ``RECOVERY_PATIENCE_S``.

        A rebuild reads the log; with the broker away (a restart, an outage) it
        fails, and nothing is lost by waiting: no input of the batch is applied
        or committed meanwhile. Each try starts from nothing. Past the patience,
        or on any other error, the error stands and the worker stops.
        """
        def waiting(exc: KafkaException, delay_s: float) -> None:
            log.warning("rebuilding the kernel of partition %d failed, the broker did not answer (%s): trying again in %.1f s",
                        partition, exc, delay_s, extra={"partition": partition, "offset": next_offset})

        return retry_transient(
            lambda: recover_kernel(self.config.bootstrap_servers, self.config.namespace, partition, next_offset,
                                   self.config.settings, self.scorer, self.calendars, self.resolve),
            RECOVERY_PATIENCE_S, max_delay_s=RECOVERY_RETRY_S, on_retry=waiting,
        )

    def revoke(self, partitions: set[int]) -> None:
        """A rebalance begins: records of these partitions are fenced until they are assigned again."""
        self.assigned -= partitions

    def assign(self, partitions: set[int]) -> None:
        """A rebalance ended with these partitions; kernels of the others are dropped (rebuilt from the log if they return)."""
        self.assigned = set(partitions)
        for partition in set(self.runners) - self.assigned:
            del self.runners[partition]


def consumer_config(config: PipelineConfig) -> dict[str, object]:
    """The kernel group's input consumer: offsets are committed by the loop, only after the outputs are acknowledged."""
    return {
        **client_config(config.bootstrap_servers),
        "group.id": config.group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": round(config.session_timeout_s * 1000),
    }


class InputLoop:
    """The input topic's consumer in the kernel group, feeding batches to a ``KernelPipeline`` until told to stop.

    Everything here, the consumer's rebalance and commit callbacks included,
    runs on the kernel thread (module docstring).
    """

    def __init__(self, config: PipelineConfig, pipeline: KernelPipeline, stopping: threading.Event) -> None:
        self.config = config
        self.pipeline = pipeline
        self.stopping = stopping
        self.topic = config.namespace.topic(INPUTS)
        self.flushed: dict[int, int] = {}  # held partition -> first offset not flushed: what may be committed
        self.asked: dict[int, int] = {}  # held partition -> the offset last sent to be committed
        self.asked_at = 0.0  # time.monotonic() of the last commit sent
        self.ended: set[int] = set()  # held partitions paused at their end offset
        self.revocations = 0
        self.held_back: list[Message] = []  # fetched while a batch was held at a fault point: the next batch's
        self.paused_to_hold = False
        self.consumer = Consumer({**consumer_config(config), "on_commit": self._on_commit})

    def run(self) -> None:
        """Consumes, applies, flushes and commits batch after batch; returns once ``stopping`` is set."""
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not self.stopping.is_set():
                messages = self._take()
                if messages:
                    self._step(messages)
                self._commit()
        finally:
            self._commit_now(self.flushed)  # a failed batch is not in ``flushed``
            self.flushed.clear()
            self.consumer.close()  # leaves the group: its revocation has nothing left to commit

    def _take(self) -> list[Message]:
        """The next batch: its first record (waiting up to ``IDLE_POLL_S``), then what is fetched by then or within ``batch_within_s``."""
        if self.held_back:
            taken, self.held_back = self.held_back[: self.config.batch_max], self.held_back[self.config.batch_max :]
            return taken
        first = self.consumer.consume(1, timeout=IDLE_POLL_S)
        if not first or self.config.batch_max == 1:
            return first
        return first + self.consumer.consume(self.config.batch_max - 1, timeout=self.config.batch_within_s)

    def _step(self, messages: list[Message]) -> None:
        records = self._records(messages)
        due = [record for record in records if self.config.due(record.partition, record.offset)]
        if len(due) < len(records):
            # A partition reached its end offset: stop fetching it; what was fetched past it is not applied.
            ended = {record.partition for record in records if not self.config.due(record.partition, record.offset)}
            self.consumer.pause([TopicPartition(self.topic, p) for p in sorted(ended - self.ended)])
            self.ended |= ended
        if not due:
            return
        pipeline, revocations = self.pipeline, self.revocations
        if pipeline.fault is not None:
            pipeline.fault.at(faults.BEFORE_APPLY, pipeline.stats.inputs, lambda: describe_batch(due), self._serve_group)
            if self.paused_to_hold:
                self.consumer.resume([tp for tp in self.consumer.assignment() if tp.partition not in self.ended])
                self.paused_to_hold = False
        if self.revocations != revocations:
            # Revoked while held: the partitions' next owner, this worker too, reads them again from the committed offset.
            pipeline.fence(due, {record.partition for record in due})
            return
        fenced = pipeline.process(due)
        for record in due:
            if record.partition not in fenced:
                self.flushed[record.partition] = max(self.flushed.get(record.partition, 0), record.offset + 1)

    def _records(self, messages: list[Message]) -> list[RawRecord]:
        records = []
        for message in messages:
            error: KafkaError | None = message.error()
            if error is None:
                records.append(raw_record(message))
            elif error.retriable() and not error.fatal():
                log.warning("input consumer: %s (the client retries)", error.str())
            else:
                raise KafkaException(error)
        return records

    def _serve_group(self, seconds: float) -> None:
        """While a batch is held: the group's rebalances go on (their callbacks run here), nothing more is fetched."""
        self.consumer.pause(self.consumer.assignment())  # again after each rebalance: a new assignment is not paused
        self.paused_to_hold = True
        message = self.consumer.poll(seconds)
        if message is not None:  # fetched before the pause took effect
            self.held_back.append(message)

    def _commit(self) -> None:
        """Sends the flushed offsets not yet sent; the broker's answer comes back through ``_on_commit``."""
        now = time.monotonic()
        if now - self.asked_at < COMMIT_EVERY_S:
            return
        due = {p: offset for p, offset in self.flushed.items() if self.asked.get(p) != offset}
        if not due:
            return
        self.asked_at = now
        try:
            self.consumer.commit(offsets=self._partitions(due), asynchronous=True)
        except KafkaException as exc:
            log.warning("committing input offsets %s failed (%s): asked again after the next batch", due, exc)
            return
        self.asked.update(due)

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        failed = [tp for tp in partitions if error is not None or tp.error is not None]
        for tp in failed:
            if self.asked.get(tp.partition) == tp.offset:
                del self.asked[tp.partition]  # asked again by the next _commit
        if failed:
            log.warning("the broker did not take input offsets %s (%s): asked again after the next batch",
                        {tp.partition: tp.offset for tp in failed}, error or failed[0].error)

    def _commit_now(self, offsets: Mapping[int, int]) -> None:
        """Commits synchronously; a failure only means the next owner applies those inputs again (same ids and bytes)."""
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=self._partitions(offsets), asynchronous=False)
        except KafkaException as exc:
            log.warning("committing input offsets %s failed (%s): their next owner applies them again", dict(offsets), exc)

    def _partitions(self, offsets: Mapping[int, int]) -> list[TopicPartition]:
        return [TopicPartition(self.topic, p, offset) for p, offset in sorted(offsets.items())]

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {tp.partition for tp in partitions}
        self.revocations += 1
        self._commit_now({p: offset for p, offset in self.flushed.items() if p in revoked})
        for held in (self.flushed, self.asked):
            for partition in revoked & set(held):
                del held[partition]
        self.ended -= revoked
        self.held_back = [m for m in self.held_back if m.partition() not in revoked]
        self.pipeline.revoke(revoked)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        held = {tp.partition for tp in partitions}
        log.info("assigned input partitions %s", sorted(held))  # after every rebalance: which kernels this worker runs
        self.pipeline.assign(held)
        # librdkafka keeps a partition paused through a rebalance that gives it back (paused for a hold, or at its
        # end), and nothing would resume it: assigned here, so that the pause is what this worker wants now.
        consumer.assign(partitions)
        if self.paused_to_hold:
            consumer.pause(partitions)
        else:
            consumer.resume(partitions)


class CommitProbe:
    """Reads a group's committed offsets from the broker without joining the group."""

    def __init__(self, bootstrap_servers: str, group: str, topic: str) -> None:
        self.topic = topic
        self._consumer = Consumer({**client_config(bootstrap_servers), "group.id": group, "enable.auto.commit": False})

    def committed(self, partitions: Sequence[int]) -> dict[int, int]:
        """partition -> committed offset, -1 when the group has none."""
        found = self._consumer.committed([TopicPartition(self.topic, p) for p in partitions], timeout=30)
        return {tp.partition: tp.offset for tp in found}

    def close(self) -> None:
        self._consumer.close()


def end_offsets(bootstrap_servers: str, namespace: Namespace) -> dict[int, int]:
    with LogReader(bootstrap_servers) as reader:
        return {p: high for p, (_, high) in reader.watermarks(namespace.topic(INPUTS)).items()}


ProgressSink = Callable[[PipelineStats], None]


class HostBoot(BootStrategy):
    """Faust starts no Kafka client of its own: the kernel's consumer and producer are confluent-kafka's."""

    enable_kafka = False


class HostApp(faust.App):
    """The Faust app as the worker's process host: lifecycle, signals, logging and tasks, no streams."""

    BootStrategy = HostBoot


class LiveWorker:
    """A Faust worker hosting the kernel's input loop until stopped (or, with ``stop_at_end``, until done).

    The input's end offsets are read when the worker is made (or taken from
    the config's ``end_offsets``): ``stop_at_end`` stops there, and progress
    displays measure against them.
    """

    def __init__(
        self, config: PipelineConfig, loglevel: str = "info", progress_every_s: float = 0.5,
        loghandlers: list[logging.Handler] | None = None,
    ) -> None:
        self.config = config
        self.loglevel = loglevel
        self.loghandlers = loghandlers  # given: Faust logs through these (the process's format) instead of its own
        self.progress_every_s = progress_every_s
        self.pipeline = KernelPipeline(config)
        self.ends = (
            dict(config.end_offsets) if config.end_offsets is not None else end_offsets(config.bootstrap_servers, config.namespace)
        )
        self._progress: ProgressSink | None = None
        # One thread for every kernel step: batches, recoveries, commits and rebalances never overlap.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernel")

    def run(self, progress: ProgressSink | None = None) -> int:
        """Blocks until the worker stops; returns its exit code (0 when it stopped cleanly)."""
        self._progress = progress
        exit_code = 0
        with TemporaryDirectory(prefix="aitrader-faust-") as datadir:
            deadline = StopDeadline(STOP_DEADLINE_S, exit_overdue(STOP_DEADLINE_S))
            worker = DeadlineWorker(
                self._app(Path(datadir)), deadline=deadline, loglevel=self.loglevel, quiet=True, redirect_stdouts=False,
                loop=asyncio.new_event_loop(),
                logging_config=None if self.loghandlers is None else {"version": 1, "incremental": True},
            )
            worker.spinner = None  # it would write over the progress display
            try:
                worker.execute_from_commandline()
            except SystemExit as exc:
                exit_code = exc.code if isinstance(exc.code, int) else 1
            finally:
                self._executor.shutdown(wait=True)  # a batch still being applied finishes and flushes
                deadline.disarm()
        if progress is not None:
            progress(self.pipeline.stats)
        return exit_code

    def _app(self, datadir: Path) -> faust.App:
        config = self.config
        app = HostApp(
            f"{config.group}-host",  # named apart from the kernel's group, though Faust joins no group at all
            broker=f"kafka://{config.bootstrap_servers}",
            store="memory://",
            datadir=str(datadir),
            web_enabled=False,
            autodiscover=False,
            loghandlers=self.loghandlers,
        )
        app.task(self._consume)
        if self._progress is not None:
            app.task(self._report_progress)
        if config.stop_at_end:
            app.task(self._stop_at_end)
        if config.metrics is not None:
            app.task(self._report_lag)
        return app

    async def _consume(self) -> None:
        """Runs the kernel's input loop on the kernel thread; a failure there crashes the app, which stops the worker."""
        stopping = threading.Event()
        inputs = InputLoop(self.config, self.pipeline, stopping)
        step = asyncio.get_running_loop().run_in_executor(self._executor, inputs.run)
        try:
            await asyncio.shield(step)
        except asyncio.CancelledError:
            # Stopping (SIGTERM): the batch in hand finishes, flushes and is committed, then the consumer leaves the group.
            stopping.set()
            await step
            raise

    async def _report_progress(self, app: faust.App) -> None:
        while not app.should_stop and self._progress is not None:
            self._progress(self.pipeline.stats)
            await asyncio.sleep(self.progress_every_s)

    async def _report_lag(self, app: faust.App) -> None:
        """Sets the consumer-lag gauge: per input partition, its end offset minus the group's committed offset."""
        metrics = cast(ProcessMetrics, self.config.metrics)
        topic = self.config.namespace.topic(INPUTS)
        loop = asyncio.get_running_loop()
        probe = CommitProbe(self.config.bootstrap_servers, self.config.group, topic)
        reader = LogReader(self.config.bootstrap_servers)

        def lag() -> dict[int, int]:
            marks = reader.watermarks(topic)
            committed = probe.committed(sorted(marks))
            return {p: high - (committed[p] if committed.get(p, -1) >= 0 else low) for p, (low, high) in marks.items()}

        unknown = False
        try:
            while not app.should_stop:
                try:
                    metrics.set_lag(topic, await loop.run_in_executor(None, lag))
                except KafkaException as exc:
                    # A gauge never stops the worker: an exception here would crash the Faust app (and its
                    # shutdown can hang in a commit to a broker that is away). Keep the last figures, ask again.
                    if not unknown:
                        log.warning("consumer lag unknown, the broker did not answer (%s): asking every %.0f s", exc, LAG_EVERY_S)
                    unknown = True
                else:
                    if unknown:
                        log.info("consumer lag known again")
                    unknown = False
                await asyncio.sleep(LAG_EVERY_S)
        finally:
            probe.close()
            reader.close()

    async def _stop_at_end(self, app: faust.App) -> None:
        """Stops the worker once the group's committed offsets reach ``self.ends``.

        Committed offsets only move past flushed batches, so reaching the ends
        means every output is durable; the broker, not the worker's memory, is asked.
        """
        loop = asyncio.get_running_loop()
        probe = CommitProbe(self.config.bootstrap_servers, self.config.group, self.config.namespace.topic(INPUTS))
        try:
            while True:
                await asyncio.sleep(STOP_CHECK_S)
                if app.should_stop:
                    return
                committed = await loop.run_in_executor(None, probe.committed, sorted(self.ends))
                if all(committed.get(p, -1) >= end for p, end in self.ends.items() if end > 0):
                    break
        finally:
            probe.close()
        log.info("every input partition is processed and committed up to its end offset: stopping")
        os.kill(os.getpid(), signal.SIGTERM)  # the worker's own graceful stop path
