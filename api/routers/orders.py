"""GET /api/orders (current state) and /api/orders/{order_id} (with its event history)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request

from api import params, serialize
from api.auth import READ, require
from api.listing import one, page
from api.pagination import Key
from api.routers.common import CURSOR, FROM, LIMIT, SYMBOL, TO, time_filters
from oms.fsm import OrderStatus
from projections.models import order_events, orders
from projections.readmodels.orders import UNKNOWN

router = APIRouter(tags=["orders"], dependencies=[Depends(require(*READ))])
KEYS = (Key("first_time_ms", "int"), Key("order_id", "uuid"))
STATUSES = (*(s.value for s in OrderStatus), UNKNOWN)
# The two refusals, which analysts must not confuse: shown in the OpenAPI description of the listing.
REFUSALS = (
    "DENIED: our pre-trade risk refused the order before it reached a venue (`deny_reason` is the risk check's code, "
    "e.g. MAX_POSITION; `deny_detail` the numbers). REJECTED: a venue refused it (`reject_reason`, `reject_detail`); "
    "logs written before denials existed also carry risk refusals as REJECTED."
)
TIMES = (
    "created_time_ms", "accepted_time_ms", "denied_time_ms", "rejected_time_ms", "canceled_time_ms", "expired_time_ms",
    "last_fill_time_ms", "updated_time_ms",
)
COLUMNS = (
    "order_id", "intent_id", "symbol", "side", "order_type", "quantity", "limit_price", "time_in_force", "expire_time_ms",
    "status", "filled_qty", "avg_fill_price", "fees", "fill_count", "deny_reason", "deny_detail", "reject_reason",
    "reject_detail", "cancel_reason", *TIMES,
)
EVENT_COLUMNS = ("event_id", "event_type", "event_time_ms", "payload")
SHOWN_TIMES = (*TIMES, "expire_time_ms")
FIELDS = serialize.names(COLUMNS, SHOWN_TIMES)


def render(row: Mapping[str, Any]) -> dict[str, Any]:
    return serialize.row(row, COLUMNS, SHOWN_TIMES)


@router.get("/api/orders", summary="Orders in their current state, oldest first", description=REFUSALS)
def list_orders(
    request: Request,
    symbol: SYMBOL = None,
    status: Annotated[
        str | None, Query(description=f"One of {', '.join(STATUSES)} (DENIED and REJECTED: see the description).")
    ] = None,
    start: FROM = None,
    to: TO = None,
    limit: LIMIT = None,
    cursor: CURSOR = None,
) -> dict[str, Any]:
    where, filters = time_filters(orders.c.first_time_ms, start, to)
    if params.symbol(symbol):
        where.append(orders.c.symbol == symbol)
    if params.choice(status, STATUSES, "status"):
        where.append(orders.c.status == status)
    filters |= {"symbol": symbol, "status": status}
    return page(request, "orders", orders, KEYS, where, filters, limit, cursor, render)


def _with_history(conn: sa.Connection, order: dict[str, Any]) -> dict[str, Any]:
    history = conn.execute(
        sa.select(order_events)
        .where(order_events.c.order_id == order["order_id"])
        .order_by(order_events.c.event_time_ms, order_events.c.event_id)
    )
    return order | {"events": [serialize.row(e._mapping, EVENT_COLUMNS, times=("event_time_ms",)) for e in history]}


@router.get("/api/orders/{order_id}", summary="One order with its full event history")
def get_order(request: Request, order_id: str) -> dict[str, Any]:
    return one(request, orders, "order_id", order_id, render, _with_history)
