"""The ingest wall-clock header (issue 12) never reaches derived event bytes."""

from __future__ import annotations

from contract.records import INGEST_WALL_HEADER, RawRecord
from contract.serde import EventCodec
from kernel.runner import dead_letter


def record(headers: tuple[tuple[str, bytes], ...]) -> RawRecord:
    return RawRecord("inputs", 1, 42, 1_378_000_000_000, b"ES", b"not avro", headers)


def test_a_dead_letter_of_a_record_with_the_ingest_header_has_the_same_bytes_as_without_it() -> None:
    codec = EventCodec()
    plain = codec.encode(dead_letter(record((("trace", b"x"),)), "inputs", "kernel", "bad"))
    stamped = codec.encode(dead_letter(record(((INGEST_WALL_HEADER, b"1764600000000"), ("trace", b"x"))), "inputs", "kernel", "bad"))
    assert stamped == plain
