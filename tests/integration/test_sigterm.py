"""Every long-running process stops cleanly on SIGTERM: it finishes its batch, commits, and exits 0.

Each process runs as an operator runs it (a real subprocess on the real broker and
database), is sent SIGTERM while it is working, and must exit 0 within a bound; what
it committed must be consistent with what it wrote, and a restart must go on from
there without deriving anything twice.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import pytest

from contract.events import Side
from contract.topics import FILLS, INPUTS, Namespace
from eventlog.producer import EventProducer
from eventlog.sampledata import write_multi_symbol_day
from tests.integration.test_monitor import _fill
from tests.integration.test_projections import applied, dump, log, reference, schema  # noqa: F401  (fixtures)
from tests.integration.test_workers import SINCE, START_S, UNTIL, _assert_group_derived_what_the_kernel_derives, _settings
from tests.seed import SeedReport, sample_ticks, seed
from tests.workers import ROOT, WorkerGroup, copies_on_log, ingest, pure_kernel, read_records

pytestmark = pytest.mark.infra

STOP_S = 60.0  # a batch being applied, the flush and the final commit, on two busy cores
RUN_S = 300.0


def _signalled(process: subprocess.Popen[bytes], output: Path) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"still running {STOP_S:.0f}s after SIGTERM\n{output.read_text(errors='replace')[-3000:]}") from None


def test_processors_stop_mid_run_on_sigterm_with_every_committed_input_derived(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    day = write_multi_symbol_day(tmp_path / "day", every=10, since=SINCE, until=UNTIL)
    ingest(kafka_bootstrap, namespace, day)
    with WorkerGroup(kafka_bootstrap, namespace, tmp_path / "logs", day.settings) as group:
        ends = group.ends()
        first = group.start(args=["--batch", "500"])
        deadline = time.monotonic() + START_S + RUN_S
        while True:  # working: some inputs committed, more still to come
            committed = group.committed()
            if any(offset > 0 for offset in committed.values()):
                break
            assert first.alive and time.monotonic() < deadline, group.tails()
            time.sleep(0.2)
        assert committed != ends, "the worker must be stopped mid-run"
        code = _signalled(first.process, first.log)
        assert code == 0, first.tail()
        at_stop = group.committed()
        assert at_stop != ends, f"the worker finished before SIGTERM reached it ({at_stop})\n{first.tail()}"

        # Every input the group committed has all its outputs on the log.
        expected = pure_kernel(read_records(kafka_bootstrap, namespace, INPUTS), _settings(day))
        on_log = copies_on_log(kafka_bootstrap, namespace)
        missing = [d for d in expected if d.input_offset < at_stop.get(d.input_partition, -1) and d.event_id not in on_log]
        assert not missing, f"{len(missing)} outputs of committed inputs are not on the log, first {missing[0]}"
        # What it flushed it also committed: no output on the log beyond the committed inputs.
        beyond = [d for d in expected if d.input_offset >= at_stop.get(d.input_partition, -1) and d.event_id in on_log]
        assert not beyond, f"{len(beyond)} outputs on the log of inputs not committed, first {beyond[0]}\n{first.tail()}"

        group.start()
        group.wait_until_committed(START_S + RUN_S)
        codes = group.stop()
    assert set(codes.values()) == {0}, group.tails()
    twice = {event_id: n for event_id, n in copies_on_log(kafka_bootstrap, namespace).items() if n > 1}
    assert not twice, f"{len(twice)} events derived more than once after the restart"
    _assert_group_derived_what_the_kernel_derives(group, _settings(day))


def run_cli(args: Sequence[str], output: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``python -m aitrader ARGS`` as its own process, stdout and stderr into ``output``."""
    with output.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "aitrader", *args], cwd=ROOT, env={**os.environ, **env},
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def _wait(process: subprocess.Popen[bytes], output: Path, working: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + RUN_S
    while not working():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{what}: not seen (exit {process.poll()})\n{output.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def test_the_projector_stops_between_batches_on_sigterm_and_a_restart_gives_the_clean_tables(
    kafka_bootstrap: str, database_url: str, log: tuple[Namespace, SeedReport], reference: tuple[str, dict],  # noqa: F811
    schema: str, tmp_path: Path,  # noqa: F811  (pytest fixtures, by name)
) -> None:
    space, _ = log
    total = applied(database_url, reference[0])
    args = ["run", "projector", "--namespace", space.prefix, "--schema", schema, "--batch-size", "500", "--no-migrate"]
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url}
    output = tmp_path / "projector.log"
    process = run_cli(args, output, env)
    _wait(process, output, lambda: applied(database_url, schema) > 0, "projected records")
    assert _signalled(process, output) == 0, output.read_text()
    assert 0 < applied(database_url, schema) < total, "stopped mid-run"
    again = run_cli([*args, "--stop-at-end"], output, env)
    assert again.wait(timeout=RUN_S) == 0, output.read_text()
    assert dump(database_url, schema) == reference[1]


def test_the_notary_stops_after_its_pass_on_sigterm_and_a_restart_resumes_from_its_checkpoints(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    seed(kafka_bootstrap, namespace, sample_ticks(step=200))
    keys, output = tmp_path / "keys", tmp_path / "notary.log"
    args = ["run", "notary", "--namespace", namespace.prefix, "--key-dir", str(keys), "--every", "50", "--poll", "0.1"]
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    process = run_cli(args, output, env)
    _wait(process, output, lambda: "sealed" in output.read_text(errors="replace"), "a sealed checkpoint")
    assert _signalled(process, output) == 0, output.read_text()
    again = run_cli([*args, "--once"], output, env)
    assert again.wait(timeout=RUN_S) == 0, output.read_text()
    verified = run_cli(["audit", "verify", "--topic", "inputs", "--namespace", namespace.prefix, "--key-dir", str(keys)],
                       tmp_path / "verify.log", env)
    assert verified.wait(timeout=RUN_S) == 0, (tmp_path / "verify.log").read_text()


def test_the_monitor_stops_on_sigterm_with_its_account_summary(kafka_bootstrap: str, namespace: Namespace, tmp_path: Path) -> None:
    producer = EventProducer(kafka_bootstrap, namespace)
    for fill in [_fill(1, "ES", Side.BUY, "1650"), _fill(2, "ES", Side.SELL, "1640")]:
        producer.send(FILLS, fill.symbol, fill)
    producer.flush()
    output = tmp_path / "monitor.log"
    process = run_cli(["run", "monitor", "--max-daily-loss", "400", "--namespace", namespace.prefix], output,
                      {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})
    _wait(process, output, lambda: "HALTED" in output.read_text(errors="replace"), "the breach acted on")
    assert _signalled(process, output) == 0, output.read_text()
    assert "account: exposure" in output.read_text()


def test_the_api_stops_on_sigterm(kafka_bootstrap: str, database_url: str, schema: str, tmp_path: Path) -> None:  # noqa: F811
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    output = tmp_path / "api.log"
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url,
           "AITRADER_CURSOR_KEY": secrets.token_hex(32)}
    process = run_cli(["run", "api", "--port", str(port), "--schema", schema], output, env)

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    _wait(process, output, healthy, "/health answering")
    assert _signalled(process, output) == 0, output.read_text()
