"""Where the rest of the project finds the broker and the database.

Environment variables win (CI, a shared broker, testcontainers; read in
``kernel.endpoints``), otherwise the local stack's fixed addresses. This module
starts nothing: `aitrader stack up` (or the test fixtures) do that.
"""

from __future__ import annotations

from aitrader.stack.paths import DB_NAME, DB_PASSWORD, DB_USER, LOCAL_HOST, kafka_port
from kernel.endpoints import database_from_env, kafka_from_env

DEFAULT_PG_PORT = 5432


def local_bootstrap(secure: bool = False) -> str:
    return f"{LOCAL_HOST}:{kafka_port(secure)}"


def local_database_url(port: int | None = None) -> str:
    """The local stack's URL; the port comes from the Debian cluster when known."""
    if port is None:
        # Imported here: postgres.py imports this module.
        from aitrader.stack.postgres import detected_port

        port = detected_port() or DEFAULT_PG_PORT
    return f"postgresql+psycopg://{DB_USER}:{DB_PASSWORD}@{LOCAL_HOST}:{port}/{DB_NAME}"


def endpoints() -> tuple[str, str]:
    """``(bootstrap_servers, database_url)``: env vars first, else the local stack."""
    return (
        kafka_from_env() or local_bootstrap(),
        database_from_env() or local_database_url(),
    )
