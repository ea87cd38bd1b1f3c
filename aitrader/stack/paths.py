"""Where the local stack lives: one persistent home directory, fixed ports.

Everything `aitrader stack` creates sits under ``$AITRADER_HOME`` (default
``~/.aitrader``) so that ``down``/``up`` keep the event log, and ``reset`` has a
single place to wipe. PostgreSQL is the exception: its cluster is Debian's
(``pg_ctlcluster``), which owns its own data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Keep in sync with <kafka.version> in deploy/local/pom.xml.
KAFKA_VERSION = "3.9.2"
KAFKA_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"
# kafka_2.13 brings no logging binding: without these the broker logs nothing.
LOGGING_JARS = ("slf4j-reload4j-1.7.36.jar", "reload4j-1.2.25.jar")

# Not Kafka's 9092: a dev machine often has another broker there already.
DEFAULT_KAFKA_PORT = 19092
# The SCRAM-secured broker (`stack up --secure`) beside the open one: its own ports and data.
DEFAULT_SECURE_KAFKA_PORT = 19094
LOCAL_HOST = "127.0.0.1"

DB_NAME = "aitrader"
DB_USER = "aitrader"
DB_PASSWORD = "aitrader"

# deploy/local holds the pom (jar list) and log4j config; found relative to
# this file, so the package must run from a source checkout (pip install -e).
REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy" / "local"


class StackError(RuntimeError):
    """A stack operation failed; the message says what to do about it."""


def stack_home() -> Path:
    """The persistent state directory: $AITRADER_HOME or ~/.aitrader."""
    raw = os.environ.get("AITRADER_HOME", "").strip()
    return Path(raw).expanduser().resolve() if raw else Path.home() / ".aitrader"


def kafka_port(secure: bool = False) -> int:
    """Broker port; the KRaft controller listens on the next port up (the secured broker's admin listener on the one after)."""
    name, default = ("AITRADER_KAFKA_SECURE_PORT", DEFAULT_SECURE_KAFKA_PORT) if secure else ("AITRADER_KAFKA_PORT", DEFAULT_KAFKA_PORT)
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a port number") from None
    if not 1024 <= port <= 65533:
        raise StackError(f"{name}={port} must be in 1024..65533")
    return port


def controller_port(secure: bool = False) -> int:
    return kafka_port(secure) + 1


def broker_ports(secure: bool = False) -> tuple[int, ...]:
    """Every port the broker listens on: clients, controller, and for the secured one its internal listener."""
    port = kafka_port(secure)
    return (port, port + 1, port + 2) if secure else (port, port + 1)


@dataclass(frozen=True)
class StackPaths:
    """Every file the local stack reads or writes, derived from one home dir."""

    home: Path
    secure: bool = False  # the SCRAM-secured broker's files: beside the open one's, sharing only the jars

    @classmethod
    def current(cls, secure: bool = False) -> StackPaths:
        return cls(stack_home(), secure)

    @property
    def kafka_dir(self) -> Path:
        return self.home / ("kafka-secure" if self.secure else "kafka")

    @property
    def libs(self) -> Path:
        return self.home / "kafka" / "libs"

    @property
    def secrets(self) -> Path:
        """The secured broker's passwords, one ``<principal>.password`` file each (mode 0600)."""
        return self.kafka_dir / "secrets"

    @property
    def data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def meta_properties(self) -> Path:
        # Written by StorageTool format; its absence means "never formatted".
        return self.data / "meta.properties"

    @property
    def server_properties(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def cluster_id_file(self) -> Path:
        return self.kafka_dir / "cluster.id"

    @property
    def pid_file(self) -> Path:
        return self.kafka_dir / "kafka.pid"

    @property
    def lock_file(self) -> Path:
        return self.home / ".lock"

    @property
    def logs(self) -> Path:
        return self.home / ("logs-secure" if self.secure else "logs")

    @property
    def kafka_out(self) -> Path:
        """The broker JVM's stdout/stderr (crashes before log4j is up land here)."""
        return self.logs / "kafka.out"

    @property
    def server_log(self) -> Path:
        return self.logs / "server.log"

    @property
    def pg_marker(self) -> Path:
        """Exists while a Postgres cluster started by `up` runs: `down` stops only that."""
        return self.home / "postgres.started"

    @property
    def pom(self) -> Path:
        return DEPLOY_DIR / "pom.xml"

    @property
    def log4j(self) -> Path:
        return DEPLOY_DIR / "log4j.properties"
