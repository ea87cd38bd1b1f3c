"""Filters the list endpoints share."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import Query

from api import params

FROM = Annotated[str | None, Query(alias="from", description="Start, inclusive: ISO 8601 with zone (2013-09-03T08:30:00-05:00).")]
TO = Annotated[str | None, Query(description="End, exclusive: ISO 8601 with zone.")]
SYMBOL = Annotated[str | None, Query(description="Symbol, e.g. ES.")]
LIMIT = Annotated[int | None, Query(description="Rows per page (1 to the server's maximum, 1000 by default).")]
CURSOR = Annotated[str | None, Query(description="next_cursor of the previous page.")]


def time_filters(column: sa.ColumnElement[int], start: str | None, end: str | None) -> tuple[list[sa.ColumnElement[bool]], dict[str, int | None]]:
    window = params.time_range(start, end)
    where = []
    if window.start is not None:
        where.append(column >= window.start)
    if window.end is not None:
        where.append(column < window.end)
    return where, {"from": window.start, "to": window.end}
