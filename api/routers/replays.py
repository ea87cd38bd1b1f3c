"""POST /api/replays (ops) starts a replay in the background; GET /api/replays/{id} (ops, auditors) follows it.

A replay re-runs the kernel over a trading day or an offset range of the input
topic into its own ``replay.NAME.*`` topics and compares the digests with
live (the use case ``processors.replay.run``; ``api.replay_jobs`` runs it as a
job). What can be checked without the log is checked here and refused with a
4xx; what only the log can say (no snapshot before the range, no inputs) ends
the job ``failed`` with the replay's reason. Jobs are known to the API process
that started them only.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api import params
from api.auth import STATUS, require
from api.errors import ApiError, bad_request
from api.replay_jobs import ReplayJobs
from api.settings import ApiSettings
from inference.models import ScorerSpec
from kernel.settings import validate_change
from processors.replay.names import BadReplayName, check_name
from processors.replay.spec import ReplaySpec
from processors.replay.window import DayWindow, OffsetWindow, parse_offsets

REPORTS_ROOT = Path(tempfile.gettempdir()) / "aitrader-replays"
Offset = Annotated[int, Field(ge=0, le=2**63 - 1)]  # a 64-bit log offset: anything else is a 400, never a job


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: ApiSettings = app.state.settings
    jobs = None
    if settings.bootstrap is not None:
        # One directory per schema: APIs over different read models keep their reports apart.
        jobs = ReplayJobs(settings.bootstrap, settings.namespace, REPORTS_ROOT / settings.schema)
    app.state.replays = jobs
    try:
        yield
    finally:
        if jobs is not None:
            jobs.close()


router = APIRouter(tags=["replays"], lifespan=lifespan)


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    day: str | None = Field(None, description="Trading day YYYY-MM-DD (the venue's session).")
    from_offsets: dict[str, Offset] | None = Field(None, description='First input offsets per partition, {"1": 100}.')
    to_offsets: dict[str, Offset] | None = Field(None, description="End input offsets (exclusive); default the log's end.")
    symbols: list[str] | None = Field(None, description="Only the partitions holding these symbols.")
    into: str | None = Field(None, description="Replay name: outputs go to replay.NAME.* (default the day, or 'offsets').")
    overrides: dict[str, str] | None = Field(None, alias="set", description="What-if settings; skips the comparison unless compare.")
    compare: bool = Field(False, description="Compare with live even for a what-if run.")
    model: str | None = Field(
        None, description="What-if model NAME@VERSION replacing the one active at the start; with compare, reports the "
        "difference in intents, fills and P&L.",
    )


def _offsets(pairs: dict[str, int] | None, parameter: str) -> dict[int, int] | None:
    if pairs is None:
        return None
    try:
        return parse_offsets(",".join(f"{p}:{o}" for p, o in pairs.items()))
    except ValueError as exc:
        raise bad_request("bad_offsets", f"{parameter}: {exc}", parameter=parameter) from None


def _spec(body: ReplayRequest) -> ReplaySpec:
    """The request checked as far as it can be without the log."""
    if (body.day is None) == (body.from_offsets is None):
        raise bad_request("bad_replay_range", "give exactly one of day or from_offsets")
    if body.to_offsets is not None and body.from_offsets is None:
        raise bad_request("bad_replay_range", "to_offsets needs from_offsets")
    day = params.day(body.day, "day")
    starts, ends = _offsets(body.from_offsets, "from_offsets"), _offsets(body.to_offsets, "to_offsets")
    if starts is not None and ends is not None:
        if set(ends) != set(starts):
            raise bad_request("bad_offsets", f"from_offsets names partitions {sorted(starts)}, to_offsets {sorted(ends)}")
        backwards = sorted(p for p, end in ends.items() if end < starts[p])
        if backwards:
            raise bad_request("inverted_offset_range", f"to_offsets is before from_offsets in partitions {backwards}")
    symbols = tuple(params.symbol(s) or "" for s in body.symbols or ())
    if body.into is not None:
        try:
            check_name(body.into)
        except BadReplayName as exc:
            raise bad_request("bad_into", f"into {exc}", parameter="into") from None
    overrides = dict(body.overrides or {})
    try:
        validate_change(overrides)
    except ValueError as exc:
        raise ApiError(422, "settings_refused", str(exc)) from None
    try:
        model = None if body.model is None else ScorerSpec.parse(body.model)
    except ValueError as exc:
        raise bad_request("bad_model", str(exc), parameter="model") from None
    window = DayWindow(day) if day is not None else OffsetWindow(starts or {}, ends)
    return ReplaySpec(window, symbols=symbols, into=body.into, overrides=overrides, compare=body.compare, model=model)


def _jobs(request: Request) -> ReplayJobs:
    jobs: ReplayJobs | None = request.app.state.replays
    if jobs is None:
        raise ApiError(503, "broker_unavailable", "the API runs without a broker: no replays")
    return jobs


@router.post(
    "/api/replays", status_code=202, summary="Start a replay (a day or an offset range) in the background",
    dependencies=[Depends(require("ops"))],
)
def start_replay(request: Request, body: ReplayRequest) -> JSONResponse:
    spec = _spec(body)
    jobs = _jobs(request)
    job = jobs.submit(spec)
    return JSONResponse(jobs.view(job), status_code=202, headers={"Location": f"/api/replays/{job.id}"})


@router.get("/api/replays", summary="The replays this API process started", dependencies=[Depends(require(*STATUS))])
def list_replays(request: Request) -> dict[str, Any]:
    jobs = _jobs(request)
    return {"data": [jobs.view(job) for job in jobs.jobs()]}


@router.get("/api/replays/{replay_id}", summary="State and findings of one replay", dependencies=[Depends(require(*STATUS))])
def get_replay(request: Request, replay_id: str) -> dict[str, Any]:
    jobs = _jobs(request)
    job = jobs.get(params.identifier(replay_id, "replay_id"))
    if job is None:
        raise ApiError(404, "not_found", f"no replay {replay_id} in this API process (jobs are kept per process)")
    return jobs.view(job)
