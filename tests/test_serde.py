"""Avro single-object encoding of every event: round trips, framing, and decode failures."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings

from contract.events import ALL_EVENT_TYPES, Envelope, Event, Tick
from contract.scaled import InexactScaleError, from_scaled, to_scaled
from contract.serde import MAGIC, DecodeError, EncodeError, EventCodec
from tests.event_strategies import ANY_EVENT

CODEC = EventCodec()


def _tick(price: str = "1650.25") -> Tick:
    return Tick(Envelope("id-1", 1378184425350, "ingest/test", None, "id-1"), "ES", "CME", 7, Decimal(price), Decimal("3"))


@settings(max_examples=300)
@given(ANY_EVENT)
def test_every_event_type_round_trips(event: Event) -> None:
    data = CODEC.encode(event)
    assert data[:2] == MAGIC
    assert data[2:10] == CODEC.registry.reader(event.SCHEMA).fingerprint
    assert CODEC.decode(data) == event


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES, ids=lambda t: t.__name__)
def test_each_schema_fingerprint_is_distinct_and_known(event_type: type[Event]) -> None:
    schema = CODEC.registry.reader(event_type.SCHEMA)
    others = [CODEC.registry.reader(t.SCHEMA).fingerprint for t in ALL_EVENT_TYPES if t is not event_type]
    assert schema.fingerprint not in others
    assert CODEC.registry.writer(schema.fingerprint) is not None


def test_same_event_gives_same_bytes() -> None:
    assert CODEC.encode(_tick()) == EventCodec().encode(_tick())


def test_scaled_integers_are_exact() -> None:
    assert to_scaled(Decimal("1650.25")) == 165_025_000_000
    assert from_scaled(165_025_000_000) == Decimal("1650.25")
    assert to_scaled(Decimal("-0.00000001")) == -1
    with pytest.raises(InexactScaleError):
        to_scaled(Decimal("0.000000001"))


def test_a_price_with_too_many_decimals_is_refused_not_rounded() -> None:
    with pytest.raises(EncodeError, match="more than 8 decimal places"):
        CODEC.encode(_tick("1650.123456789"))


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda b: b[:5], "too short"),
        (lambda b: b"\x00\x01" + b[2:], "bad marker"),
        (lambda b: b[:2] + b"\xff" * 8 + b[10:], "unknown schema fingerprint"),
        (lambda b: b[:-3], "corrupt"),
        (lambda b: b + b"\x00", "trailing bytes"),
    ],
    ids=["truncated-header", "marker", "fingerprint", "truncated-body", "trailing"],
)
def test_undecodable_bytes_raise_decode_error_with_reason(mangle, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DecodeError, match=reason):
        CODEC.decode(mangle(CODEC.encode(_tick())))


def test_record_fields_follow_the_scale_suffix_convention() -> None:
    record = CODEC.to_record(_tick())
    assert record["price_e8"] == 165_025_000_000
    assert "price" not in record
    assert record["envelope"]["event_id"] == "id-1"
    assert dataclasses.replace(_tick(), sequence=8) != CODEC.decode(CODEC.encode(_tick()))
