"""Where the rest of the project finds the broker and the database.

Environment variables win (CI, a shared broker, testcontainers), otherwise the
local stack's fixed addresses. This module starts nothing: `aitrader stack up`
(or the test fixtures) do that.
"""

from __future__ import annotations

import os

from aitrader.stack.paths import DB_NAME, DB_PASSWORD, DB_USER, LOCAL_HOST, kafka_port

KAFKA_ENV = "KAFKA_BOOTSTRAP_SERVERS"
DATABASE_ENV = "DATABASE_URL"
DEFAULT_PG_PORT = 5432


def sqlalchemy_url(url: str) -> str:
    """Normalise a Postgres URL to SQLAlchemy + psycopg 3.

    A bare ``postgresql://`` makes SQLAlchemy pick psycopg2, which this project
    does not install.
    """
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def libpq_url(url: str) -> str:
    """The same URL in the form psycopg/libpq accept (no ``+driver``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    return scheme.split("+", 1)[0] + "://" + rest


def local_bootstrap() -> str:
    return f"{LOCAL_HOST}:{kafka_port()}"


def local_database_url(port: int | None = None) -> str:
    """The local stack's URL; the port comes from the Debian cluster when known."""
    if port is None:
        # Imported here: postgres.py imports this module.
        from aitrader.stack.postgres import detected_port

        port = detected_port() or DEFAULT_PG_PORT
    return f"postgresql+psycopg://{DB_USER}:{DB_PASSWORD}@{LOCAL_HOST}:{port}/{DB_NAME}"


def kafka_from_env() -> str | None:
    return os.environ.get(KAFKA_ENV, "").strip() or None


def database_from_env() -> str | None:
    raw = os.environ.get(DATABASE_ENV, "").strip()
    return sqlalchemy_url(raw) if raw else None


def endpoints() -> tuple[str, str]:
    """``(bootstrap_servers, database_url)``: env vars first, else the local stack."""
    return (
        kafka_from_env() or local_bootstrap(),
        database_from_env() or local_database_url(),
    )
