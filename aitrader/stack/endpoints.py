"""Where the rest of the project finds the broker and the database.

Environment variables win (CI, a shared broker, testcontainers; read in
``eventlog.endpoints``), otherwise the local stack's fixed addresses. This module
starts nothing: `aitrader stack up` (or the test fixtures) do that.
"""

from __future__ import annotations

from aitrader.stack.paths import LOCAL_HOST, kafka_port
from aitrader.stack.postgres import local_database_url
from eventlog.endpoints import database_from_env, kafka_from_env


def local_bootstrap(secure: bool = False) -> str:
    return f"{LOCAL_HOST}:{kafka_port(secure)}"


def endpoints() -> tuple[str, str]:
    """``(bootstrap_servers, database_url)``: env vars first, else the local stack."""
    return (
        kafka_from_env() or local_bootstrap(),
        database_from_env() or local_database_url(),
    )
