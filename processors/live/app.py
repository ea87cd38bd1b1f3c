"""The live kernel: a Faust agent that drives one ``TradingKernel`` per input partition.

Per batch of input records (``noack_take``), in this order:

1. apply each record to its partition's kernel (``KernelRunner``) and queue the
   derived events on the kernel's idempotent confluent-kafka producer;
2. ``flush()``: wait until the broker has acknowledged every queued record;
3. only then ack the batch's Faust events, which is what lets Faust commit
   their offsets (it commits the highest contiguous acked offset + 1).

Steps 1 and 2 run in one dedicated worker thread (``run_in_executor``) so the
event loop keeps serving Faust's fetcher, heartbeats and commits while the
kernel computes and the producer waits for acks; a single thread also keeps
batches and kernel state strictly sequential. Batch composition cannot change
any output: the kernel applies inputs one by one.

``noack_take`` rather than ``take``: ``take`` acks a batch in its generator's
``finally``, which also runs when processing raised, and Faust commits acked
offsets on a task error. Here a failure (a ``DeliveryError`` from the flush, a
kernel bug) leaves the batch unacked and the ``CrashingSupervisor`` stops the
worker: the committed offset never passes an input whose outputs are not
durable. A restart rebuilds each kernel from the log (``recovery.py``) and
derives the lost outputs again, with the same ids and bytes.

Several workers share the input partitions through the consumer group.
Faust's consumer rebalances eagerly: every worker first gives up all its
partitions (``on_partitions_revoked``), then gets its new share
(``on_partitions_assigned``), and Faust seeks each assigned partition back to
the group's committed offset. A worker may hold input records when that
starts: the batch the kernel thread is applying, a batch taken from
``noack_take`` and waiting for that thread, a record parked in its buffer.
Faust clears its own queues on a revocation, and its streams skip records of
an older generation as they take them, but a taken batch and that buffer
escape both. Faust's ``stream_wait_empty`` would make the revocation wait
until they are acked; if that outlasts the rebalance timeout (60 s) the broker
evicts the worker, which then applies and produces them after their new owner
started on them, while the whole group stalled. So the worker does not wait
(``stream_wait_empty=False``) and fences them instead. The kernel thread keeps
the set of input partitions this worker holds; revocations and assignments
reach it through the same single-thread executor as batches, in order:

- a revocation waits for the batch being applied, which finishes and flushes
  (its outputs are durable before anyone else can own the partition); from
  then on records of revoked partitions are neither applied, nor produced,
  nor acked: the next owner (this worker too, after Faust's seek) reads them
  again from the committed offset;
- an assignment drops the kernels of the partitions not given back; a kernel
  kept through the rebalance goes on, since what comes back after the seek is
  at or below its last applied offset (skipped) or past a gap (rebuilt);
- Faust sends ``on_partitions_assigned`` before its recovery task seeks and
  resumes fetching, so the new share is in place before any record of the new
  generation reaches a batch.

No fence stops a worker evicted inside one batch that outlasts the rebalance
timeout: it finishes that batch. Its outputs carry the ids and bytes the new
owner derives, its commits are refused, and consumers deduplicate.

Faust is kept from touching the broker's topic layout: no topic declaration,
no leader topic, no tables (so no changelog or repartition topics); the
catalog's topics are created with their settings before the worker starts.

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
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, cast

import faust
import mode
from confluent_kafka import Consumer, KafkaException, TopicPartition

from contract.events import DeadLettered
from contract.records import RawRecord
from contract.topics import INPUTS, Namespace
from eventlog import faults
from eventlog.consumer import LogReader
from eventlog.kafka_security import KafkaSecurity, client_config
from eventlog.metrics import ProcessMetrics
from eventlog.producer import EventProducer
from inference.models import load_scorer
from inference.scorer import Scorer
from kernel.engine import TradingKernel
from kernel.runner import KernelRunner, Routed
from kernel.settings import KernelSettings
from marketdata.calendar import VenueCalendars
from processors.live.broker_auth import faust_credentials
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
BATCH_WITHIN_S = 0.05  # longest a lone live tick waits for company before it is processed
STOP_CHECK_S = 0.5
LAG_EVERY_S = 2.0  # how often the consumer-lag gauge asks the broker
# How long the broker waits for a silent worker before its partitions go to another
# (or to the same worker restarted): Faust's 60 s default stalls a restart after a crash.
SESSION_TIMEOUT_S = 10.0


def group_id(namespace: Namespace) -> str:
    """The consumer group (and Faust app id) of the kernel in a namespace."""
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


def raw_record(message: Any) -> RawRecord:
    """A Faust consumer message as the kernel's ``RawRecord`` (Faust keeps timestamps in float seconds)."""
    headers = message.headers or ()
    if isinstance(headers, Mapping):
        headers = headers.items()
    return RawRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=0 if message.timestamp is None else round(message.timestamp * 1000),
        key=message.key,
        value=message.value,
        headers=tuple((str(k), v) for k, v in headers),
    )


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
        partitions they belong to are returned: their inputs must not be acked.
        """
        fenced = {record.partition for record in records} - self.assigned
        if fenced:
            records = self._fence(records, fenced)
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
        self.producer.flush()  # raises DeliveryError: the batch stays unacked and the worker stops
        for record in records:
            self.stats.next_offsets[record.partition] = max(self.stats.next_offsets.get(record.partition, 0), record.offset + 1)
        self.stats.inputs += len(records)
        self.stats.batches += 1
        self.stats.last_flush_at = time.monotonic()
        if self.observer is not None:
            self.observer.flushed(observed, self.producer.take_acked(), time.perf_counter() - started)
        return fenced

    def _fence(self, records: Sequence[RawRecord], fenced: set[int]) -> list[RawRecord]:
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
            runner, recovery = recover_kernel(
                self.config.bootstrap_servers,
                self.config.namespace,
                record.partition,
                record.offset,
                self.config.settings,
                self.scorer,
                self.calendars,
                self.resolve,
            )
            log.info("recovered %s", recovery.describe(),
                     extra={"topic": record.topic, "partition": recovery.partition, "offset": recovery.next_offset})
            if self.config.after_recovery is not None:
                self.config.after_recovery(runner, recovery)
            self.stats.recoveries.append(recovery)
            self.runners[record.partition] = runner
        return runner

    def revoke(self, partitions: set[int]) -> None:
        """A rebalance begins: records of these partitions are fenced until they are assigned again."""
        self.assigned -= partitions

    def assign(self, partitions: set[int]) -> None:
        """A rebalance ended with these partitions; kernels of the others are dropped (rebuilt from the log if they return)."""
        self.assigned = set(partitions)
        for partition in set(self.runners) - self.assigned:
            del self.runners[partition]


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


class LiveWorker:
    """A Faust worker running the kernel agent until stopped (or, with ``stop_at_end``, until done).

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
        # One thread for every kernel step: batches, recoveries and revocations never overlap.
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
        app = faust.App(
            config.group,
            broker=f"kafka://{config.bootstrap_servers}",
            broker_credentials=faust_credentials(KafkaSecurity.from_env()),
            value_serializer="raw",
            key_serializer="raw",
            # The catalog owns the topics: Faust declares none, elects no leader, keeps no tables.
            topic_allow_declare=False,
            topic_disable_leader=True,
            store="memory://",
            datadir=str(datadir),
            web_enabled=False,
            autodiscover=False,
            loghandlers=self.loghandlers,
            consumer_auto_offset_reset="earliest",
            broker_session_timeout=config.session_timeout_s,
            # An agent failure stops the worker instead of restarting the agent past unacked inputs.
            agent_supervisor=mode.CrashingSupervisor,
            # Records in hand at a revocation are fenced, not waited for (module docstring); a bounded run
            # also leaves the records past its ends unacknowledged on purpose.
            stream_wait_empty=False,
        )
        inputs = app.topic(config.namespace.topic(INPUTS), value_type=bytes, key_type=bytes, internal=False)
        executor, pipeline = self._executor, self.pipeline

        async def kernel(stream: faust.StreamT) -> None:
            batches = cast(faust.Stream, stream).noack_take(config.batch_max, within=config.batch_within_s)
            async for events in batches:
                step = asyncio.ensure_future(apply_and_ack(stream, events))
                try:
                    await asyncio.shield(step)
                except asyncio.CancelledError:
                    # Stopping (SIGTERM): Faust cancels the agent, then the consumer commits what was acked. The
                    # batch in hand finishes, flushes and is acked first, so its outputs never outlive its offsets.
                    await step
                    raise

        async def apply_and_ack(stream: faust.StreamT, events: list[Any]) -> None:
            loop = asyncio.get_running_loop()
            records = [raw_record(event.message) for event in events]
            due = [config.due(r.partition, r.offset) for r in records]
            if not all(due):
                # A partition reached its end offset: stop fetching it; what was fetched past it stays unacked.
                app.consumer.pause_partitions({e.message.tp for e, d in zip(events, due) if not d})
                records = [r for r, d in zip(records, due) if d]
            fenced: set[int] = set()
            if records:
                if pipeline.fault is not None:
                    await pipeline.fault.at_async(faults.BEFORE_APPLY, pipeline.stats.inputs, lambda: describe_batch(records))
                fenced = await loop.run_in_executor(executor, pipeline.process, records)
            # Flushed: only now may Faust commit these offsets. Inputs of revoked partitions were not applied.
            for event, applied in zip(events, due):
                if applied and event.message.partition not in fenced:
                    await stream.ack(event)

        app.agent(inputs, name="kernel", concurrency=1)(kernel)

        def input_partitions(tps: set[Any]) -> set[int]:
            return {tp.partition for tp in tps if tp.topic == inputs.get_topic_name()}

        @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode types receivers as taking *args
        async def on_revoked(_app: faust.App, revoked: set[Any], **_: Any) -> None:
            # Queued behind the batch being applied, which finishes and flushes first; later batches are fenced.
            await asyncio.get_running_loop().run_in_executor(executor, pipeline.revoke, input_partitions(revoked))

        @app.on_partitions_assigned.connect  # type: ignore[arg-type]
        async def on_assigned(_app: faust.App, assigned: set[Any], **_: Any) -> None:
            held = input_partitions(assigned)
            log.info("assigned input partitions %s", sorted(held))  # after every rebalance: which kernels this worker runs
            await asyncio.get_running_loop().run_in_executor(executor, pipeline.assign, held)

        if self._progress is not None:
            app.task(self._report_progress)
        if config.stop_at_end:
            app.task(self._stop_at_end)
        if config.metrics is not None:
            app.task(self._report_lag)
        return app

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
        means every output is durable; the broker, not Faust's memory, is asked.
        """
        loop = asyncio.get_running_loop()
        probe = CommitProbe(self.config.bootstrap_servers, self.config.group, self.config.namespace.topic(INPUTS))
        try:
            while True:
                await asyncio.sleep(STOP_CHECK_S)
                if app.should_stop:
                    return
                await app.consumer.commit()  # a no-op until something new is acked
                committed = await loop.run_in_executor(None, probe.committed, sorted(self.ends))
                if all(committed.get(p, -1) >= end for p, end in self.ends.items() if end > 0):
                    break
        finally:
            probe.close()
        log.info("every input partition is processed and committed up to its end offset: stopping")
        os.kill(os.getpid(), signal.SIGTERM)  # the worker's own graceful stop path
