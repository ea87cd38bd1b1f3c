"""Scratch read-model schemas: each test and benchmark migrates its own and drops it after."""

from __future__ import annotations

import secrets

from projections.db import auth_schema, build_schema, checked_schema, drop_schema
from projections.migrate import upgrade


def fresh_schema(url: str, prefix: str) -> str:
    """A new, migrated schema named ``<prefix>_<random hex>`` (tests and benchmarks isolate themselves so)."""
    name = checked_schema(f"{prefix}_{secrets.token_hex(4)}")
    upgrade(url, name)
    return name


def drop_with_companions(url: str, schema: str) -> None:
    """Drops a read-model schema with its auth schema and any build left by an interrupted rebuild."""
    for name in (schema, auth_schema(schema), build_schema(schema)):
        drop_schema(url, name)
