"""GET /api/fills: executions with what each realized."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request

from api import params, serialize
from api.auth import READ, require
from api.listing import page
from api.pagination import Key
from api.routers.common import CURSOR, FROM, LIMIT, SYMBOL, TO, time_filters
from projections.models import fills

router = APIRouter(tags=["fills"], dependencies=[Depends(require(*READ))])
KEYS = (Key("event_time_ms", "int"), Key("event_id", "uuid"))
COLUMNS = (
    "event_id", "fill_id", "order_id", "symbol", "side", "quantity", "price", "fee", "liquidity", "event_time_ms",
    "trading_day", "realized_pnl", "position_after",
)
TIMES = ("event_time_ms",)
FIELDS = serialize.names(COLUMNS, TIMES)


def render(row: Mapping[str, Any]) -> dict[str, Any]:
    return serialize.row(row, COLUMNS, TIMES)


@router.get("/api/fills", summary="Fills, oldest first")
def list_fills(
    request: Request,
    symbol: SYMBOL = None,
    order_id: str | None = None,
    start: FROM = None,
    to: TO = None,
    limit: LIMIT = None,
    cursor: CURSOR = None,
) -> dict[str, Any]:
    where, filters = time_filters(fills.c.event_time_ms, start, to)
    if params.symbol(symbol):
        where.append(fills.c.symbol == symbol)
    if order_id is not None:
        where.append(fills.c.order_id == params.identifier(order_id, "order_id"))
    filters |= {"symbol": symbol, "order_id": order_id}
    return page(request, "fills", fills, KEYS, where, filters, limit, cursor, render)
