"""SIGTERM while the broker is down: the projector, the notary and the monitor stop at once and exit 0.

Each waits between restarts after a broker failure; a stop asked during that wait must end it, not
wait it out. The outage is real: the processes are pointed at a closed port, nothing is mocked.
A long form (about 70 s: a failed attempt takes the clients' metadata timeouts first); the wait itself
is covered in the default run by tests/unit/test_retry_wait.py.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scratch import drop_with_companions, fresh_schema
from tests.workers import ROOT

RETRY_S = 120.0  # the wait after a failure; far longer than a process needs to exit, so the margin is generous
FAILED = re.compile(r"(broker|projector) failed")
STARTUP_S = 120.0  # a failed attempt takes the client's 30 s metadata timeout, on a loaded machine perhaps more


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    name = fresh_schema(database_url, "test")
    yield name
    drop_with_companions(database_url, name)


def _commands(schema: str, key_dir: Path) -> dict[str, list[str]]:
    space = ["--namespace", "test.outage."]  # never created: the broker is not there
    retry = ["--retry-after", str(RETRY_S)]
    return {
        "projector": ["projector", *space, "--schema", schema, "--no-migrate", *retry],
        "notary": ["notary", *space, "--key-dir", str(key_dir), *retry],
        "monitor": ["monitor", *space, *retry],
    }


def _wait_for_failure(name: str, log: Path, process: subprocess.Popen[bytes], deadline: float) -> None:
    while not FAILED.search(log.read_text(errors="replace")):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{name} did not report the broker failure (exit {process.poll()}):\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


@pytest.mark.long
def test_sigterm_during_a_broker_outage_ends_the_retry_wait_and_exits_0(database_url: str, schema: str, tmp_path: Path) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{_closed_port()}", "DATABASE_URL": database_url}
    started: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    try:
        for name, args in _commands(schema, tmp_path / "keys").items():
            log = tmp_path / f"{name}.log"
            with log.open("wb") as out:
                command = [sys.executable, "-m", "aitrader", "run", *args]
                started[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT), log
        deadline = time.monotonic() + STARTUP_S
        for name, (process, log) in started.items():
            _wait_for_failure(name, log, process, deadline)  # each is now in (or about to begin) its RETRY_S wait
        asked = time.monotonic()
        for process, _ in started.values():
            process.send_signal(signal.SIGTERM)
        codes = {}
        for name, (process, log) in started.items():
            try:
                codes[name] = process.wait(timeout=max(1.0, asked + RETRY_S / 2 - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[name] = None  # still waiting out its retry interval
        tails = {name: log.read_text(errors="replace")[-1500:] for name, (_, log) in started.items()}
        assert codes == dict.fromkeys(started, 0), f"exit codes {codes} (None: still running)\n{tails}"
        assert time.monotonic() - asked < RETRY_S / 2  # none waited out the interval (each returned as soon as asked)
    finally:
        for process, _ in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()
