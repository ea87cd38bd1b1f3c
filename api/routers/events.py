"""GET /api/events/{event_id}: where an event sits on the log (auditors)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request

from api import serialize
from api.auth import AUDIT, require
from api.listing import one
from projections.models import event_index

router = APIRouter(tags=["audit"], dependencies=[Depends(require(*AUDIT))])
COLUMNS = ("event_id", "event_type", "topic", "partition", "offset", "event_time_ms", "symbol")


def render(row: Mapping[str, Any]) -> dict[str, Any]:
    return serialize.row(row, COLUMNS, times=("event_time_ms",))


@router.get("/api/events/{event_id}", summary="The log position of one event")
def get_event(request: Request, event_id: str) -> dict[str, Any]:
    return one(request, event_index, "event_id", event_id, render)
