"""Liveness, readiness, status and metrics."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa
from confluent_kafka import KafkaException
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from api import applied
from api.auth import STATUS, require
from api.broker import BrokerProbe
from api.database import Database, as_of
from api.serialize import iso_time
from api.settings import ApiSettings
from contract.events import RunManifestRecorded
from contract.serde import EventCodec
from contract.topics import INPUTS, MANIFESTS
from eventlog.consumer import LogReader, UndecodableRecord, decode
from processors.live.app import CommitProbe, group_id
from projections.status import PartitionLag

router = APIRouter(tags=["operations"])
log = logging.getLogger("aitrader.api")


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


class Recent:
    """The last result of a costly check, reused for ``ttl_s``; one caller at a time computes a new one.

    /ready is public: without this, a flood of it would take the database connections (and broker
    round trips) the read endpoints need. With it, a flood costs one check per ``ttl_s``.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._at = -math.inf
        self._value: Any = None

    def get(self, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if time.monotonic() - self._at >= self.ttl_s:
                self._value = compute()
                self._at = time.monotonic()
            return self._value


def _word(check: str) -> str:
    return check if check in ("ok", "not configured") else "unavailable"


@router.get("/ready", summary="Broker and database reachable, projections within the lag bound")
def ready(request: Request) -> JSONResponse:
    """Public, for load balancers: ok or unavailable and the lag in records, nothing more.

    The reasons (hosts, users, driver messages) would tell anyone where the database is and who connects to
    it: they go to the server log, and to ``/api/status`` for ops and auditors.
    """
    checks, good = request.app.state.ready.get(lambda: _state(request))
    if not good:
        log.warning("not ready: database %s; broker %s; lag %s", checks["database"], checks["broker"], checks["lag"]["records"])
    body = {
        "ready": good,
        "database": _word(checks["database"]),
        "broker": _word(checks["broker"]),
        "lag": {"records": checks["lag"]["records"], "max": checks["lag"]["max"]},
    }
    return JSONResponse(body, status_code=200 if good else 503)


def _kernel_lag(settings: ApiSettings, bootstrap: str, reader: LogReader) -> dict[str, Any]:
    """The live kernel's consumer group: its committed offsets against the input topic's end offsets."""
    topic, group = settings.namespace.topic(INPUTS), group_id(settings.namespace)
    marks = reader.watermarks(topic)
    probe = CommitProbe(bootstrap, group, topic)
    try:
        committed = probe.committed(sorted(marks))
    finally:
        probe.close()
    rows = []
    for partition, (low, high) in sorted(marks.items()):
        done = committed.get(partition, -1)
        at = done if done >= 0 else None  # -1: the group never committed here
        rows.append({"partition": partition, "committed": at, "end_offset": high, "lag": high - max(low, at or 0)})
    return {"group": group, "topic": topic, "records": sum(r["lag"] for r in rows), "partitions": rows}


def _model(settings: ApiSettings, reader: LogReader) -> dict[str, Any] | None:
    """What the latest run manifest on the log says is running; None before the first run."""
    topic = settings.namespace.topic(MANIFESTS)
    lasts = {p: (high - 1, high) for p, (low, high) in reader.watermarks(topic).items() if high > low}
    records = [r for batch in reader.read(topic, lasts) for r in batch]
    if not records:
        return None
    record = max(records, key=lambda r: (r.timestamp_ms, r.partition))
    try:
        manifest = decode(EventCodec(), record)
    except UndecodableRecord as exc:
        return {"problem": f"the latest manifest does not decode: {exc.reason}", "offset": record.offset}
    if not isinstance(manifest, RunManifestRecorded):
        return {"problem": f"the latest record on {topic} is a {type(manifest).__name__}", "offset": record.offset}
    return {
        "model": {"name": manifest.model_name, "version": manifest.model_version, "sha256": manifest.model_sha256},
        "code_version": manifest.code_version,
        "config_hash": manifest.config_hash,
        "recorded_at": iso_time(manifest.event_time_ms),
        "event_id": manifest.event_id,
        "topic": topic,
        "partition": record.partition,
        "offset": record.offset,
    }


def _kernel(settings: ApiSettings, bootstrap: str) -> dict[str, Any]:
    """The kernel's lag, model, applied trading states and settings, last snapshots, dead letters; each says why if unknown."""
    reads: dict[str, Callable[[LogReader], Any]] = {
        "kernel_lag": lambda reader: _kernel_lag(settings, bootstrap, reader),
        "model_in_use": lambda reader: _model(settings, reader),
        "trading_states": lambda reader: applied.trading_states(reader, settings.namespace),
        "settings_applied": lambda reader: applied.settings_changes(reader, settings.namespace),
        "last_snapshots": lambda reader: applied.snapshots(reader, settings.namespace),
        "dead_letters": lambda reader: applied.dead_letters(reader, settings.namespace),
    }
    found: dict[str, Any] = {}
    with LogReader(bootstrap) as reader:
        for name, read in reads.items():
            try:
                found[name] = read(reader)
            except KafkaException as exc:
                found[name] = f"unavailable: {exc}"
    return found


@router.get(
    "/api/status",
    summary="Projection and kernel lag, the model in use, trading states and settings as applied, last snapshots, dead letters",
    dependencies=[Depends(require(*STATUS))],
)
def status(request: Request) -> dict[str, Any]:
    checks, good = _state(request)
    settings: ApiSettings = request.app.state.settings
    unknown = checks["broker"]
    kernel: dict[str, Any] = {"kernel_lag": unknown, "model_in_use": None, "trading_states": unknown, "settings_applied": unknown,
                              "last_snapshots": unknown, "dead_letters": unknown}
    if checks["broker"] == "ok" and settings.bootstrap is not None:
        kernel = _kernel(settings, settings.bootstrap)
    return {"ready": good, **checks, **kernel}


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    return request.app.state.metrics.response()
