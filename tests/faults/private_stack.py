"""A private broker and a private PostgreSQL for the tests that restart one: the stack's own code, other homes and ports.

The shared broker serves every engineer's tests at once and must never be
restarted by a test. ``PrivateBroker`` runs ``aitrader.stack.kafka`` (what
``aitrader stack up`` runs) in a subprocess whose environment points
``AITRADER_HOME`` at a scratch directory and ``AITRADER_KAFKA_PORT`` at free
ports, with no ``KAFKA_BOOTSTRAP_SERVERS``, so ``up`` and ``down`` can only
start and stop the broker of that home. The Kafka jars are linked from the
shared home's ``kafka/libs``, never fetched again.

``PrivatePostgres`` is a cluster of the server ``aitrader stack up`` installs
(``aitrader.stack.postgres``: the same binaries, the same role and database
made by the same code), but made with ``initdb`` in a directory of its own and
started with ``pg_ctl`` on a free port, never through Debian's cluster list,
so stopping it cannot touch the shared cluster. PostgreSQL refuses to run as
root: its directory belongs to the ``postgres`` user, outside pytest's
root-only temporary directories.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aitrader.stack import postgres
from aitrader.stack.paths import (
    DB_NAME,
    DB_PASSWORD,
    DB_USER,
    LOCAL_HOST,
    StackPaths,
    stack_home,
)
from aitrader.stack.proc import quiet, run
from tests.workers import ROOT

START_TIMEOUT_S = 180.0


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((LOCAL_HOST, port)) != 0


def free_port() -> int:
    """A port no one listens on now (the system picks it)."""
    with socket.socket() as probe:
        probe.bind((LOCAL_HOST, 0))
        return int(probe.getsockname()[1])


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


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else ["sudo", "-n", "-u", "postgres", *command]


@dataclass(frozen=True)
class PrivatePostgres:
    data: Path
    port: int
    version: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{DB_USER}:{DB_PASSWORD}@{LOCAL_HOST}:{self.port}/{DB_NAME}"

    @property
    def log(self) -> Path:
        return self.data.parent / "postgresql.log"

    @classmethod
    def make(cls) -> PrivatePostgres:
        """A new cluster, not started; ``remove`` deletes it."""
        versions = postgres.installed_versions()
        if not versions:
            raise RuntimeError("no PostgreSQL server installed (aitrader stack up installs one)")
        home = Path(tempfile.mkdtemp(prefix="aitrader-private-pg-"))
        shutil.chown(home, "postgres", "postgres")
        cluster = cls(home / "data", free_port_pair(random.Random()), versions[-1])
        run(_as_postgres(str(cluster._bin("initdb")), "-D", str(cluster.data), "--auth-local=peer", "--auth-host=scram-sha-256",
                         "-U", "postgres"), what="initdb", cwd="/", timeout=120)
        return cluster

    def _bin(self, tool: str) -> Path:
        return postgres.PG_ROOT / self.version / "bin" / tool

    def up(self) -> None:
        """Starts it and, the first time, makes the project's role and database as ``aitrader stack up`` does."""
        options = f"-p {self.port} -c listen_addresses={LOCAL_HOST}"
        run(_as_postgres(str(self._bin("pg_ctl")), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"),
            what="pg_ctl start", cwd="/", timeout=120)
        postgres._ensure_role_and_db(postgres.Cluster(self.version, "private", self.port, "online"))
        postgres._wait_connect(self.url, postgres.CONNECT_TIMEOUT_S, quiet)

    def down(self) -> None:
        """A fast shutdown, as ``pg_ctlcluster stop`` does: open sessions are cut, transactions in flight roll back."""
        run(_as_postgres(str(self._bin("pg_ctl")), "-D", str(self.data), "-m", "fast", "-w", "stop"),
            what="pg_ctl stop", cwd="/", timeout=120)

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.down()
        shutil.rmtree(self.data.parent)
