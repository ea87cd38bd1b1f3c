"""GET /api/orders/{order_id}/trace: an order's causal chain from the log alone (analysts, auditors).

tick -> signal -> intent -> the order's events -> its fills, as
``eventlog.audit.trace`` follows them (the same chain as ``aitrader audit
trace``), each step a record view (``contract.jsonview``) with its role. What
the log does not hold (a cause not found) is listed under ``problems``.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException
from fastapi import APIRouter, Depends, Request

from api import params
from api.auth import READ, require
from api.errors import ApiError
from api.settings import ApiSettings
from contract.jsonview import record_view
from contract.serde import EventCodec
from eventlog.audit.trace import trace_order
from eventlog.consumer import LogReader

router = APIRouter(tags=["orders"], dependencies=[Depends(require(*READ))])
CAUSAL_ORDER = ("tick", "signal", "intent", "order", "fill")  # the trace finds causes backwards; shown forwards


@router.get("/api/orders/{order_id}/trace", summary="An order's causal chain on the log: tick, signal, intent, order events, fills")
def order_trace(request: Request, order_id: str) -> dict[str, Any]:
    settings: ApiSettings = request.app.state.settings
    if settings.bootstrap is None:
        raise ApiError(503, "broker_unavailable", "the API runs without a broker: no trace")
    params.identifier(order_id, "order_id")
    codec = EventCodec()
    try:
        with LogReader(settings.bootstrap) as reader:
            found = trace_order(reader, codec, settings.namespace, order_id)
    except KafkaException as exc:
        raise ApiError(503, "broker_unavailable", f"the log could not be read: {exc}") from None
    if not found.steps:
        raise ApiError(404, "not_found", "; ".join(found.problems))
    steps = sorted(found.steps, key=lambda step: CAUSAL_ORDER.index(step.role))  # stable: order events stay in log order
    return {
        "order_id": order_id,
        "steps": [{"role": step.role, **record_view(codec, step.record, step.event)} for step in steps],
        "problems": found.problems,
    }
