"""The chaos harness: every long-running process of a namespace, each SIGKILLed at seeded points and restarted.

One ``Chaos`` runs the live worker, the projector, the notary and the account
monitor as ``aitrader run ...`` subprocesses over one namespace, each life
logging to its own file. Each kind gets a seeded plan of kills: a fault point of
that process (``eventlog/faults.py``) and how much work it does first. A kill
lands where the process's own code says it is in flight (a batch applied and
not flushed, rows written and not committed, a checkpoint signed and not
produced, a fill folded and not acted on), never where timing luck puts it.
The supervisor restarts each killed process with the next fault of its plan,
or none once the plan is spent, and fails on any exit that is not that kill.

Why the plans always fire: a life killed at work count N made at most N (plus
one batch) units durable, because the kill lands before the batch that crossed
N is committed, so with every N at most ``W / (kills + 2)`` of the work ``W``
the run is known to hold, each life still finds more than N units to do.
The account monitor refolds every fill at each start, so any N up to the fills
the run makes fires.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaException

from contract.topics import Namespace
from eventlog import faults
from eventlog.faults import ENVIRONMENT as FAULT_ENVIRONMENT
from tests.workers import ROOT, Worker, WorkerError, WorkerGroup

POLL_S = 0.2
STOP_TIMEOUT_S = 30.0
SEED_ENVIRONMENT = "AITRADER_CHAOS_SEED"
KILLED = "SIGKILL after"


def chaos_seed(environ: Mapping[str, str] = os.environ) -> int:
    """The run's seed: ``AITRADER_CHAOS_SEED`` when set, else a fresh one (printed by the caller, so a failure replays)."""
    text = environ.get(SEED_ENVIRONMENT, "")
    return int(text) if text else random.SystemRandom().randrange(1 << 32)


@dataclass(frozen=True)
class Kind:
    """A long-running process: its ``aitrader`` arguments, its fault points and the work ``W`` a run holds for it."""

    name: str
    args: tuple[str, ...]
    points: tuple[str, ...]
    work: int
    durable_slack: int = 0  # units one life may make durable beyond N (a batch taken before the point counts)


@dataclass(frozen=True)
class Kill:
    kind: str
    life: int
    fault: str
    line: str  # the fault's own log line: where it landed and on what


def plan(rng: random.Random, kind: Kind, kills: int) -> list[str]:
    """``kills`` faults for one kind: a point and an N each, every N small enough to be reached (module docstring)."""
    ceiling = max(1, (kind.work - kills * kind.durable_slack) // (kills + 2))
    return [f"kill-{rng.choice(kind.points)}:{rng.randint(1, ceiling)}" for _ in range(kills)]


@dataclass
class Chaos:
    """Runs each kind through its kill plan; ``kills`` records every kill the processes reported."""

    env: dict[str, str]
    logs: Path
    plans: dict[str, list[str]]
    kinds: dict[str, Kind] = field(default_factory=dict)
    lives: dict[str, list[Worker]] = field(default_factory=dict)
    armed: dict[str, str | None] = field(default_factory=dict)  # kind -> the kill its running life carries
    kills: list[Kill] = field(default_factory=list)
    stopped: set[str] = field(default_factory=set)  # kinds stopped on purpose, no longer supervised

    def start(self, kind: Kind) -> Worker:
        self.kinds[kind.name] = kind
        lives = self.lives.setdefault(kind.name, [])
        pending = self.plans.get(kind.name, [])
        fault = pending.pop(0) if pending else None
        self.armed[kind.name] = fault if fault is not None and fault.startswith(f"{faults.KILL}-") else None  # a hold ends no life
        env = {k: v for k, v in self.env.items() if k != FAULT_ENVIRONMENT}
        if fault is not None:
            env[FAULT_ENVIRONMENT] = fault
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{kind.name}-{len(lives) + 1}.log"
        command = [sys.executable, "-m", "aitrader", *kind.args]
        with log.open("ab") as out:
            out.write(f"$ {FAULT_ENVIRONMENT}={fault or ''} {' '.join(command)}\n".encode())
            out.flush()
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        worker = Worker(f"{kind.name}-{len(lives) + 1}", process, log)
        lives.append(worker)
        return worker

    def current(self, name: str) -> Worker:
        return self.lives[name][-1]

    def tails(self) -> str:
        return "\n".join(lives[-1].tail() for lives in self.lives.values())

    def supervise(self, until: Callable[[], bool], timeout: float) -> None:
        """Restarts every killed process until every plan is spent and ``until()`` holds; any other exit fails."""
        deadline = time.monotonic() + timeout
        while True:
            for name, lives in self.lives.items():
                if name in self.stopped:
                    continue
                worker = lives[-1]
                code = worker.process.poll()
                if code is None:
                    continue
                text = worker.text()
                if code != -signal.SIGKILL or KILLED not in text:
                    raise WorkerError(f"{worker.name} exited with {code}, not by its fault\n{worker.tail(60)}")
                line = next(x for x in text.splitlines() if KILLED in x)
                self.kills.append(Kill(name, len(lives), self.armed[name] or "", line[line.index("fault "):]))
                self.start(self.kinds[name])
            if not any(self.plans.values()) and not any(self.armed.values()) and until():
                return
            if time.monotonic() > deadline:
                pending = {n: p for n, p in self.plans.items() if p}
                armed = {n: f for n, f in self.armed.items() if f}
                raise WorkerError(f"chaos did not finish within {timeout:.0f}s: plans pending {pending}, faults armed {armed}\n"
                                  f"{self.tails()}")
            time.sleep(POLL_S)

    def stop(self, name: str) -> int:
        """SIGTERM to the running life of ``name`` (SIGKILL after a while); its exit status."""
        self.stopped.add(name)
        worker = self.current(name)
        if worker.alive:
            worker.process.send_signal(signal.SIGTERM)
        try:
            return worker.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            return worker.process.wait()

    def stop_all(self) -> None:
        for name in self.lives:
            self.stop(name)

    def finish(self, name: str, args: Sequence[str]) -> str:
        """One last life of ``name`` that runs to the end of its work and exits (``--stop-at-end``, ``--once``); its output."""
        done = subprocess.run([sys.executable, "-m", "aitrader", *args], cwd=ROOT, env={**self.env},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise WorkerError(f"the last {name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout + done.stderr


def committed_to_end(bootstrap: str, namespace: Namespace) -> bool:
    """Whether the kernel group's committed input offsets reached the inputs' end offsets now."""
    group = WorkerGroup(bootstrap, namespace, Path())
    try:
        ends, committed = group.ends(), group.committed()
    except KafkaException:  # a broker just restarted is still loading the group: ask again
        return False
    return all(committed.get(p, -1) >= end for p, end in ends.items() if end > 0)


# The fault points of each long-running process (eventlog/faults.py).
WORKER_POINTS = (faults.BEFORE_APPLY, faults.AFTER_APPLY)
PROJECTOR_POINTS = (faults.BEFORE_COMMIT,)
NOTARY_POINTS = (faults.BEFORE_SEAL,)
MONITOR_POINTS = (faults.MID_FOLD,)
API_POINTS = (faults.MID_EXPORT,)  # reached only while a client downloads an export
