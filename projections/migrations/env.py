"""Alembic environment: runs on the connection and schema that ``projections.migrate`` hands over.

Each branch keeps its version table in the schema it migrates (read models in
the projection schema, API keys in the auth schema), so a rebuilt schema carries
its own migration state.
"""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes["connection"]
schema = config.attributes["schema"]

context.configure(connection=connection, target_metadata=None, version_table_schema=schema)
with context.begin_transaction():
    context.run_migrations()
