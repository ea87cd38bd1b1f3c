"""GET /api/signals: pattern signals by symbol, time and score."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api import params, serialize
from api.auth import READ, require
from api.listing import page
from api.pagination import Key
from api.routers.common import CURSOR, FROM, LIMIT, SYMBOL, TO, time_filters
from projections.models import signals

router = APIRouter(tags=["signals"], dependencies=[Depends(require(*READ))])
KEYS = (Key("event_time_ms", "int"), Key("event_id", "uuid"))
COLUMNS = ("event_id", "symbol", "pattern", "score", "features", "event_time_ms")
TIMES = ("event_time_ms",)
FIELDS = serialize.names(COLUMNS, TIMES)


def render(row: Mapping[str, Any]) -> dict[str, Any]:
    return serialize.row(row, COLUMNS, TIMES)


@router.get("/api/signals", summary="Signals, oldest first")
def list_signals(
    request: Request,
    symbol: SYMBOL = None,
    start: FROM = None,
    to: TO = None,
    min_score: Annotated[str | None, Query(description="Only signals with score >= this, in [-1, 1].")] = None,
    pattern: Annotated[str | None, Query(max_length=64)] = None,
    limit: LIMIT = None,
    cursor: CURSOR = None,
) -> dict[str, Any]:
    where, filters = time_filters(signals.c.event_time_ms, start, to)
    if params.symbol(symbol):
        where.append(signals.c.symbol == symbol)
    threshold = params.score(min_score, "min_score")
    if threshold is not None:
        where.append(signals.c.score >= threshold)
    if pattern is not None:
        where.append(signals.c.pattern == pattern)
    filters |= {"symbol": symbol, "min_score": threshold, "pattern": pattern}
    return page(request, "signals", signals, KEYS, where, filters, limit, cursor, render)
