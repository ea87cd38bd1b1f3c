"""Liveness, readiness, status and metrics."""

from __future__ import annotations

from typing import Any

import psycopg
import sqlalchemy as sa
from confluent_kafka import KafkaException
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from api.auth import STATUS, require
from api.broker import BrokerProbe
from api.database import Database, as_of
from api.serialize import iso_time
from projections.status import PartitionLag

router = APIRouter(tags=["operations"])


@router.get("/health", summary="The process is up (no dependencies checked)")
def health() -> dict[str, str]:
    return {"status": "ok"}


def _lag_rows(rows: list[PartitionLag]) -> list[dict[str, Any]]:
    return [
        {
            "projection": r.projection, "topic": r.topic, "partition": r.partition, "next_offset": r.next_offset,
            "end_offset": r.end_offset, "lag": r.lag,
            "latest_event_time": None if r.last_event_time_ms is None else iso_time(r.last_event_time_ms),
        }
        for r in rows
    ]


def _state(request: Request) -> tuple[dict[str, Any], bool]:
    """Checks the database, the broker and the projections' lag; returns (report, all good)."""
    database: Database = request.app.state.database
    probe: BrokerProbe | None = request.app.state.broker
    checks: dict[str, Any] = {}
    rows: list[PartitionLag] = []
    checks["broker"] = "not configured" if probe is None else (probe.problem() or "ok")
    try:
        with database.snapshot() as conn:
            checks["as_of"] = as_of(conn)
            if checks["broker"] == "ok":
                try:
                    rows = probe.lags(conn.connection.driver_connection)  # type: ignore[union-attr]
                except KafkaException as exc:
                    checks["broker"] = f"end offsets unavailable: {exc}"
        checks["database"] = "ok"
    except (sa.exc.SQLAlchemyError, psycopg.Error) as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}: {exc}"
    total = sum(r.lag or 0 for r in rows)
    limit = request.app.state.settings.max_lag
    checks["lag"] = {"records": total, "max": limit, "partitions": _lag_rows(rows)}
    good = checks["database"] == "ok" and checks["broker"] in ("ok", "not configured") and total <= limit
    return checks, good


@router.get("/ready", summary="Broker and database reachable, projections within the lag bound")
def ready(request: Request) -> JSONResponse:
    checks, good = _state(request)
    checks["lag"].pop("partitions")
    return JSONResponse({"ready": good, **checks}, status_code=200 if good else 503)


@router.get("/api/status", summary="Projection offsets, lag and latest event times", dependencies=[Depends(require(*STATUS))])
def status(request: Request) -> dict[str, Any]:
    checks, good = _state(request)
    return {"ready": good, **checks}


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> str:
    return request.app.state.metrics.render()
