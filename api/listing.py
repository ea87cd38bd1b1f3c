"""One page of a read model, as every list endpoint answers it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from fastapi import Request

from api import pagination, params
from api.database import Database, as_of
from api.errors import ApiError
from api.pagination import Key


def answer(request: Request, data: Any, conn: sa.Connection, **extra: Any) -> dict[str, Any]:
    return {"data": data, **extra, "as_of": as_of(conn)}


def page(
    request: Request,
    endpoint: str,
    table: sa.Table,
    keys: Sequence[Key],
    where: Sequence[sa.ColumnElement[bool]],
    filters: Mapping[str, Any],
    limit: int | None,
    cursor: str | None,
    render: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    settings = request.app.state.settings
    size = params.limit(limit, settings.default_limit, settings.max_limit)
    print_ = pagination.fingerprint(endpoint, filters)
    database: Database = request.app.state.database
    with database.snapshot() as conn:
        result = pagination.fetch(conn, table, keys, where, size, cursor, print_, request.app.state.cursors)
        return answer(request, [render(r) for r in result.rows], conn, next_cursor=result.next_cursor)


def one(
    request: Request,
    table: sa.Table,
    column: str,
    value: str,
    render: Callable[[Mapping[str, Any]], dict[str, Any]],
    more: Callable[[sa.Connection, dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The row of ``table`` whose ``column`` is ``value`` (a checked id), rendered; 404 when there is none."""
    params.identifier(value, column)
    database: Database = request.app.state.database
    with database.snapshot() as conn:
        found = conn.execute(sa.select(table).where(table.c[column] == value)).first()
        if found is None:
            raise ApiError(404, "not_found", f"no {table.name} row with {column} {value}")
        data = render(found._mapping)
        return answer(request, more(conn, data) if more else data, conn)
