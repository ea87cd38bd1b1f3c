"""A projected world the API's hardening, hostile-input and schemathesis tests share.

One session-scoped log and schema (a thin slice of the sample days: some rows in
every read model) with one key per role, built only when a test asks for it.
The tests that change what they read (insert rows, revoke keys) make their own
schema instead.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from api import keys
from contract.topics import CATALOG, Namespace
from eventlog.admin import TopicAdmin
from projections.db import auth_schema, connect
from projections.projector import Projector
from tests.scratch import drop_with_companions, fresh_schema
from tests.seed import sample_ticks, seed

WORLD_STEP = 100  # every hundredth trade: about 40 orders, 50 fills, 1,200 bars over both days
ROLES = ("analyst", "auditor", "ops")


@dataclass(frozen=True)
class World:
    bootstrap: str
    database_url: str
    namespace: Namespace
    schema: str
    keys: dict[str, str]  # role -> key

    def settings(self, **overrides: Any) -> Any:
        """API settings over this world (or ``schema=`` another); rate limits lifted unless a test sets them."""
        from api.settings import ApiSettings

        base = {
            "database_url": self.database_url, "schema": self.schema, "bootstrap": self.bootstrap,
            "namespace": self.namespace, "rate_per_s": 10_000, "max_lag": 10**9,
            "auth_failures_per_s": 10_000, "auth_failure_burst": 10_000,
        }
        return ApiSettings(**{**base, **overrides})

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with connect(self.database_url, self.schema) as conn:
            return conn.execute(query, args).fetchall()


def role_keys(database_url: str, schema: str) -> dict[str, str]:
    with connect(database_url, auth_schema(schema)) as conn:
        return {role: keys.create(conn, f"test {role}", role)[1] for role in ROLES}


@pytest.fixture(scope="session")
def world(kafka_bootstrap: str, database_url: str) -> Iterator[World]:
    space = Namespace(f"test.world.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    schema = fresh_schema(database_url, "test")
    try:
        seed(kafka_bootstrap, space, sample_ticks(step=WORLD_STEP))
        Projector(kafka_bootstrap, database_url, schema, space).run(stop_at_end=True)
        yield World(kafka_bootstrap, database_url, space, schema, role_keys(database_url, schema))
    finally:
        admin.delete(CATALOG)
        drop_with_companions(database_url, schema)


@pytest.fixture
def own_keys(database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh schema with a key per role, for tests that revoke keys (the world's must stay valid)."""
    schema = fresh_schema(database_url, "test")
    try:
        yield schema, role_keys(database_url, schema)
    finally:
        drop_with_companions(database_url, schema)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def served(app: Any) -> Iterator[int]:
    """``app`` behind a real uvicorn on a free loopback port (for real WebSocket clients); yields the port."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
