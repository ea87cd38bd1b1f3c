"""PostgreSQL roles of the services: the projector writes the read models, the API only reads.

The owner (the role that runs migrations, ``aitrader users`` and rebuilds) owns
every table; the service roles get what their job needs and nothing else:

- ``aitrader_projector``: read and write the read models; nothing in the auth schema;
- ``aitrader_api``: read the read models and the API keys (it verifies keys, never writes them).

Grants are not migrations: migrations are frozen DDL shared by every deployment,
while which roles exist is the deployment's choice. ``aitrader db roles`` (run
as the owner, which needs CREATEROLE) applies them idempotently, and default
privileges make the tables of later migrations follow.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from projections.db import auth_schema, checked_schema

WRITE = "SELECT, INSERT, UPDATE, DELETE"


@dataclass(frozen=True)
class ServiceRoles:
    projector: str = "aitrader_projector"
    api: str = "aitrader_api"


def ensure_login(conn: psycopg.Connection, role: str, password: str) -> None:
    """The role, able to log in with ``password`` (set again on every run: a rotated secret takes effect)."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))


def grant(conn: psycopg.Connection, schema: str, roles: ServiceRoles) -> None:
    """Privileges on ``schema`` (read models) and its auth schema, now and for tables created later by the owner."""
    models, auth = sql.Identifier(checked_schema(schema)), sql.Identifier(auth_schema(schema))
    projector, api = sql.Identifier(roles.projector), sql.Identifier(roles.api)
    statements = [
        ("GRANT USAGE ON SCHEMA {s} TO {r}", models, projector),
        (f"GRANT {WRITE} ON ALL TABLES IN SCHEMA {{s}} TO {{r}}", models, projector),
        ("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}", models, projector),
        (f"ALTER DEFAULT PRIVILEGES IN SCHEMA {{s}} GRANT {WRITE} ON TABLES TO {{r}}", models, projector),
        ("ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}", models, projector),
    ]
    for target in (models, auth):
        statements += [
            ("GRANT USAGE ON SCHEMA {s} TO {r}", target, api),
            ("GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {r}", target, api),
            ("ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {r}", target, api),
        ]
    with conn.transaction():
        for template, target, role in statements:
            conn.execute(sql.SQL(template).format(s=target, r=role))
