"""``order_events`` (every lifecycle event and fill of an order) and ``orders`` (its current state).

Lifecycle events and fills arrive on different topics, so the projector may see
a fill before the order's ``OrderInitialized``. Each event therefore only fills
in its own columns (upserting the row if needed), and the status is derived from
the columns by one rule, ``STATUS_RULE``: the final state does not depend on the
order in which the topics were read.

A refusal by our own pre-trade risk (``OrderDenied``: status DENIED,
``deny_reason`` the check's code) and a venue's (``OrderRejected``: status
REJECTED, ``reject_reason``) fill different columns, so an analyst can tell
"our limits said no" from "the market said no". An ``OrderRejected`` from a log
written before ``OrderDenied`` existed is projected as written: REJECTED.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from contract.events import (
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
)
from contract.jsonview import event_fields
from oms.fsm import OrderStatus
from projections.bulk import insert_new
from projections.readmodels.base import Context, Item

ORDER_EVENTS = (OrderInitialized, OrderAccepted, OrderDenied, OrderRejected, OrderCanceled, OrderExpired, OrderFilled)
EVENT_COLUMNS = ("event_id", "order_id", "event_type", "symbol", "event_time_ms", "payload")
UNKNOWN = "UNKNOWN"  # only fills seen so far, no OrderInitialized yet

# Terminal facts first; a canceled order that was completely filled before the cancel counts as filled.
STATUS_RULE = f"""CASE
    WHEN denied_time_ms IS NOT NULL THEN '{OrderStatus.DENIED.value}'
    WHEN rejected_time_ms IS NOT NULL THEN '{OrderStatus.REJECTED.value}'
    WHEN quantity IS NOT NULL AND filled_qty >= quantity THEN '{OrderStatus.FILLED.value}'
    WHEN canceled_time_ms IS NOT NULL THEN '{OrderStatus.CANCELLED.value}'
    WHEN expired_time_ms IS NOT NULL THEN '{OrderStatus.EXPIRED.value}'
    WHEN filled_qty > 0 THEN '{OrderStatus.PARTIALLY_FILLED.value}'
    WHEN accepted_time_ms IS NOT NULL THEN '{OrderStatus.ACCEPTED.value}'
    WHEN created_time_ms IS NOT NULL THEN '{OrderStatus.NEW.value}'
    ELSE '{UNKNOWN}' END"""

REPLACE = "excluded.{c}"
ADD = "orders.{c} + excluded.{c}"
LATEST = "GREATEST(orders.{c}, excluded.{c})"
KEEP_KNOWN = "COALESCE(orders.{c}, excluded.{c})"


def _columns(event: Event) -> dict[str, tuple[Any, str]]:
    """The columns one event sets: name -> (value, how it merges into an existing row)."""
    t = event.event_time_ms
    if isinstance(event, OrderInitialized):
        return {
            "intent_id": (event.intent_id, REPLACE),
            "side": (event.side.value, REPLACE),
            "order_type": (event.order_type.value, REPLACE),
            "quantity": (event.quantity, REPLACE),
            "limit_price": (event.limit_price, REPLACE),
            "time_in_force": (event.time_in_force.value, REPLACE),
            "expire_time_ms": (event.expire_time_ms, REPLACE),
            "created_time_ms": (t, REPLACE),
        }
    if isinstance(event, OrderAccepted):
        return {"accepted_time_ms": (t, REPLACE)}
    if isinstance(event, OrderDenied):
        return {"denied_time_ms": (t, REPLACE), "deny_reason": (event.reason, REPLACE), "deny_detail": (event.detail, REPLACE)}
    if isinstance(event, OrderRejected):
        return {"rejected_time_ms": (t, REPLACE), "reject_reason": (event.reason, REPLACE), "reject_detail": (event.detail, REPLACE)}
    if isinstance(event, OrderCanceled):
        return {"canceled_time_ms": (t, REPLACE), "cancel_reason": (event.reason, REPLACE)}
    if isinstance(event, OrderExpired):
        return {"expired_time_ms": (t, REPLACE)}
    if isinstance(event, OrderFilled):
        return {
            "side": (event.side.value, KEEP_KNOWN),
            "filled_qty": (event.last_qty, ADD),
            "fill_notional": (event.last_qty * event.last_price, ADD),
            "fees": (event.fee, ADD),
            "fill_count": (1, ADD),
            "last_fill_time_ms": (t, LATEST),
        }
    raise TypeError(f"not an order event: {type(event).__name__}")


def _upsert(conn: psycopg.Connection, event: Event, columns: Mapping[str, tuple[Any, str]]) -> None:
    base = {
        "order_id": (getattr(event, "order_id"), REPLACE),
        "symbol": (getattr(event, "symbol"), REPLACE),
        "status": (UNKNOWN, REPLACE),
        "first_time_ms": (event.event_time_ms, "LEAST(orders.{c}, excluded.{c})"),
        "updated_time_ms": (event.event_time_ms, LATEST),
    }
    merged = {**base, **columns}
    names = list(merged)
    updates = ", ".join(f"{c} = {merged[c][1].format(c=c)}" for c in names if c not in ("order_id", "symbol", "status"))
    conn.execute(
        f"INSERT INTO orders ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))}) "
        f"ON CONFLICT (order_id) DO UPDATE SET {updates}",
        [merged[c][0] for c in names],
    )


def apply(conn: psycopg.Connection, items: Sequence[Item], context: Context) -> None:
    events = [i.event for i in items if isinstance(i.event, ORDER_EVENTS)]
    if not events:
        return
    rows = (
        (e.event_id, getattr(e, "order_id"), type(e).__name__, getattr(e, "symbol"), e.event_time_ms, Jsonb(event_fields(e)))
        for e in events
    )
    added = set(insert_new(conn, "order_events", EVENT_COLUMNS, rows, key="event_id"))
    touched: list[str] = []
    for event in events:
        if event.event_id in added:
            _upsert(conn, event, _columns(event))
            touched.append(getattr(event, "order_id"))
    if touched:
        conn.execute(
            f"UPDATE orders SET status = {STATUS_RULE}, "
            "avg_fill_price = CASE WHEN filled_qty > 0 THEN round(fill_notional / filled_qty, 8) END "
            "WHERE order_id = ANY(%s::uuid[])",
            (touched,),
        )
