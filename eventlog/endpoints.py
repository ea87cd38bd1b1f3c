"""The broker and database endpoints the environment names, and the forms a database URL must take.

Below the command line on purpose: the API, the projections and the replay jobs
need these names and URL forms too, and no layer but the composition root
(``aitrader``) may import the command line. ``aitrader.stack.endpoints`` adds
the local stack's fixed addresses as the fallback.
"""

from __future__ import annotations

import os

KAFKA_ENV = "KAFKA_BOOTSTRAP_SERVERS"
DATABASE_ENV = "DATABASE_URL"


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


def kafka_from_env() -> str | None:
    return os.environ.get(KAFKA_ENV, "").strip() or None


def database_from_env() -> str | None:
    raw = os.environ.get(DATABASE_ENV, "").strip()
    return sqlalchemy_url(raw) if raw else None
