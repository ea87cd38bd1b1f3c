"""Broker and database fixtures live in tests/infra.py (env vars, else testcontainers, else the local stack)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from contract.topics import CATALOG, Namespace
from eventlog.admin import TopicAdmin

pytest_plugins = ["tests.infra"]


@pytest.fixture
def namespace(kafka_bootstrap: str) -> Iterator[Namespace]:
    """A private set of catalog topics for one test, deleted afterwards."""
    space = Namespace(f"test.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    yield space
    admin.delete(CATALOG)
