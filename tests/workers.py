"""Several live kernel workers sharing one consumer group, as an operator runs them: the multi-worker harness.

``WorkerGroup`` starts ``aitrader run processors`` subprocesses in one
namespace (so one group), each logging to its own file, optionally with a
fault from ``eventlog/faults.py``; it kills, adds and stops them, and
waits until the group's committed input offsets reach the inputs' end offsets,
which the broker, not any worker's memory, reports (``CommitProbe``).

The readers compare what a group derived with what the pure kernel derives:
per (derived topic, partition), the events' bytes in log order, the first copy
of each event id. Each derived partition is written by one kernel (symbols and
partition state are co-partitioned with ``inputs``), so that order is the
kernel's own, whichever workers ran it and however often they were killed.
Snapshots are left out, as the replay's comparison leaves them out
(``contract.topics.DERIVED``): they are where recovery starts, not decisions.

Shared by the integration tests and ``bench/workers.py``, so it raises plain
errors (with the tails of the workers' logs), never pytest's.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from contract.partitioner import partition_for
from contract.records import RawRecord, decode
from contract.serde import EventCodec
from contract.topics import DERIVED, INPUTS, Namespace, TopicSpec
from eventlog.consumer import LogReader
from eventlog.faults import ENVIRONMENT as FAULT_ENVIRONMENT
from eventlog.sampledata import WrittenDay
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.runner import KernelRunner
from kernel.settings import KernelSettings
from processors.live.app import CommitProbe, group_id

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.2
STOP_TIMEOUT_S = 30.0
CODEC = EventCodec()

# What the worker's log says (processors/live/app.py): the partitions it holds after each rebalance, each
# kernel it rebuilt, each held batch and each input it did not apply because its partition was revoked.
ASSIGNED = re.compile(r"assigned input partitions \[([\d, ]*)\]")
RECOVERED = re.compile(r"recovered partition (\d+): ")
BATCH_RANGE = re.compile(r"partition (\d+) offsets (\d+)-(\d+)")
SEVERE = re.compile(r" (ERROR|CRITICAL) |Crashed reason|^error: ")
CLIENT_CHATTER = re.compile(r" ERROR aiokafka|^%\d\|")  # a broker away: every client retries, loudly
ERRORS_SHOWN = 10

Outputs = dict[tuple[str, int], list[bytes]]
"""(logical derived topic, partition) -> event bytes, the first copy of each event id, in order."""


class WorkerError(RuntimeError):
    """A worker or the group did not do what was waited for; the message carries the logs' tails."""


@dataclass
class Worker:
    """One ``aitrader run processors`` subprocess and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 30) -> str:
        """The log's last lines, after the errors logged before them (a crash's reason is rarely among the last)."""
        text = self.text().splitlines()
        errors = list(dict.fromkeys(line for line in text[:-lines] if SEVERE.search(line) and not CLIENT_CHATTER.search(line)))
        earlier = ["(errors logged earlier:)", *errors[:ERRORS_SHOWN], "(last lines:)"] if errors else []
        return f"--- {self.name} ({self.log}):\n" + "\n".join([*earlier, *text[-lines:]])

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def assignments(self) -> list[set[int]]:
        """The input partitions it was given at each rebalance, in order."""
        return [{int(p) for p in found.split(",") if p.strip()} for found in ASSIGNED.findall(self.text())]

    def recovered(self, since: int = 0) -> list[int]:
        """The partitions whose kernel it rebuilt, in order; ``since``: from that character of its log on."""
        return [int(p) for p in RECOVERED.findall(self.text()[since:])]

    def wait_for(self, pattern: str, timeout: float, since: int = 0) -> re.Match[str]:
        """The first match of ``pattern`` in its log (from character ``since``), waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text()[since:])
            if found is not None:
                return found
            if not self.alive:
                raise WorkerError(f"{self.name} exited ({self.process.returncode}) before logging {pattern!r}\n{self.tail()}")
            if time.monotonic() > deadline:
                raise WorkerError(f"{self.name} did not log {pattern!r} within {timeout:.0f}s\n{self.tail()}")
            time.sleep(POLL_S)


@dataclass
class WorkerGroup:
    """Kernel workers of one namespace (one consumer group), started, killed and stopped on demand."""

    bootstrap: str
    namespace: Namespace
    logs: Path
    settings: Path | None = None
    workers: list[Worker] = field(default_factory=list)

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, fault: str | None = None, args: Sequence[str] = ()) -> Worker:
        """One more worker in the group; ``fault``: its ``AITRADER_FAULT``; ``args``: more command-line options."""
        name = f"worker-{len(self.workers) + 1}"
        command = [sys.executable, "-m", "aitrader", "run", "processors", "--namespace", self.namespace.prefix, *args]
        if self.settings is not None:
            command += ["--settings", str(self.settings)]
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap}
        env.pop(FAULT_ENVIRONMENT, None)
        if fault is not None:
            env[FAULT_ENVIRONMENT] = fault
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        worker = Worker(name, process, log)
        self.workers.append(worker)
        return worker

    @property
    def alive(self) -> list[Worker]:
        return [w for w in self.workers if w.alive]

    def kill(self, worker: Worker) -> int:
        """SIGKILLs a worker (no flush, no commit) and returns its exit status."""
        worker.process.send_signal(signal.SIGKILL)
        return worker.process.wait()

    def stop(self) -> dict[str, int]:
        """Stops every worker still running (SIGTERM, then SIGKILL after a while); every worker's exit status."""
        for worker in self.alive:
            worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in self.workers:
            try:
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill(worker)
        return {w.name: w.process.returncode for w in self.workers}

    def tails(self) -> str:
        return "\n".join(w.tail() for w in self.workers)

    def ends(self) -> dict[int, int]:
        """The input partitions' end offsets now."""
        return end_offsets(self.bootstrap, self.namespace, INPUTS)

    def committed(self) -> dict[int, int]:
        """The group's committed input offsets (-1: none), from the broker."""
        probe = CommitProbe(self.bootstrap, group_id(self.namespace), self.namespace.topic(INPUTS))
        try:
            return probe.committed(list(range(INPUTS.partitions)))
        finally:
            probe.close()

    def wait_until_committed(self, timeout: float) -> float:
        """Seconds until the group's committed offsets reached the inputs' end offsets (read once, now).

        Committed offsets only pass inputs whose outputs the broker has, so
        this is the moment everything is derived and durable.
        """
        started = time.monotonic()
        ends = self.ends()
        while True:
            committed = self.committed()
            if all(committed.get(p, -1) >= end for p, end in ends.items() if end > 0):
                return time.monotonic() - started
            if not self.alive:
                raise WorkerError(f"every worker exited before the group committed {ends} (at {committed})\n{self.tails()}")
            if time.monotonic() - started > timeout:
                raise WorkerError(f"the group did not commit {ends} within {timeout:.0f}s (at {committed})\n{self.tails()}")
            time.sleep(POLL_S)

    def wait_until_shared(self, timeout: float) -> dict[str, set[int]]:
        """Each running worker's input partitions, once all of them hold some and together hold each once.

        A worker logs its partitions after every rebalance; until the last
        rebalance reached everyone, some log still shows an older split that
        overlaps another's or leaves a worker without partitions.
        """
        deadline = time.monotonic() + timeout
        while True:
            latest = {w.name: (w.assignments() or [set()])[-1] for w in self.alive}
            held = [p for partitions in latest.values() for p in partitions]
            if all(latest.values()) and sorted(held) == list(range(INPUTS.partitions)):
                return latest
            if time.monotonic() > deadline:
                raise WorkerError(f"the workers did not settle on sharing the input partitions: {latest}\n{self.tails()}")
            time.sleep(POLL_S)


def end_offsets(bootstrap: str, namespace: Namespace, spec: TopicSpec) -> dict[int, int]:
    with LogReader(bootstrap) as reader:
        return {p: high for p, (_, high) in reader.watermarks(namespace.topic(spec)).items()}


def ingest(bootstrap: str, namespace: Namespace, day: WrittenDay, *options: str) -> str:
    """``aitrader ingest`` of a written multi-symbol day (with more ``options``), as an operator runs it; its output."""
    command = [sys.executable, "-m", "aitrader", "ingest", *day.ingest_args(), "--settings", str(day.settings),
               "--namespace", namespace.prefix, *options]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    done = subprocess.run(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise WorkerError(f"aitrader ingest failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def read_records(bootstrap: str, namespace: Namespace, spec: TopicSpec) -> list[RawRecord]:
    """Every record of a topic, partition after partition, each in offset order."""
    topic = namespace.topic(spec)
    with LogReader(bootstrap) as reader:
        return [record for batch in reader.read(topic, reader.watermarks(topic)) for record in batch]


def derived_on_log(bootstrap: str, namespace: Namespace, specs: Iterable[TopicSpec] = DERIVED) -> Outputs:
    """The derived topics as a group wrote them, deduplicated by event id (every copy of an id must be the same bytes)."""
    found: Outputs = {}
    for spec in specs:
        first: dict[tuple[int, str], bytes] = {}
        for record in read_records(bootstrap, namespace, spec):
            key = (record.partition, decode(CODEC, record).event_id)
            if first.setdefault(key, record.value) != record.value:  # type: ignore[arg-type]
                raise AssertionError(f"{spec.name}[{record.partition}]: event {key[1]} has two different encodings")
        for (partition, _), value in first.items():
            found.setdefault((spec.name, partition), []).append(value)
    return found


def copies_on_log(bootstrap: str, namespace: Namespace, specs: Iterable[TopicSpec] = DERIVED) -> dict[str, int]:
    """How many times each derived event id is on the log (a re-derived output is there more than once)."""
    counts: dict[str, int] = {}
    for spec in specs:
        for record in read_records(bootstrap, namespace, spec):
            event_id = decode(CODEC, record).event_id
            counts[event_id] = counts.get(event_id, 0) + 1
    return counts


@dataclass(frozen=True)
class Derivation:
    """One event the pure kernel derives: from which input, to which derived topic and partition."""

    input_partition: int
    input_offset: int
    topic: str
    partition: int
    event_id: str
    value: bytes


def pure_kernel(inputs: Iterable[RawRecord], settings: KernelSettings, specs: Iterable[TopicSpec] = DERIVED) -> list[Derivation]:
    """What ``TradingKernel`` derives from the input records, one kernel per input partition, in order."""
    names = {spec.name for spec in specs}
    runners: dict[int, KernelRunner] = {}
    derived = []
    for record in inputs:
        runner = runners.get(record.partition)
        if runner is None:
            kernel = TradingKernel(record.partition, settings, BaselineScorer())
            runner = runners[record.partition] = KernelRunner(kernel, CODEC)
        for routed in runner.apply(record):
            if routed.spec.name in names:
                partition = routed.partition if routed.partition is not None else partition_for(routed.key, routed.spec.partitions)
                derived.append(Derivation(record.partition, record.offset, routed.spec.name, partition,
                                          routed.event.event_id, CODEC.encode(routed.event)))
    return derived


def as_outputs(derived: Iterable[Derivation]) -> Outputs:
    """Derivations in the shape ``derived_on_log`` reads the log."""
    found: Outputs = {}
    for d in derived:
        found.setdefault((d.topic, d.partition), []).append(d.value)
    return found


def first_difference(got: Outputs, expected: Outputs) -> str:
    """The first (topic, partition) where two outputs differ, and how: for assertion messages."""
    for key in sorted(set(got) | set(expected)):
        a, b = got.get(key, []), expected.get(key, [])
        if a != b:
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            shown = [CODEC.decode(side[at]) if at < len(side) else None for side in (a, b)]
            return f"{key}: {len(a)} vs {len(b)} events, first difference at {at}:\n  log:    {shown[0]}\n  kernel: {shown[1]}"
    return "no difference"


def batch_ranges(line: str) -> dict[int, tuple[int, int]]:
    """partition -> (first, last) offset of a batch as a worker's log line describes it."""
    return {int(p): (int(low), int(high)) for p, low, high in BATCH_RANGE.findall(line)}


def killed_and_restored(
    bootstrap: str, namespace: Namespace, settings: Mapping[str, str], logs: Path, kill_after: int, timeout_s: float
) -> tuple[Worker, Outputs, Outputs]:
    """A worker killed between apply and flush after ``kill_after`` inputs, then one that finishes the input topic.

    Returns the survivor (its log says how it recovered), what the pair wrote on
    the derived topics, and what the pure kernel derives from the same inputs.
    """
    settings_file = logs / "settings.conf"
    logs.mkdir(parents=True, exist_ok=True)
    settings_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    with WorkerGroup(bootstrap, namespace, logs, settings_file) as group:
        doomed = group.start(fault=f"kill-after-apply:{kill_after}", args=["--batch", "1000"])
        if doomed.process.wait(timeout=timeout_s) != -signal.SIGKILL:
            raise WorkerError(f"{doomed.name} was not killed after {kill_after} inputs\n{group.tails()}")
        survivor = group.start()
        group.wait_until_committed(timeout_s)
        codes = group.stop()
    if codes[survivor.name] != 0:
        raise WorkerError(f"{survivor.name} exited with {codes[survivor.name]}\n{group.tails()}")
    expected = as_outputs(pure_kernel(read_records(bootstrap, namespace, INPUTS), KernelSettings.parse(dict(settings))))
    return survivor, derived_on_log(bootstrap, namespace), expected
