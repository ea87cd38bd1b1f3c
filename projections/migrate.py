"""Schema migrations (Alembic), configured in code: no alembic.ini at the repository root.

``upgrade(url, schema)`` brings the read models in ``schema`` and the API keys
in ``schema_auth`` to the latest revision, creating the schemas if needed. A
transaction-scoped advisory lock keeps two upgrades of one schema apart.
``upgrade_to`` and ``downgrade_to`` move one schema to any revision: the tests
walk every branch up from each revision and back down with them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.pool import NullPool

from projections.db import auth_schema, checked_schema, engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
READ_MODELS_HEAD = "readmodels@head"
AUTH_HEAD = "auth@head"


def _config(connection: object, schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


def _migrate(url: str, schema: str, step: Callable[[Config, str], None], target: str) -> None:
    with engine(url, schema, poolclass=NullPool).begin() as conn:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"aitrader-migrate-{schema}",))
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{checked_schema(schema)}"')
        step(_config(conn, schema), target)


def upgrade_to(url: str, schema: str, target: str) -> None:
    """``schema`` up to ``target``: a revision, or ``<branch>@head``."""
    _migrate(url, schema, command.upgrade, target)


def downgrade_to(url: str, schema: str, target: str) -> None:
    """``schema`` down to ``target``: a revision, or ``<branch>@base`` (no table of the branch left)."""
    _migrate(url, schema, command.downgrade, target)


def upgrade_read_models(url: str, schema: str) -> None:
    upgrade_to(url, schema, READ_MODELS_HEAD)


def upgrade(url: str, schema: str) -> None:
    """Read models in ``schema``, API keys in its auth schema."""
    upgrade_read_models(url, schema)
    upgrade_to(url, auth_schema(schema), AUTH_HEAD)


def current_revisions(url: str, schema: str) -> tuple[str, ...]:
    with engine(url, schema, poolclass=NullPool).connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table_schema": schema}).get_current_heads()
