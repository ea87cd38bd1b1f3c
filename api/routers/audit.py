"""GET /api/audit/events: records of one topic, decoded, as JSON lines (auditors).

Each line is ``contract.jsonview.record_view`` of one record: where it sits
(topic, partition, offset, timestamp), its key, headers and schema
fingerprint, and the decoded event with its envelope (event id, causation and
correlation ids). A record that does not decode is a line with ``undecodable``
and the reason instead of ``event``.

Lines come in log order: partition after partition (ascending), offsets
ascending within each. The range is ``[from, to)`` per partition, by offset or
by event time (``offsets_at``: the first offset whose timestamp is at or after
the time); ``limit`` counts lines over all partitions. The offsets actually
read are in the ``X-Offset-Ranges`` header, since the body is a stream.
Everything is checked before the first byte is sent, so a bad request is a
4xx with a code, never a broken stream.

The notary's side, for the console's Audit page (auditors too):

- GET /api/audit/checkpoints: per chained topic partition, its latest checkpoint and how far the
  seals reach against the log's end, each judged by the trusted key;
- POST /api/audit/verify starts ``eventlog.audit.onlog.verify_log`` (what ``aitrader audit verify
  --topic`` runs) on a worker thread, partition by partition; GET /api/audit/verify/{id} follows it;
- GET /api/audit/bundle: ``eventlog.audit.bundle.export`` (``aitrader audit export``) streamed as a
  gzipped tar, which ``aitrader audit verify --bundle`` checks offline once unpacked.

Verify and bundle trust the key directory ``ApiSettings.audit_keys`` names, as the CLI trusts
``--key-dir``: its root.pub with the root's statements on the log, else its one notary.pub.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from confluent_kafka import KafkaException
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api import params
from api.auth import AUDIT, require
from api.errors import ApiError, bad_request
from api.serialize import iso_time
from api.settings import ApiSettings
from audit.events import Checkpoint
from audit.sign import PUBLIC_FILE, ROOT_PUBLIC_FILE, PublicKey
from audit.trust import Standing, Trust
from audit.verify import PartitionReport
from contract.jsonview import record_view
from contract.records import RawRecord
from contract.serde import EventCodec
from contract.topics import CATALOG, Namespace, TopicSpec, by_name
from eventlog.audit.bundle import BundleError, export
from eventlog.audit.onlog import EVENT_TOPICS, AuditLog, read_audit_log, verify_log
from eventlog.consumer import LogReader, OffsetRanges, UndecodableRecord, decode

QUEUED, RUNNING, VERIFIED, FAILED, ERROR = "queued", "running", "verified", "failed", "error"
KEPT_RUNS = 20  # verify runs this process remembers; older finished ones are forgotten


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    runs = VerifyRuns(app.state.settings)  # defined below, with the routes it serves
    app.state.audit_runs = runs
    try:
        yield
    finally:
        runs.close()


router = APIRouter(tags=["audit"], dependencies=[Depends(require(*AUDIT))], lifespan=lifespan)
DEFAULT_LIMIT = 1000
MAX_LIMIT = 100_000  # lines are streamed batch by batch, so this bounds time, not memory
READ_BATCH = 1000
MAX_OFFSET = 2**63 - 1
NDJSON = "application/x-ndjson"

Offset = Annotated[int | None, Query(description="Offset, in every partition read (or in `partition`).")]
Time = Annotated[str | None, Query(description="Event time, ISO 8601 with zone (2013-09-03T08:30:00-05:00).")]


def _topic(name: str) -> str:
    try:
        return by_name(name).name
    except KeyError:
        known = ", ".join(s.name for s in CATALOG)
        raise bad_request("unknown_topic", f"no catalog topic {name!r}; topics: {known}", parameter="topic") from None


def _offset(value: int | None, parameter: str) -> int | None:
    # Offsets are 64-bit signed on the wire: a larger one would overflow in the client library, not be refused.
    if value is not None and not 0 <= value <= MAX_OFFSET:
        raise bad_request("bad_offset", f"{parameter} must be in [0, {MAX_OFFSET}], got {value}", parameter=parameter)
    return value


def _one_of(offset: int | None, time: str | None, end: str) -> None:
    if offset is not None and time is not None:
        raise bad_request(
            "conflicting_range", f"give {end}_offset or {end}_time, not both", parameters=[f"{end}_offset", f"{end}_time"]
        )


def _bounds(
    from_offset: int | None, from_time: str | None, to_offset: int | None, to_time: str | None
) -> tuple[int | None, int | None, int | None, int | None]:
    """Checked (from_offset, from_ms, to_offset, to_ms); at most one of each pair."""
    _one_of(from_offset, from_time, "from")
    _one_of(to_offset, to_time, "to")
    low, high = _offset(from_offset, "from_offset"), _offset(to_offset, "to_offset")
    low_ms, high_ms = params.time_ms(from_time, "from_time"), params.time_ms(to_time, "to_time")
    if low is not None and high is not None and high <= low:
        raise bad_request("inverted_offset_range", f"to_offset ({high}) must be after from_offset ({low})")
    if low_ms is not None and high_ms is not None and high_ms <= low_ms:
        raise bad_request("inverted_time_range", f"to_time ({to_time}) must be after from_time ({from_time})")
    # Record timestamps are never negative, and a negative time means "latest"/"earliest" to the broker.
    return low, None if low_ms is None else max(0, low_ms), high, None if high_ms is None else max(0, high_ms)


def _ranges(
    reader: LogReader, topic: str, partition: int | None, bounds: tuple[int | None, int | None, int | None, int | None]
) -> OffsetRanges:
    """Per partition read, [start, end) clamped to what the log holds."""
    from_offset, from_ms, to_offset, to_ms = bounds
    marks = reader.watermarks(topic)
    if partition is not None and partition not in marks:
        raise bad_request(
            "partition_out_of_range", f"{topic} has partitions 0..{len(marks) - 1}, not {partition}", parameter="partition"
        )
    chosen = {p: m for p, m in marks.items() if partition is None or p == partition}
    starts = reader.offsets_at(topic, from_ms) if from_ms is not None else {}
    ends = reader.offsets_at(topic, to_ms) if to_ms is not None else {}
    ranges = {}
    for p, (low, high) in sorted(chosen.items()):
        start = max(low, starts.get(p, from_offset if from_offset is not None else low))
        end = min(high, ends.get(p, to_offset if to_offset is not None else high))
        ranges[p] = (start, max(start, end))
    return ranges


def _first(ranges: OffsetRanges, limit: int) -> OffsetRanges:
    """The ranges cut so that, read in order, they hold at most ``limit`` records."""
    left, cut = limit, {}
    for p, (start, end) in sorted(ranges.items()):
        take = min(left, end - start)
        cut[p] = (start, start + take)
        left -= take
    return cut


def _line(codec: EventCodec, record: RawRecord) -> dict[str, Any]:
    try:
        return record_view(codec, record, decode(codec, record))
    except UndecodableRecord as exc:
        return {
            "topic": record.topic, "partition": record.partition, "offset": record.offset,
            "timestamp_ms": record.timestamp_ms, "undecodable": exc.reason,
        }


def _stream(reader: LogReader, topic: str, ranges: OffsetRanges) -> Iterator[bytes]:
    """One chunk per batch read; the reader is closed when the stream ends or is dropped."""
    codec = EventCodec()
    try:
        for batch in reader.read(topic, ranges, READ_BATCH):
            yield "".join(json.dumps(_line(codec, r), separators=(",", ":")) + "\n" for r in batch).encode()
    finally:
        reader.close()


@router.get("/api/audit/events", summary="Decoded records of a topic, by offset or time, as JSON lines", response_class=StreamingResponse)
def audit_events(
    request: Request,
    topic: Annotated[str, Query(description="Catalog topic name: inputs, signals, intents, orders, fills...")],
    partition: Annotated[int | None, Query(description="Only this partition (default: all, one after another).")] = None,
    from_offset: Offset = None,
    from_time: Time = None,
    to_offset: Offset = None,
    to_time: Time = None,
    limit: Annotated[int | None, Query(description=f"Lines at most (1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}).")] = None,
) -> StreamingResponse:
    logical = _topic(topic)
    bounds = _bounds(from_offset, from_time, to_offset, to_time)
    size = params.limit(limit, DEFAULT_LIMIT, MAX_LIMIT)
    settings = request.app.state.settings
    if settings.bootstrap is None:
        raise ApiError(503, "broker_unavailable", "the API runs without a broker: the log cannot be read")
    broker_topic = settings.namespace.topic(logical)
    reader = LogReader(settings.bootstrap)
    try:
        ranges = _first(_ranges(reader, broker_topic, partition, bounds), size)
    except KafkaException as exc:
        reader.close()
        if isinstance(exc.args[0], str):  # LogReader's own "does not exist", not a broker error
            raise ApiError(404, "topic_missing", f"{broker_topic} is not on the broker: {exc}") from None
        raise ApiError(503, "broker_unavailable", f"cannot read {broker_topic}: {exc}") from None
    except BaseException:
        reader.close()
        raise
    shown = json.dumps({str(p): list(r) for p, r in ranges.items()}, separators=(",", ":"))
    return StreamingResponse(
        _stream(reader, broker_topic, ranges), media_type=NDJSON, headers={"X-Topic": broker_topic, "X-Offset-Ranges": shown}
    )


# --- the notary's checkpoints, verify runs and bundles ----------------------------------------------


def _trust(keys: Path | None, namespace: Namespace, audit: AuditLog) -> Trust | None:
    """The key directory's root (with the root's statements on the log), else its one notary key; None: neither."""
    if keys is None:
        return None
    try:
        if (keys / ROOT_PUBLIC_FILE).exists():
            return Trust.rooted(namespace.prefix, PublicKey.load(keys / ROOT_PUBLIC_FILE), audit.statements)
        if (keys / PUBLIC_FILE).exists():
            return Trust.pinned(namespace.prefix, PublicKey.load(keys / PUBLIC_FILE))
    except ValueError as exc:
        raise ApiError(503, "bad_trust_anchor", f"the key in {keys} cannot be read: {exc}") from None
    return None


def _trust_or_503(settings: ApiSettings, audit: AuditLog) -> Trust:
    trust = _trust(settings.audit_keys, settings.namespace, audit)
    if trust is None:
        raise ApiError(503, "no_trust_anchor", "the API is configured with no notary key directory holding root.pub "
                       "or notary.pub: it has nothing to verify against")
    return trust


def _chained(name: str) -> TopicSpec:
    spec = by_name(_topic(name))
    if spec not in EVENT_TOPICS:
        raise bad_request("not_chained", f"{spec.name} is not a topic the notary chains", parameter="topic")
    return spec


def _reader(settings: ApiSettings) -> LogReader:
    if settings.bootstrap is None:
        raise ApiError(503, "broker_unavailable", "the API runs without a broker: the log cannot be read")
    return LogReader(settings.bootstrap)


def _verdict(trust: Trust | None, checkpoint: Checkpoint) -> str | None:
    """As ``aitrader audit read`` prints it: the standing, or why the checkpoint proves nothing."""
    if trust is None:
        return None
    verdict = trust.judge(checkpoint)
    return verdict.standing.value if verdict.standing else verdict.problem


def _seal_row(spec: TopicSpec, partition: int, marks: tuple[int, int], latest: Checkpoint | None, trust: Trust | None) -> dict[str, Any]:
    start, end = marks
    sealed_end = start if latest is None else latest.last_offset + 1
    return {
        "topic": spec.name, "partition": partition, "log_start": start, "log_end": end,
        "sealed_through": None if latest is None else latest.last_offset,
        "unsealed": max(0, end - max(start, sealed_end)),
        "sequence": None if latest is None else latest.sequence,
        "records": None if latest is None else latest.records,
        "sealed_time": None if latest is None else iso_time(latest.last_timestamp_ms),
        "key_id": None if latest is None else latest.key_id,
        "verdict": None if latest is None else _verdict(trust, latest),
    }


@router.get("/api/audit/checkpoints", summary="Per chained topic partition: its latest checkpoint and how far seals reach")
def audit_checkpoints(request: Request) -> dict[str, Any]:
    settings: ApiSettings = request.app.state.settings
    try:
        with _reader(settings) as reader:
            audit = read_audit_log(reader, settings.namespace)
            trust = _trust(settings.audit_keys, settings.namespace, audit)
            # Per partition the furthest good seal; without one, the furthest of any, whose verdict says why it proves nothing.
            rank = {c.checkpoint_id: (_verdict(trust, c) == Standing.GOOD.value, c.last_offset, c.sequence) for c in audit.checkpoints}
            latest: dict[tuple[str, int], Checkpoint] = {}
            for c in audit.checkpoints:
                held = latest.get((c.topic, c.partition))
                if held is None or rank[c.checkpoint_id] > rank[held.checkpoint_id]:
                    latest[c.topic, c.partition] = c
            rows = [
                _seal_row(spec, p, marks, latest.get((spec.name, p)), trust)
                for spec in EVENT_TOPICS
                for p, marks in sorted(reader.watermarks(settings.namespace.topic(spec)).items())
            ]
    except KafkaException as exc:
        raise ApiError(503, "broker_unavailable", f"cannot read the log: {exc}") from None
    return {
        "data": rows, "checkpoints": len(audit.checkpoints), "key_statements": len(audit.statements),
        "trust": None if trust is None else trust.source or trust.anchor.key_id, "problems": audit.problems,
    }


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(description="Chained topic to verify: inputs, signals, intents, orders, fills...")
    from_time: str | None = Field(None, description="Only records stamped at or after this time (ISO 8601 with zone).")
    to_time: str | None = Field(None, description="Only records stamped before this time.")


@dataclass
class VerifyRun:
    id: str
    topic: TopicSpec
    bounds: tuple[int | None, int | None, int | None, int | None]
    request: dict[str, Any]
    queued_ms: int
    state: str = QUEUED
    partitions: int | None = None  # known once the run has read the topic's partitions
    reports: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the audit topic's and the trust's, beside the partitions'
    trust: str | None = None
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id, "topic": self.topic.name, "request": self.request, "state": self.state,
            "queued_at": iso_time(self.queued_ms), "trust": self.trust, "error": self.error,
            "progress": {"partitions": self.partitions, "verified": len(self.reports)},
            "reports": list(self.reports), "problems": list(self.problems),
        }


def _report_view(report: PartitionReport) -> dict[str, Any]:
    return {
        "partition": report.partition, "records": report.records, "first_offset": report.first_offset,
        "last_offset": report.last_offset, "anchor": report.anchor, "checkpoints_matched": report.checkpoints_matched,
        "proven_through": report.proven_through, "unsealed": report.unsealed, "ok": report.ok,
        "problems": list(report.problems), "notes": list(report.notes),
    }


class VerifyRuns:
    """Verify runs on one worker thread, one run at a time: a long verification never holds the event loop or a request's thread."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self._runs: dict[str, VerifyRun] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify")

    def submit(self, spec: TopicSpec, bounds: tuple[int | None, int | None, int | None, int | None],
               request: dict[str, Any]) -> VerifyRun:
        with self._lock:
            busy = next((r for r in self._runs.values() if r.state in (QUEUED, RUNNING)), None)
            if busy is not None:  # one at a time: a second would only queue behind it and keep a core busy
                raise ApiError(409, "verify_running", f"verify run {busy.id} of {busy.topic.name} is still running")
            run = VerifyRun(str(uuid.uuid4()), spec, bounds, request, int(time.time() * 1000))
            self._runs[run.id] = run
            done = [r for r in self._runs.values() if r.state not in (QUEUED, RUNNING)]
            for old in done[: max(0, len(self._runs) - KEPT_RUNS)]:
                del self._runs[old.id]
        self._executor.submit(self._run, run)
        return run

    def get(self, run_id: str) -> VerifyRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def runs(self) -> list[VerifyRun]:
        with self._lock:
            return list(self._runs.values())

    def _run(self, run: VerifyRun) -> None:
        run.state = RUNNING
        settings = self.settings
        try:
            with _reader(settings) as reader:
                audit = read_audit_log(reader, settings.namespace)
                trust = _trust_or_503(settings, audit)
                run.trust = trust.source or trust.anchor.key_id
                ranges = _ranges(reader, settings.namespace.topic(run.topic), None, run.bounds)
                run.partitions = len(ranges)
                for partition, offsets in sorted(ranges.items()):  # one at a time, so the page can show progress
                    (report,) = verify_log(reader, settings.namespace, run.topic, trust, audit, {partition: offsets})
                    run.reports.append(_report_view(report))
            run.problems = [*audit.problems, *trust.problems]
            run.state = VERIFIED if all(r["ok"] for r in run.reports) and not run.problems else FAILED
        except ApiError as exc:
            run.error, run.state = exc.message, ERROR
        except Exception as exc:  # a run that cannot finish says why on its page, not only in a log
            run.error, run.state = f"{type(exc).__name__}: {exc}", ERROR

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@router.post("/api/audit/verify", status_code=202, summary="Start verifying a topic's hash chains against the signed checkpoints")
def start_verify(request: Request, body: VerifyRequest) -> JSONResponse:
    spec = _chained(body.topic)
    bounds = _bounds(None, body.from_time, None, body.to_time)
    settings: ApiSettings = request.app.state.settings
    _reader(settings).close()  # no broker or no key to trust: refused now, not as a failed run
    _trust_or_503(settings, AuditLog())
    run = request.app.state.audit_runs.submit(spec, bounds, body.model_dump())
    return JSONResponse(run.view(), status_code=202, headers={"Location": f"/api/audit/verify/{run.id}"})


@router.get("/api/audit/verify", summary="The verify runs this API process started")
def list_verify(request: Request) -> dict[str, Any]:
    return {"data": [run.view() for run in request.app.state.audit_runs.runs()]}


@router.get("/api/audit/verify/{run_id}", summary="Progress and result of one verify run")
def get_verify(request: Request, run_id: str) -> dict[str, Any]:
    run = request.app.state.audit_runs.get(params.identifier(run_id, "run_id"))
    if run is None:
        raise ApiError(404, "not_found", f"no verify run {run_id} in this API process (runs are kept per process)")
    return run.view()


class _Chunks:
    """A write-only file for ``tarfile``'s stream mode: what it wrote is taken out chunk by chunk."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        taken, self._parts = b"".join(self._parts), []
        return taken


def _tar_stream(directory: Path, name: str, scratch: Path) -> Iterator[bytes]:
    """``directory`` as a gzipped tar under ``name/``, a file at a time; ``scratch`` is removed when the stream ends."""
    try:
        sink = _Chunks()
        with tarfile.open(fileobj=sink, mode="w|gz") as tar:  # type: ignore[call-overload]
            for path in sorted(directory.rglob("*")):
                tar.add(path, arcname=f"{name}/{path.relative_to(directory)}", recursive=False)
                if chunk := sink.take():
                    yield chunk
        yield sink.take()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@router.get(
    "/api/audit/bundle", summary="An offline audit bundle of a topic's range, as a gzipped tar", response_class=StreamingResponse
)
def audit_bundle(
    request: Request,
    topic: Annotated[str, Query(description="Chained topic to export: inputs, signals, intents, orders, fills...")],
    from_time: Time = None,
    to_time: Time = None,
) -> StreamingResponse:
    spec = _chained(topic)
    bounds = _bounds(None, from_time, None, to_time)
    settings: ApiSettings = request.app.state.settings
    scratch = Path(tempfile.mkdtemp(prefix="aitrader-bundle-"))
    name = f"audit-{settings.namespace.topic(spec)}"
    try:
        with _reader(settings) as reader:
            audit = read_audit_log(reader, settings.namespace)
            trust = _trust_or_503(settings, audit)
            ranges = _ranges(reader, settings.namespace.topic(spec), None, bounds)
            export(reader, settings.namespace, spec, trust, audit, ranges, scratch / name)
    except BundleError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        raise ApiError(409, "not_exportable", str(exc)) from None
    except KafkaException as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        raise ApiError(503, "broker_unavailable", f"cannot read the log: {exc}") from None
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return StreamingResponse(
        _tar_stream(scratch / name, name, scratch), media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{name}.tar.gz"'},
    )
