"""Determinism digests: what they are sensitive to, what they ignore, and the first difference they report."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from decimal import Decimal

import pytest

from contract.digest import (
    FieldDifference,
    LoggedEvent,
    deduplicated,
    field_differences,
    first_divergence,
    partition_digest,
    sequence_sha256,
    topic_digest,
)
from contract.events import (
    Envelope,
    Event,
    OrderAccepted,
    OrderIntent,
    OrderType,
    Side,
    Signal,
    TimeInForce,
)
from contract.ids import id_from_record
from contract.serde import EventCodec

CODEC = EventCodec()
T0 = 1378159200000


def _intent(n: int, quantity: str = "1", side: Side = Side.BUY) -> OrderIntent:
    event_id = id_from_record("inputs", 1, n)
    return OrderIntent(
        envelope=Envelope(event_id, T0 + n, "kernel/0.1.0", "sig", "sig"),
        symbol="ES", signal_id="sig", side=side, order_type=OrderType.MARKET, quantity=Decimal(quantity),
        limit_price=None, time_in_force=TimeInForce.DAY, score=Decimal("0.5"), model_name="baseline", model_version="1.0.0",
    )


def _signal(n: int, zscore: float = 1.0) -> Signal:
    event_id = id_from_record("inputs", 1, n)
    return Signal(Envelope(event_id, T0 + n, "kernel/0.1.0", None, event_id), "ES", "breakout", Decimal("0.4"), {"zscore": zscore, "vwap_distance": 0.5})


def _logged(events: Sequence[Event], first_offset: int = 0) -> list[LoggedEvent]:
    return [LoggedEvent(1, first_offset + i, e.event_time_ms, CODEC.encode(e), e) for i, e in enumerate(events)]


def test_the_sequence_digest_is_sha256_over_length_prefixed_values() -> None:
    values = [b"abc", b"", b"\x00\x01"]
    expected = hashlib.sha256(b"".join(len(v).to_bytes(8, "big") + v for v in values)).hexdigest()
    assert sequence_sha256(values) == expected
    # Without the length prefix these two sequences would hash alike.
    assert sequence_sha256([b"ab", b"c"]) != sequence_sha256([b"a", b"bc"])
    assert sequence_sha256([]) == hashlib.sha256().hexdigest()


def test_duplicates_by_event_id_are_dropped_keeping_the_first_in_log_order() -> None:
    events = _logged([_intent(1), _intent(2)])
    repeated = [events[0], events[1], dataclasses.replace(events[0], offset=7)]
    kept, repeats = deduplicated(repeated)
    assert [r.offset for r in kept] == [0, 1]
    assert repeats == 1
    assert partition_digest(1, repeated).sha256 == partition_digest(1, events).sha256
    assert partition_digest(1, repeated).duplicates == 1


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda es: es[::-1], "order matters"),
        (lambda es: es[:-1], "a missing event"),
        (lambda es: [es[0], _intent(2, quantity="2")], "a changed field"),
        (lambda es: [*es, _intent(3)], "an extra event"),
    ],
)
def test_the_digest_changes_with_any_change_of_the_sequence(change: Callable[[list[Event]], list[Event]], why: str) -> None:
    base: list[Event] = [_intent(1), _intent(2)]
    assert partition_digest(1, _logged(change(base))).sha256 != partition_digest(1, _logged(base)).sha256, why


def test_topic_digest_covers_the_given_partitions_even_when_one_side_has_none() -> None:
    with_records = topic_digest("intents", {1: _logged([_intent(1)])}, [0, 1])
    assert [p.partition for p in with_records.partitions] == [0, 1]
    assert with_records.partitions[0].events == 0 and with_records.events == 1
    moved = topic_digest("intents", {0: _logged([_intent(1)])}, [0, 1])
    assert moved.sha256 != with_records.sha256  # the same event on another partition is a difference


def test_identical_sequences_have_no_divergence() -> None:
    events = [_signal(1), _signal(2)]
    assert first_divergence("signals", 1, _logged(events), _logged(events, first_offset=100)) is None


def test_the_first_divergence_names_the_index_offsets_and_differing_fields_payload_first() -> None:
    live = _logged([_intent(1), _intent(2, quantity="1"), _intent(3)], first_offset=10)
    replay = _logged([_intent(1), _intent(2, quantity="3", side=Side.SELL), _intent(3)], first_offset=0)
    found = first_divergence("intents", 1, live, replay)
    assert found is not None
    assert (found.topic, found.partition, found.index) == ("intents", 1, 1)
    assert found.live is not None and found.replay is not None
    assert (found.live.offset, found.replay.offset) == (11, 1)
    assert found.fields == (FieldDifference("side", Side.BUY, Side.SELL), FieldDifference("quantity", Decimal(1), Decimal(3)))


def test_a_shorter_side_diverges_where_it_runs_out() -> None:
    live = _logged([_intent(1), _intent(2)])
    found = first_divergence("intents", 1, live, live[:1])
    assert found is not None and found.index == 1 and found.replay is None and found.fields == ()


@pytest.mark.parametrize(
    ("live", "replay", "expected"),
    [
        (_signal(1, zscore=1.0), _signal(1, zscore=1.5), (FieldDifference("features.zscore", 1.0, 1.5),)),
        (_intent(1), _intent(2), (FieldDifference("envelope.event_id", _intent(1).event_id, _intent(2).event_id),
                                  FieldDifference("envelope.event_time_ms", T0 + 1, T0 + 2))),
        (_intent(1), OrderAccepted(_intent(1).envelope, "o", "ES"), (FieldDifference("type", "OrderIntent", "OrderAccepted"),)),
        (_intent(1), _intent(1), (FieldDifference("encoding", "bytes differ", "decoded events are equal"),)),
    ],
)
def test_field_differences(live: Event, replay: Event, expected: tuple[FieldDifference, ...]) -> None:
    assert field_differences(live, replay) == expected
