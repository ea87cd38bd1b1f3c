"""The live kernel pipeline (Faust worker) on a real broker against the pure kernel in this process.

The worker runs as a subprocess, exactly as an operator starts it. What it puts
on the derived topics, deduplicated by event id, must equal byte for byte what
``TradingKernel`` derives from the same input records here, also after the
worker was SIGKILLed mid-stream and restarted (recovery from snapshot + log).
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
)

from contract.events import Event, OrderFilled, RunManifestRecorded, Tick
from contract.records import RawRecord, decode
from contract.serde import EventCodec
from contract.topics import (
    DERIVED,
    FILLS,
    INPUTS,
    MANIFESTS,
    SIGNALS,
    SNAPSHOTS,
    Namespace,
    TopicSpec,
)
from eventlog.consumer import LogReader
from eventlog.ingest import publish, validate
from eventlog.producer import EventProducer
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.runner import KernelRunner
from kernel.settings import KernelSettings
from processors.live.app import CommitProbe, group_id
from processors.live.manifest import build_manifest

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "es_2013-09-01_03_ticks.csv.gz"
COMPARED: tuple[TopicSpec, ...] = (*DERIVED, SNAPSHOTS)
WORKER_TIMEOUT_S = 150
CODEC = EventCodec()


@dataclass(frozen=True)
class Derived:
    """One event the pure kernel derives, and the input offset it derives from."""

    input_offset: int
    topic: str
    event_id: str
    value: bytes


@dataclass(frozen=True)
class Slice:
    """Input records on the log, and what the pure kernel derives from them in this process."""

    inputs: list[RawRecord]
    derived: list[Derived]

    def expected(self, spec: TopicSpec) -> list[bytes]:
        return [d.value for d in self.derived if d.topic == spec.name]


def _ingest_slice(bootstrap: str, space: Namespace, rows: int, tmp_path: Path) -> Slice:
    """The first ``rows`` trades of the sample day, published as ticks and read back."""
    path = tmp_path / f"es_first_{rows}.csv"
    with gzip.open(SAMPLE, "rt") as lines, path.open("w") as out:
        for n, line in enumerate(lines):
            if n > rows:  # line 0 is the header
                break
            out.write(line)
    zone = ZoneInfo("America/Chicago")
    report = validate(path, "ES", "CME", zone, False, lambda _: None)
    publish(path, EventProducer(bootstrap, space), "ES", "CME", zone, report, None, lambda _: None)
    inputs = _log_records(bootstrap, space, (INPUTS,))[INPUTS.name]
    assert len(inputs) == rows
    return Slice(inputs, _pure_kernel(inputs))


def _pure_kernel(inputs: list[RawRecord]) -> list[Derived]:
    """What ``TradingKernel`` derives from the input records, in order."""
    runners: dict[int, KernelRunner] = {}
    derived = []
    for record in inputs:
        runner = runners.get(record.partition)
        if runner is None:
            kernel = TradingKernel(record.partition, KernelSettings.parse(), BaselineScorer())
            runner = runners[record.partition] = KernelRunner(kernel)
        for routed in runner.apply(record):
            derived.append(Derived(record.offset, routed.spec.name, routed.event.event_id, CODEC.encode(routed.event)))
    return derived


def _worker(bootstrap: str, space: Namespace, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "aitrader", "run", "processors", "--namespace", space.prefix, "--stop-at-end"]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def _run_to_end(bootstrap: str, space: Namespace, log: Path) -> None:
    worker = _worker(bootstrap, space, log)
    try:
        code = worker.wait(timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        pytest.fail(f"the worker did not reach the end in {WORKER_TIMEOUT_S}s:\n{_tail(log)}")
    assert code == 0, _tail(log)


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _read(reader: LogReader, topic: str) -> list[RawRecord]:
    return [record for batch in reader.read(topic, reader.watermarks(topic)) for record in batch]


def _log_records(bootstrap: str, space: Namespace, specs: tuple[TopicSpec, ...]) -> dict[str, list[RawRecord]]:
    with LogReader(bootstrap) as reader:
        return {spec.name: _read(reader, space.topic(spec)) for spec in specs}


def _deduplicated(records: list[RawRecord]) -> list[bytes]:
    """First copy of each event id, in log order; every copy of an id must be the same bytes."""
    first: dict[str, bytes] = {}
    for record in records:
        event_id = decode(CODEC, record).event_id
        assert first.setdefault(event_id, record.value) == record.value, f"{event_id} has two different encodings"  # type: ignore[arg-type]
    return list(first.values())


def _assert_pipeline_matches_pure_kernel(bootstrap: str, space: Namespace, ticks: Slice) -> dict[str, list[RawRecord]]:
    on_log = _log_records(bootstrap, space, COMPARED)
    # One symbol, so each derived topic uses one partition and the log order is the derivation order.
    for spec in COMPARED:
        got, expected = _deduplicated(on_log[spec.name]), ticks.expected(spec)
        assert got == expected, f"{spec.name}: the pipeline and the pure kernel disagree, {_first_difference(got, expected)}"
    return on_log


def _first_difference(got: list[bytes], expected: list[bytes]) -> str:
    at = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e), min(len(got), len(expected)))
    shown = [CODEC.decode(side[at]) if at < len(side) else None for side in (got, expected)]
    return f"{len(got)} vs {len(expected)} events, first difference at {at}:\n  pipeline: {shown[0]}\n  kernel:   {shown[1]}"


def _assert_fills_trace_back_to_ticks(on_log: dict[str, list[RawRecord]], inputs: list[RawRecord]) -> None:
    ticks = {e.event_id for e in (decode(CODEC, r) for r in inputs) if isinstance(e, Tick)}
    fills = [decode(CODEC, r) for r in on_log[FILLS.name]]
    assert fills and all(isinstance(f, OrderFilled) for f in fills)
    orphans = [f.event_id for f in fills if f.envelope.causation_id not in ticks]
    assert orphans == []


def _wait_for_records(bootstrap: str, topic: str, at_least: int, worker: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    with LogReader(bootstrap) as reader:
        while sum(high for _, high in reader.watermarks(topic).values()) < at_least:
            if worker.poll() is not None:
                pytest.fail(f"the worker exited ({worker.returncode}) before {topic} had {at_least} records:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"{topic} did not reach {at_least} records:\n{_tail(log)}")
            time.sleep(0.05)


def _assert_committed_inputs_have_durable_outputs(bootstrap: str, space: Namespace, ticks: Slice) -> int:
    """Right after a SIGKILL: every output of every input below the committed offset is on the log."""
    on_log = _log_records(bootstrap, space, COMPARED)
    committed = _committed(bootstrap, space, ticks.inputs[0].partition)
    assert committed > 0, "nothing was committed before the kill: kill later"
    durable = {decode(CODEC, r).event_id for spec in COMPARED for r in on_log[spec.name]}
    missing = [d.input_offset for d in ticks.derived if d.input_offset < committed and d.event_id not in durable]
    assert missing == [], f"inputs committed (< {committed}) whose outputs are not on the log: {missing[:5]}"
    return committed


def _committed(bootstrap: str, space: Namespace, partition: int) -> int:
    probe = CommitProbe(bootstrap, group_id(space), space.topic(INPUTS))
    try:
        return probe.committed([partition])[partition]
    finally:
        probe.close()


def test_the_pipeline_derives_what_the_pure_kernel_derives(kafka_bootstrap: str, namespace: Namespace, tmp_path: Path) -> None:
    ticks = _ingest_slice(kafka_bootstrap, namespace, 60_000, tmp_path)
    assert len(ticks.expected(FILLS)) >= 5, "the slice must trade"
    log = tmp_path / "worker.log"
    _run_to_end(kafka_bootstrap, namespace, log)

    on_log = _assert_pipeline_matches_pure_kernel(kafka_bootstrap, namespace, ticks)
    _assert_fills_trace_back_to_ticks(on_log, ticks.inputs)
    assert "processed 60,000 inputs" in log.read_text(), _tail(log)

    # The run manifest: derived id, event time from the log, never the wall clock.
    manifests = [decode(CODEC, r) for r in _log_records(kafka_bootstrap, namespace, (MANIFESTS,))[MANIFESTS.name]]
    assert len(manifests) == 1 and isinstance(manifests[0], RunManifestRecorded)
    assert manifests[0].event_time_ms == ticks.inputs[-1].timestamp_ms
    assert manifests[0] == build_manifest(KernelSettings.parse().values, BaselineScorer(), ticks.inputs[-1].timestamp_ms)

    # A second run finds everything committed: it derives nothing and records the same manifest again.
    _run_to_end(kafka_bootstrap, namespace, log)
    again = _log_records(kafka_bootstrap, namespace, (*COMPARED, MANIFESTS))
    assert {name: len(records) for name, records in again.items() if name != MANIFESTS.name} == {
        spec.name: len(on_log[spec.name]) for spec in COMPARED
    }
    assert [r.value for r in again[MANIFESTS.name]] == [r.value for r in again[MANIFESTS.name][:1]] * 2
    assert "processed 0 inputs" in log.read_text(), _tail(log)


def _event_id(record: RawRecord) -> str:
    event: Event = decode(CODEC, record)
    return event.event_id


def test_a_worker_killed_mid_stream_resumes_and_the_deduplicated_log_is_exact(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    ticks = _ingest_slice(kafka_bootstrap, namespace, 200_000, tmp_path)
    log = tmp_path / "worker.log"
    fills = namespace.topic(FILLS)
    committed_at_kills = []
    # First kill before the first snapshot (recovery from an empty kernel), second after it (from the snapshot).
    for fills_before_kill in (20, 70):
        worker = _worker(kafka_bootstrap, namespace, log)
        _wait_for_records(kafka_bootstrap, fills, fills_before_kill, worker, log)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        committed_at_kills.append(_assert_committed_inputs_have_durable_outputs(kafka_bootstrap, namespace, ticks))
    _run_to_end(kafka_bootstrap, namespace, log)

    text = log.read_text()
    assert "recovered partition" in text
    assert "snapshot after input 55798" in text, _tail(log)  # the session-start snapshot of 2013-09-03
    assert committed_at_kills[0] < committed_at_kills[1]

    on_log = _assert_pipeline_matches_pure_kernel(kafka_bootstrap, namespace, ticks)
    _assert_fills_trace_back_to_ticks(on_log, ticks.inputs)
    fill_events = [decode(CODEC, r) for r in on_log[FILLS.name]]
    unique = {f.event_id: f for f in fill_events}
    executions = {(f.order_id, f.fill_id) for f in unique.values() if isinstance(f, OrderFilled)}
    assert len(executions) == len(unique), "one execution recorded under two fill event ids"
    # Outputs flushed after the last commit before a kill are derived again on restart: the raw log
    # holds copies (same id, same bytes, checked by _deduplicated) and deduplication resolved them above.
    raw = sum(len(on_log[s.name]) for s in COMPARED)
    distinct = sum(len({_event_id(r) for r in on_log[s.name]}) for s in COMPARED)
    assert raw > distinct, "no output was re-emitted: the kills did not land between a flush and its commit"


def _set_topic_config(bootstrap: str, topic: str, name: str, value: str | None) -> None:
    operation = AlterConfigOpType.SET if value is not None else AlterConfigOpType.DELETE
    entry = ConfigEntry(name, value or "", incremental_operation=operation)
    client = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the futures resolve
    for future in client.incremental_alter_configs([ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])]).values():
        future.result()


def test_a_delivery_failure_stops_the_worker_before_the_batch_is_committed(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    ticks = _ingest_slice(kafka_bootstrap, namespace, 20_000, tmp_path)
    # The broker refuses every signal (a record batch cannot be this small): the flush raises DeliveryError.
    signals = namespace.topic(SIGNALS)
    _set_topic_config(kafka_bootstrap, signals, "max.message.bytes", "64")
    log = tmp_path / "worker.log"
    worker = _worker(kafka_bootstrap, namespace, log)
    code = worker.wait(timeout=WORKER_TIMEOUT_S)
    assert code != 0, _tail(log)
    assert "DeliveryError" in log.read_text()

    first_signal = next(d.input_offset for d in ticks.derived if d.topic == SIGNALS.name)
    committed = _committed(kafka_bootstrap, namespace, ticks.inputs[0].partition)
    assert committed <= first_signal, "an input was committed although its signal never reached the broker"

    # Once the broker takes signals again, a restart derives everything from the committed offset on.
    _set_topic_config(kafka_bootstrap, signals, "max.message.bytes", None)
    _run_to_end(kafka_bootstrap, namespace, log)
    _assert_pipeline_matches_pure_kernel(kafka_bootstrap, namespace, ticks)
