"""A private broker for the tests that restart one: the project's own stack code, another home and other ports.

The shared broker serves every engineer's tests at once and must never be
restarted by a test. ``PrivateBroker`` runs ``aitrader.stack.kafka`` (what
``aitrader stack up`` runs) in a subprocess whose environment points
``AITRADER_HOME`` at a scratch directory and ``AITRADER_KAFKA_PORT`` at free
ports, with no ``KAFKA_BOOTSTRAP_SERVERS``, so ``up`` and ``down`` can only
start and stop the broker of that home. The Kafka jars are linked from the
shared home's ``kafka/libs``, never fetched again.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from aitrader.stack.paths import LOCAL_HOST, StackPaths, stack_home
from tests.workers import ROOT

START_TIMEOUT_S = 180.0


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((LOCAL_HOST, port)) != 0


def free_port_pair(rng: random.Random) -> int:
    """A port whose next port up is free too (the KRaft controller listens there)."""
    for _ in range(100):
        port = rng.randrange(21_000, 29_000, 2)
        if _free(port) and _free(port + 1):
            return port
    raise RuntimeError("no free pair of ports in 21000-29000")


@dataclass(frozen=True)
class PrivateBroker:
    home: Path
    port: int

    @property
    def bootstrap(self) -> str:
        return f"{LOCAL_HOST}:{self.port}"

    @classmethod
    def make(cls, home: Path) -> PrivateBroker:
        shared = StackPaths(stack_home())
        if home.resolve() == shared.home.resolve():
            raise RuntimeError("a private broker needs its own home, never the shared stack's")
        libs = StackPaths(home).libs
        libs.parent.mkdir(parents=True, exist_ok=True)
        if not libs.exists():
            libs.symlink_to(shared.libs)
        return cls(home, free_port_pair(random.Random()))

    def _stack(self, call: str) -> str:
        env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "AITRADER_HOME", "AITRADER_KAFKA_PORT")}
        env.update(AITRADER_HOME=str(self.home), AITRADER_KAFKA_PORT=str(self.port))
        program = f"from aitrader.stack import kafka; print(kafka.{call})"
        done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=START_TIMEOUT_S + 60)
        if done.returncode != 0:
            raise RuntimeError(f"private broker {call} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout.strip()

    def up(self) -> None:
        answered = self._stack(f"up(timeout={START_TIMEOUT_S})")
        if answered != self.bootstrap:
            raise RuntimeError(f"the private broker answered on {answered}, not {self.bootstrap}")

    def down(self) -> None:
        """A controlled stop (SIGTERM), as ``aitrader stack down`` stops a broker; data stays."""
        self._stack("down()")
