"""Pytest fixtures that hand tests a real Kafka-protocol broker and PostgreSQL.

Loaded by tests/conftest.py (``pytest_plugins = ["tests.infra"]``). Each
fixture picks the first source that works, in this order:

1. the environment: ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL``;
2. testcontainers (Redpanda / Postgres images), when a Docker engine answers;
3. the local stack (``aitrader stack up``, idempotent: reuses a running one).

Nothing is skipped: if no source works the test fails and says how to get one.
With containers, the env vars are exported for the session so that project
code calling ``aitrader.stack.endpoints()`` finds the same broker and database.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from aitrader.stack import kafka as local_kafka
from aitrader.stack import postgres as local_postgres
from aitrader.stack.paths import StackError
from eventlog.endpoints import (
    DATABASE_ENV,
    KAFKA_ENV,
    database_from_env,
    kafka_from_env,
)

# testcontainers' own default tag: the one its Redpanda start script is tested with.
REDPANDA_IMAGE = os.environ.get(
    "AITRADER_REDPANDA_IMAGE", "docker.redpanda.com/redpandadata/redpanda:v23.1.13"
)
POSTGRES_IMAGE = os.environ.get("AITRADER_POSTGRES_IMAGE", "postgres:16-alpine")

HOW_TO_GET_KAFKA = (
    "start the local stack with `aitrader stack install && aitrader stack up`, "
    f"or point {KAFKA_ENV} at a Kafka-protocol broker"
)
HOW_TO_GET_DB = (
    "start the local stack with `aitrader stack install && aitrader stack up`, "
    f"or point {DATABASE_ENV} at a PostgreSQL database"
)


@dataclass(frozen=True)
class Endpoint:
    """Where a service is, and where it came from: 'env', 'docker' or 'local'."""

    url: str
    source: str


@functools.cache
def docker_answers() -> bool:
    """True if a Docker engine answers within a few seconds (a client alone is not enough).

    AITRADER_TESTCONTAINERS=0 skips containers even when an engine is there.
    """
    if os.environ.get("AITRADER_TESTCONTAINERS", "1") == "0":
        return False
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        probe = subprocess.run(
            [docker, "info"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@contextmanager
def _exported(name: str, value: str) -> Iterator[None]:
    """Set an env var for the session (containers only), restoring it afterwards."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


@contextmanager
def _redpanda() -> Iterator[str]:
    try:
        from testcontainers.community.kafka import RedpandaContainer
    except ImportError:  # older testcontainers layout
        from testcontainers.kafka import RedpandaContainer

    container = RedpandaContainer(REDPANDA_IMAGE)
    container.start(timeout=120)
    try:
        # Match the local broker: Redpanda keeps 7 days by default, which would
        # delete our 2013-stamped records at once, and it auto-creates topics.
        for key, value in (("log_retention_ms", "-1"), ("auto_create_topics_enabled", "false")):
            code, out = container.exec(["rpk", "cluster", "config", "set", key, value])
            if code != 0:
                pytest.fail(f"rpk cluster config set {key} {value} failed: {out!r}", pytrace=False)
        yield container.get_bootstrap_server()
    finally:
        container.stop()


@contextmanager
def _postgres_container() -> Iterator[str]:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:
        from testcontainers.postgres import PostgresContainer

    with PostgresContainer(POSTGRES_IMAGE, username="aitrader", password="aitrader",
                           dbname="aitrader", driver="psycopg") as container:
        yield container.get_connection_url()


def _local_or_fail(up: Callable[[], str], problem: str, how: str) -> str:
    """Bring up a local-stack service, or fail the test with what went wrong and what to do."""
    try:
        return up()
    except StackError as exc:
        error = str(exc)
    pytest.fail(f"{problem}: {error}\nTo get one: {how}", pytrace=False)


@pytest.fixture(scope="session")
def kafka_endpoint() -> Iterator[Endpoint]:
    """The broker and its source; tests about the local stack itself check ``source``."""
    external = kafka_from_env()
    if external:
        if local_kafka.topic_count(external, timeout=10) is None:
            pytest.fail(f"{KAFKA_ENV}={external} does not answer metadata requests: {HOW_TO_GET_KAFKA}",
                        pytrace=False)
        yield Endpoint(external, "env")
    elif docker_answers():
        with _redpanda() as bootstrap, _exported(KAFKA_ENV, bootstrap):
            yield Endpoint(bootstrap, "docker")
    else:
        bootstrap = _local_or_fail(local_kafka.up, "no Kafka broker for the tests", HOW_TO_GET_KAFKA)
        # Left running on purpose: the stack is persistent and `up` is cheap to repeat.
        yield Endpoint(bootstrap, "local")


@pytest.fixture(scope="session")
def database_endpoint() -> Iterator[Endpoint]:
    """The database and its source, as a SQLAlchemy ``postgresql+psycopg://`` URL."""
    external = database_from_env()
    if external:
        error = local_postgres.connect_error(external, timeout=10)
        if error:
            pytest.fail(f"{DATABASE_ENV} does not accept connections ({error}): {HOW_TO_GET_DB}",
                        pytrace=False)
        yield Endpoint(external, "env")
    elif docker_answers():
        with _postgres_container() as url, _exported(DATABASE_ENV, url):
            yield Endpoint(url, "docker")
    else:
        url = _local_or_fail(local_postgres.up, "no PostgreSQL for the tests", HOW_TO_GET_DB)
        yield Endpoint(url, "local")


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_endpoint: Endpoint) -> str:
    """``bootstrap.servers`` of a broker that answers metadata."""
    return kafka_endpoint.url


@pytest.fixture(scope="session")
def database_url(database_endpoint: Endpoint) -> str:
    """SQLAlchemy URL (``postgresql+psycopg://``) of a database that accepts connections."""
    return database_endpoint.url
