"""Every long-running process stops cleanly on SIGTERM: it finishes its batch, commits, and exits 0.

Each process runs as an operator runs it (a real subprocess on the real broker and
database), is sent SIGTERM while it is working, and must exit 0 within a bound; what
it committed must be consistent with what it wrote, and a restart must go on from
there without deriving anything twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from contract.topics import INPUTS, Namespace
from eventlog.sampledata import write_multi_symbol_day
from tests.integration.test_workers import SINCE, START_S, UNTIL, _assert_group_derived_what_the_kernel_derives, _settings
from tests.workers import ROOT, WorkerGroup, copies_on_log, ingest, pure_kernel, read_records

pytestmark = pytest.mark.infra

STOP_S = 60.0  # a batch being applied, the flush and the final commit, on two busy cores
RUN_S = 300.0


def _signalled(process: subprocess.Popen[bytes], log: Path) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"still running {STOP_S:.0f}s after SIGTERM\n{log.read_text(errors='replace')[-3000:]}") from None


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


def run_cli(args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``python -m aitrader ARGS`` as its own process, stdout and stderr into ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "aitrader", *args], cwd=ROOT, env={**os.environ, **(env or {})},
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
