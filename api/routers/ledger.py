"""GET /api/positions and /api/pnl: positions now, and P&L per symbol and trading day."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api import params, serialize
from api.auth import READ, require
from api.listing import page
from api.pagination import Key
from api.routers.common import CURSOR, LIMIT, SYMBOL
from projections.models import pnl_daily, positions

router = APIRouter(tags=["positions and P&L"], dependencies=[Depends(require(*READ))])
POSITION_COLUMNS = (
    "symbol", "quantity", "avg_price", "realized_pnl", "fees", "unrealized_pnl", "mark_price", "mark_time_ms",
    "fill_count", "last_fill_time_ms",
)
PNL_COLUMNS = (
    "symbol", "trading_day", "realized_pnl", "fees", "unrealized_pnl", "daily_pnl", "position_qty", "mark_price",
    "mark_time_ms", "fill_count",
)
POSITION_TIMES = ("mark_time_ms", "last_fill_time_ms")
PNL_TIMES = ("mark_time_ms",)
POSITION_FIELDS = serialize.names(POSITION_COLUMNS, POSITION_TIMES)
PNL_FIELDS = serialize.names(PNL_COLUMNS, PNL_TIMES)


def render_position(row: Mapping[str, Any]) -> dict[str, Any]:
    return serialize.row(row, POSITION_COLUMNS, POSITION_TIMES)


def render_pnl(row: Mapping[str, Any]) -> dict[str, Any]:
    return serialize.row(row, PNL_COLUMNS, PNL_TIMES)


@router.get("/api/positions", summary="Positions by symbol, marked to the last trade")
def list_positions(request: Request, symbol: SYMBOL = None, limit: LIMIT = None, cursor: CURSOR = None) -> dict[str, Any]:
    where = [positions.c.symbol == symbol] if params.symbol(symbol) else []
    return page(request, "positions", positions, (Key("symbol", "text"),), where, {"symbol": symbol}, limit, cursor, render_position)


@router.get("/api/pnl", summary="Daily P&L per symbol and trading day (the venue's sessions)")
def list_pnl(
    request: Request,
    symbol: SYMBOL = None,
    from_day: Annotated[str | None, Query(description="First trading day, YYYY-MM-DD.")] = None,
    to_day: Annotated[str | None, Query(description="Last trading day, inclusive.")] = None,
    limit: LIMIT = None,
    cursor: CURSOR = None,
) -> dict[str, Any]:
    first, last = params.day_range(from_day, to_day)
    where = []
    if params.symbol(symbol):
        where.append(pnl_daily.c.symbol == symbol)
    if first is not None:
        where.append(pnl_daily.c.trading_day >= first)
    if last is not None:
        where.append(pnl_daily.c.trading_day <= last)
    keys = (Key("trading_day", "date"), Key("symbol", "text"))
    filters = {"symbol": symbol, "from_day": first, "to_day": last}
    return page(request, "pnl", pnl_daily, keys, where, filters, limit, cursor, render_pnl)
