"""A request's snapshot: read only and REPEATABLE READ, and the pooled connection is plain again after it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from api.database import Database
from api.settings import ApiSettings
from tests.scratch import drop_with_companions, fresh_schema

pytestmark = pytest.mark.infra


def _shown(conn: sa.Connection) -> tuple[str, str]:
    return tuple(conn.exec_driver_sql(f"SHOW {name}").scalar_one() for name in ("transaction_read_only", "transaction_isolation"))


def test_a_snapshot_is_read_only_repeatable_read_and_leaves_the_pool_as_it_found_it(database_url: str) -> None:
    schema = fresh_schema(database_url, "test")
    database = Database(ApiSettings(database_url, schema, pool_size=1, pool_overflow=0))
    try:
        with database.snapshot() as conn:
            assert _shown(conn) == ("on", "repeatable read")
            with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
                conn.exec_driver_sql("DELETE FROM bars_1m")
        with database.models.connect() as conn:  # the same (only) pooled connection
            assert _shown(conn) == ("off", "read committed")
    finally:
        database.dispose()
        drop_with_companions(database_url, schema)
