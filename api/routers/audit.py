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
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from confluent_kafka import KafkaException
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api import params
from api.auth import AUDIT, require
from api.errors import ApiError, bad_request
from contract.jsonview import record_view
from contract.records import RawRecord
from contract.serde import EventCodec
from contract.topics import CATALOG, by_name
from eventlog.consumer import LogReader, OffsetRanges, UndecodableRecord, decode

router = APIRouter(tags=["audit"], dependencies=[Depends(require(*AUDIT))])
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
