"""Database access for requests: one read-only snapshot per request.

Rows and the as-of watermark are read in one REPEATABLE READ transaction, so
the watermark describes exactly the rows returned, even while the projector
commits batches. The pool is bounded and so is the wait for a connection: a
request that cannot get one in ``pool_timeout_s`` is a 503 the client may retry
(``api.errors``), never a request queued without end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from api.serialize import iso_time
from api.settings import ApiSettings
from projections.db import auth_schema, engine
from projections.status import watermark

AUTH_POOL = {"pool_size": 2, "max_overflow": 4, "pool_timeout": 5}


class Database:
    def __init__(self, settings: ApiSettings) -> None:
        url, schema = settings.database_url, settings.schema
        pool = {"pool_size": settings.pool_size, "max_overflow": settings.pool_overflow, "pool_timeout": settings.pool_timeout_s}
        self.models = engine(url, schema, **pool)
        self.auth = engine(url, auth_schema(schema), **AUTH_POOL)

    def dispose(self) -> None:
        self.models.dispose()
        self.auth.dispose()

    @contextmanager
    def snapshot(self) -> Iterator[sa.Connection]:
        # Both as connection characteristics, so the driver opens the transaction with one statement
        # (BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY), not a BEGIN and a SET: one round trip less a request.
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with self.models.connect().execution_options(**options) as conn:
            try:
                yield conn
            finally:
                conn.rollback()


def as_of(conn: sa.Connection) -> dict[str, Any]:
    """The watermark of a snapshot: offsets applied (lowest over projections) and the latest event time."""
    mark = watermark(conn.connection.driver_connection)  # same session, same snapshot
    return {
        "offsets": {topic: {str(p): o for p, o in parts.items()} for topic, parts in mark.offsets.items()},
        "latest_event_time": None if mark.latest_event_time_ms is None else iso_time(mark.latest_event_time_ms),
        "latest_event_time_ms": mark.latest_event_time_ms,
    }
