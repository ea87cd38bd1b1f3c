"""GET /api/bars: one-minute OHLCV bars."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request

from api import params, serialize
from api.auth import READ, require
from api.listing import page
from api.pagination import Key
from api.routers.common import CURSOR, FROM, LIMIT, SYMBOL, TO, time_filters
from contract.scaled import QUANTUM
from projections.models import bars_1m

router = APIRouter(tags=["bars"], dependencies=[Depends(require(*READ))])
KEYS = (Key("start_ms", "int"), Key("symbol", "text"))
COLUMNS = ("symbol", "start_ms", "open", "high", "low", "close", "volume", "trades")
TIMES = ("start_ms",)
FIELDS = (*serialize.names(COLUMNS, TIMES), "vwap")


def render(row: Mapping[str, Any]) -> dict[str, Any]:
    out = serialize.row(row, COLUMNS, TIMES)
    out["vwap"] = serialize.decimal_text((row["notional"] / row["volume"]).quantize(QUANTUM))
    return out


@router.get("/api/bars", summary="One-minute bars, oldest first")
def list_bars(
    request: Request, symbol: SYMBOL = None, start: FROM = None, to: TO = None, limit: LIMIT = None, cursor: CURSOR = None
) -> dict[str, Any]:
    where, filters = time_filters(bars_1m.c.start_ms, start, to)
    if params.symbol(symbol):
        where.append(bars_1m.c.symbol == symbol)
    filters |= {"symbol": symbol}
    return page(request, "bars", bars_1m, KEYS, where, filters, limit, cursor, render)
