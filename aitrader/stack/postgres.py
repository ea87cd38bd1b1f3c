"""The local PostgreSQL: Debian's packaged cluster, driven with pg_ctlcluster.

We reuse Debian's cluster tooling rather than an initdb of our own: it is what
`apt-get install postgresql` sets up, it picks ports, sockets and pg_hba for us,
and its data survives `down`/`up` like the Kafka log does.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from aitrader.stack import apt
from aitrader.stack.paths import DB_NAME, DB_PASSWORD, DB_USER, LOCAL_HOST, StackError, StackPaths
from aitrader.stack.proc import Report, locked, quiet, run
from eventlog.endpoints import database_from_env, libpq_url

PG_ROOT = Path("/usr/lib/postgresql")
CLUSTER_NAME = "main"
CONNECT_TIMEOUT_S = 30.0
DEFAULT_PG_PORT = 5432


# ---------------------------------------------------------------- install


def installed_versions() -> list[str]:
    """Server major versions installed under /usr/lib/postgresql, oldest first."""
    if not PG_ROOT.is_dir():
        return []
    found = [d.name for d in PG_ROOT.iterdir() if (d / "bin" / "postgres").is_file()]
    return sorted(found, key=lambda v: float(v) if v.replace(".", "").isdigit() else 0.0)


def server_installed() -> bool:
    return bool(installed_versions()) and all(
        shutil.which(tool) for tool in ("pg_ctlcluster", "pg_lsclusters", "pg_createcluster", "psql")
    )


def install(report: Report = quiet) -> bool:
    """apt-get install postgresql unless the server is there. Returns True if it installed."""
    return apt.ensure(["postgresql"], "PostgreSQL", server_installed, "no server binaries were found under /usr/lib/postgresql", report)


# ---------------------------------------------------------------- cluster


@dataclass(frozen=True)
class Cluster:
    version: str
    name: str
    port: int
    status: str  # "online", "down", "online,recovery", ...

    @property
    def online(self) -> bool:
        return self.status.startswith("online")


def clusters() -> list[Cluster]:
    if not shutil.which("pg_lsclusters"):
        return []
    out = run(["pg_lsclusters", "--no-header"], what="pg_lsclusters", timeout=30)
    found = []
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 4 and cols[2].isdigit():
            found.append(Cluster(cols[0], cols[1], int(cols[2]), cols[3]))
    return found


def local_cluster() -> Cluster | None:
    """Our cluster: `main` of the newest installed major version."""
    versions = installed_versions()
    if not versions:
        return None
    return next((c for c in clusters() if c.version == versions[-1] and c.name == CLUSTER_NAME), None)


def detected_port() -> int | None:
    try:
        cluster = local_cluster()
    except StackError:
        return None
    return cluster.port if cluster else None


def local_database_url(port: int | None = None) -> str:
    """The local stack's URL; the port comes from the Debian cluster when known."""
    if port is None:
        port = detected_port() or DEFAULT_PG_PORT
    return f"postgresql+psycopg://{DB_USER}:{DB_PASSWORD}@{LOCAL_HOST}:{port}/{DB_NAME}"


def _ensure_cluster(paths: StackPaths, report: Report) -> Cluster:
    cluster = local_cluster()
    if cluster is None:
        version = installed_versions()[-1]
        report(f"Creating PostgreSQL {version} cluster '{CLUSTER_NAME}'")
        run(["pg_createcluster", version, CLUSTER_NAME], what="pg_createcluster", timeout=300)
        cluster = local_cluster()
        if cluster is None:
            raise StackError(f"pg_createcluster {version} {CLUSTER_NAME} ran but pg_lsclusters does not list it")
    if not cluster.online:
        report(f"Starting PostgreSQL {cluster.version}/{cluster.name} on port {cluster.port}")
        run(["pg_ctlcluster", cluster.version, cluster.name, "start"], what="pg_ctlcluster start", timeout=120)
        # Remember that we started it, so `down` stops this and nothing else.
        paths.home.mkdir(parents=True, exist_ok=True)
        paths.pg_marker.write_text(f"{cluster.version} {cluster.name}\n")
        cluster = local_cluster() or cluster
    return cluster


def _psql(cluster: Cluster, sql: str) -> str:
    """Run SQL as the postgres superuser over the Unix socket (peer auth)."""
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else ["sudo", "-n", "-u", "postgres"]
    return run(
        [*as_postgres, "psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
         "-p", str(cluster.port), "-d", "postgres", "-c", sql],
        what="psql as postgres",
        cwd="/",  # the postgres user cannot read root's cwd; psql warns otherwise
        timeout=60,
    ).strip()


def _ensure_role_and_db(cluster: Cluster) -> None:
    # ALTER on every run: a role left with another password would lock us out.
    _psql(
        cluster,
        f"DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{DB_USER}') THEN "
        f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'; "
        f"ELSE ALTER ROLE {DB_USER} WITH LOGIN PASSWORD '{DB_PASSWORD}'; END IF; END $$;",
    )
    # CREATE DATABASE cannot run inside DO/transactions: check, then create.
    if _psql(cluster, f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'") != "1":
        _psql(cluster, f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")


def connect_error(url: str, timeout: int = 3) -> str | None:
    """None if `SELECT 1` works at url, else the error text."""
    import psycopg  # here: endpoints() users should not pay for it

    try:
        with psycopg.connect(libpq_url(url), connect_timeout=timeout) as conn:
            conn.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def _wait_connect(url: str, timeout: float, report: Report) -> None:
    report("Waiting for PostgreSQL to accept connections")
    deadline = time.monotonic() + timeout
    error = connect_error(url)
    while error and time.monotonic() < deadline:
        time.sleep(0.5)
        error = connect_error(url)
    if error:
        raise StackError(f"PostgreSQL at {url} refused connections for {timeout:.0f} s: {error}")


# ---------------------------------------------------------------- public


def up(report: Report = quiet, timeout: float = CONNECT_TIMEOUT_S) -> str:
    """Make the project database answer and return its SQLAlchemy URL. Idempotent.

    With DATABASE_URL set, starts nothing and only checks that it answers.
    """
    external = database_from_env()
    if external:
        report("Checking DATABASE_URL")
        error = connect_error(external, timeout=10)
        if error:
            raise StackError(f"DATABASE_URL does not accept connections: {error}")
        return external
    paths = StackPaths.current()
    with locked(paths.lock_file):
        install(report)
        cluster = _ensure_cluster(paths, report)
        report("Ensuring role and database 'aitrader'")
        _ensure_role_and_db(cluster)
        url = local_database_url(cluster.port)
        _wait_connect(url, timeout, report)
    return url


def down(report: Report = quiet) -> bool:
    """Stop the cluster if `up` started it; data stays. Returns True if it stopped one."""
    if database_from_env():
        report("DATABASE_URL is set: not stopping an external database")
        return False
    paths = StackPaths.current()
    with locked(paths.lock_file):
        if not paths.pg_marker.is_file():
            return False
        version, name = (paths.pg_marker.read_text().split() + ["", ""])[:2]
        cluster = next((c for c in clusters() if (c.version, c.name) == (version, name)), None)
        if cluster and cluster.online:
            report(f"Stopping PostgreSQL {version}/{name}")
            run(["pg_ctlcluster", version, name, "stop"], what="pg_ctlcluster stop", timeout=120)
        paths.pg_marker.unlink(missing_ok=True)
        return bool(cluster and cluster.online)


def drop_database(report: Report = quiet) -> None:
    """Drop the project database (local cluster only); `up` recreates it empty."""
    if database_from_env():
        raise StackError("DATABASE_URL is set: refusing to drop a database this stack does not own")
    paths = StackPaths.current()
    with locked(paths.lock_file):
        cluster = local_cluster()
        if cluster is None:
            return  # never created: nothing to drop
        was_online = cluster.online
        if not was_online:
            run(["pg_ctlcluster", cluster.version, cluster.name, "start"], what="pg_ctlcluster start", timeout=120)
        report(f"Dropping database {DB_NAME}")
        _psql(cluster, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        if not was_online:
            run(["pg_ctlcluster", cluster.version, cluster.name, "stop"], what="pg_ctlcluster stop", timeout=120)


@dataclass(frozen=True)
class DbStatus:
    url: str
    external: bool
    cluster: Cluster | None
    error: str | None  # None: `SELECT 1` works

    @property
    def reachable(self) -> bool:
        return self.error is None


def status() -> DbStatus:
    external = database_from_env()
    if external:
        return DbStatus(external, True, None, connect_error(external))
    cluster = local_cluster() if server_installed() else None
    url = local_database_url(cluster.port if cluster else None)
    error = connect_error(url) if cluster and cluster.online else "cluster not running"
    return DbStatus(url, False, cluster, error)
