"""Avro single-object encoding of domain events.

Wire format (Avro spec, "Single object encoding"): ``C3 01`` + the writer
schema's 8-byte CRC-64-AVRO fingerprint (little-endian) + the Avro binary body.
The fingerprint is content-addressed, so the same event gives the same bytes on
any cluster, which replay digests and audit chains rely on.

Decode once at the edge, encode once on the way out: the pure stages only see
the dataclasses of ``contract.events``.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from contract.events import ALL_EVENT_TYPES, Envelope, Event, Tick
from contract.scaled import SCALED_SUFFIX, from_scaled, to_scaled
from contract.schema_registry import SchemaRegistry, default_registry
from contract.tick_decoder import TICK_FINGERPRINT, decode_tick

MAGIC = b"\xc3\x01"
HEADER_LENGTH = len(MAGIC) + 8


class DecodeError(ValueError):
    """Bytes that are not a decodable AITrader event; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EncodeError(ValueError):
    """An event that does not fit its schema (e.g. a price with too many decimals)."""


Converter = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _optional(convert: Converter) -> Converter:
    return lambda value: None if value is None else convert(value)


@dataclasses.dataclass(frozen=True)
class _FieldPlan:
    attribute: str
    avro_name: str
    to_wire: Converter
    from_wire: Converter


def _converters(tp: Any) -> tuple[str, Converter, Converter]:
    """(suffix for the Avro name, to-wire, from-wire) for one annotated type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = next(arg for arg in typing.get_args(tp) if arg is not type(None))
        suffix, to_wire, from_wire = _converters(inner)
        return suffix, _optional(to_wire), _optional(from_wire)
    if tp is Decimal:
        return SCALED_SUFFIX, to_scaled, from_scaled
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "", lambda member: member.value, tp
    if tp is Envelope:
        return "", _envelope_to_wire, _envelope_from_wire
    if origin is dict:
        return "", dict, dict
    return "", _identity, _identity


def _envelope_to_wire(envelope: Envelope) -> dict[str, Any]:
    return {
        "event_id": envelope.event_id,
        "event_time_ms": envelope.event_time_ms,
        "producer": envelope.producer,
        "causation_id": envelope.causation_id,
        "correlation_id": envelope.correlation_id,
    }


def _envelope_from_wire(record: dict[str, Any]) -> Envelope:
    return Envelope(**record)


def _plan(event_type: type[Event]) -> tuple[_FieldPlan, ...]:
    hints = typing.get_type_hints(event_type)
    plans = []
    for f in dataclasses.fields(event_type):
        suffix, to_wire, from_wire = _converters(hints[f.name])
        plans.append(_FieldPlan(f.name, f.name + suffix, to_wire, from_wire))
    return tuple(plans)


class EventCodec:
    """Encodes events of ``contract.events`` and decodes any released version of them."""

    def __init__(self, registry: SchemaRegistry | None = None) -> None:
        self.registry = registry or default_registry()
        self._plans = {t.SCHEMA: _plan(t) for t in ALL_EVENT_TYPES}
        self._types = {t.SCHEMA: t for t in ALL_EVENT_TYPES}
        # Ticks written and read with the schema ``contract.tick_decoder`` is written for skip fastavro's dicts.
        tick = self.registry.current.get(Tick.SCHEMA)
        self._tick_header = MAGIC + TICK_FINGERPRINT if tick is not None and tick.fingerprint == TICK_FINGERPRINT else None

    def to_record(self, event: Event) -> dict[str, Any]:
        """The Avro datum (a dict) of an event."""
        try:
            return {p.avro_name: p.to_wire(getattr(event, p.attribute)) for p in self._plans[event.SCHEMA]}
        except (ValueError, TypeError, AttributeError) as exc:
            raise EncodeError(f"{type(event).__name__}: {exc}") from exc

    def from_record(self, full_name: str, record: dict[str, Any]) -> Event:
        event_type = self._types[full_name]
        return event_type(**{p.attribute: p.from_wire(record[p.avro_name]) for p in self._plans[full_name]})

    def encode(self, event: Event) -> bytes:
        schema = self.registry.reader(event.SCHEMA)
        buffer = io.BytesIO()
        buffer.write(MAGIC)
        buffer.write(schema.fingerprint)
        try:
            schemaless_writer(buffer, schema.parsed, self.to_record(event))
        except (ValueError, TypeError) as exc:
            raise EncodeError(f"{type(event).__name__}: {exc}") from exc
        return buffer.getvalue()

    def decode_record(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """(full name, Avro datum resolved to the current reader schema)."""
        if data is None or len(data) < HEADER_LENGTH:
            raise DecodeError(f"too short for single-object encoding ({0 if data is None else len(data)} bytes)")
        if data[:2] != MAGIC:
            raise DecodeError(f"bad marker {data[:2].hex()}, expected c301 (not Avro single-object encoded)")
        writer = self.registry.writer(data[2:HEADER_LENGTH])
        if writer is None:
            raise DecodeError(f"unknown schema fingerprint {data[2:HEADER_LENGTH].hex()}")
        reader = self.registry.current.get(writer.full_name)
        if reader is None:
            raise DecodeError(f"{writer.full_name} has no current reader schema")
        body = io.BytesIO(data)
        body.seek(HEADER_LENGTH)
        try:
            if reader.fingerprint == writer.fingerprint:
                record = schemaless_reader(body, writer.parsed, None)
            else:
                record = schemaless_reader(body, writer.parsed, reader.parsed)
        except Exception as exc:  # fastavro raises many types on corrupt bodies; all mean "undecodable"
            raise DecodeError(f"corrupt {writer.full_name} body: {type(exc).__name__}: {exc}") from exc
        if body.tell() != len(data):
            raise DecodeError(f"{len(data) - body.tell()} trailing bytes after a {writer.full_name} body")
        return writer.full_name, record

    def decode(self, data: bytes) -> Event:
        if self._tick_header is not None and data is not None and data.startswith(self._tick_header):
            tick = decode_tick(data, HEADER_LENGTH)
            if tick is not None:
                return tick
            # Not a well-formed tick: fastavro below decodes it or says why not, as for any other event.
        full_name, record = self.decode_record(data)
        try:
            return self.from_record(full_name, record)
        except (ValueError, TypeError, KeyError) as exc:
            raise DecodeError(f"{full_name} does not map onto its event type: {exc}") from exc
