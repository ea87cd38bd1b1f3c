"""Events as JSON for people and auditors: decimals as strings, bytes as hex, times kept as integers."""

from __future__ import annotations

import dataclasses
import enum
from decimal import Decimal
from typing import Any

from contract.events import Event
from contract.records import RawRecord
from contract.serde import HEADER_LENGTH, EventCodec


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def event_fields(event: Event) -> dict[str, Any]:
    """The event's payload (envelope included) as JSON-ready values."""
    names = [f.name for f in dataclasses.fields(event) if f.name != "envelope"]
    return {name: _plain(getattr(event, name)) for name in names} | {
        "envelope": _plain(
            {
                "event_id": event.envelope.event_id,
                "event_time_ms": event.envelope.event_time_ms,
                "producer": event.envelope.producer,
                "causation_id": event.envelope.causation_id,
                "correlation_id": event.envelope.correlation_id,
            }
        )
    }


def record_view(codec: EventCodec, record: RawRecord, event: Event) -> dict[str, Any]:
    """One log record as auditors read it: where it sits, what it is, what it says."""
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp_ms": record.timestamp_ms,
        "key": record.key.decode(errors="replace") if record.key is not None else None,
        "headers": {k: v.hex() if v is not None else None for k, v in record.headers},
        "type": type(event).__name__,
        "schema_fingerprint": record.value[2:HEADER_LENGTH].hex() if record.value else None,
        "event": event_fields(event),
    }
