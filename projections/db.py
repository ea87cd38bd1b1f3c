"""Connections to the projection database, pinned to one schema.

Every read model lives in one PostgreSQL schema (``aitrader`` by default, one
per test); connections set ``search_path`` to it, so the same SQL serves live,
rebuilds and tests. A rebuild renames schemas, and names resolve at query time,
so readers follow the swap without reconnecting.
"""

from __future__ import annotations

import re

import psycopg
import sqlalchemy as sa

from eventlog.endpoints import libpq_url, sqlalchemy_url

DEFAULT_SCHEMA = "aitrader"
AUTH_SUFFIX = "_auth"
BUILD_SUFFIX = "__build"
RETIRED_SUFFIX = "__retired"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


def checked_schema(name: str) -> str:
    """A schema name safe to splice into DDL (it cannot be a bind parameter)."""
    if not _SCHEMA_NAME.match(name):
        raise ValueError(f"bad schema name {name!r}: lower-case letters, digits and _, at most 41 characters")
    return name


def auth_schema(schema: str) -> str:
    """Where API keys live: beside the read models, never swapped away by a rebuild."""
    return checked_schema(schema) + AUTH_SUFFIX


def build_schema(schema: str) -> str:
    return checked_schema(schema) + BUILD_SUFFIX


def engine(url: str, schema: str, **kwargs: object) -> sa.Engine:
    """A SQLAlchemy engine (psycopg 3) whose connections see ``schema`` first."""
    return sa.create_engine(
        sqlalchemy_url(url),
        connect_args={"options": f"-csearch_path={checked_schema(schema)}"},
        pool_pre_ping=True,
        **kwargs,  # type: ignore[arg-type]
    )


def connect(url: str, schema: str, autocommit: bool = True) -> psycopg.Connection:
    """A plain psycopg connection (COPY, bulk writes) that sees ``schema`` first.

    Autocommit by default: writers open their transactions explicitly (``conn.transaction()``).
    """
    return psycopg.connect(libpq_url(url), options=f"-csearch_path={checked_schema(schema)}", autocommit=autocommit)


def schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    return row is not None


def drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{checked_schema(schema)}" CASCADE')
