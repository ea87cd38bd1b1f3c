"""Every dead letter names its source by the catalog's plain topic name, whatever namespace the record came from.

A replay in its own namespace must derive the same bytes as live, so nothing derived may carry a broker name.
"""

from __future__ import annotations

from decimal import Decimal

from contract.events import ConfigChanged, DeadLettered, Envelope, Tick
from contract.records import RawRecord
from contract.serde import EventCodec
from contract.topics import DEAD_LETTER, INPUTS, SIGNALS, Namespace
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.runner import KernelRunner, dead_letter
from kernel.settings import KernelSettings

T0 = 1378184400000  # 2013-09-03 00:00 America/Chicago
NAMESPACES = (Namespace(), Namespace("test.ab12."), Namespace("replay.day."))


def _runner() -> KernelRunner:
    return KernelRunner(TradingKernel(0, KernelSettings.parse(), BaselineScorer()))


def _undecodable(namespace: Namespace, offset: int) -> RawRecord:
    return RawRecord(namespace.topic(INPUTS), 0, offset, T0, b"ES", b"\xc3\x01 not avro", ())


def test_an_undecodable_input_is_dead_lettered_under_the_plain_topic_name_in_every_namespace() -> None:
    codec = EventCodec()
    encoded = set()
    for namespace in NAMESPACES:
        (routed,) = _runner().apply(_undecodable(namespace, 3))
        assert isinstance(routed.event, DeadLettered)
        assert (routed.spec, routed.event.source_topic, routed.key) == (DEAD_LETTER, INPUTS.name, INPUTS.name)
        encoded.add(codec.encode(routed.event))
    assert len(encoded) == 1  # the same bytes, live or in any replay namespace


def test_a_decode_dead_letter_and_a_refusal_name_their_source_alike() -> None:
    runner = _runner()
    codec = EventCodec()
    tick = Tick(Envelope("in-1", T0, "test", None, "in-1"), "ES", "CME", 1, Decimal("1650.25"), Decimal(1))
    runner.apply(RawRecord("test.ab12.inputs", 0, 0, T0, b"ES", codec.encode(tick), ()))
    change = ConfigChanged(Envelope("in-2", T0 + 1000, "test", None, "in-2"), None, {"risk.max_order_qty": "-3"}, "typo", "ops")
    (refused,) = runner.apply(RawRecord("test.ab12.inputs", 0, 1, T0 + 1000, b"", codec.encode(change), ()))
    (undecodable,) = runner.apply(_undecodable(Namespace("test.ab12."), 2))
    assert isinstance(refused.event, DeadLettered) and isinstance(undecodable.event, DeadLettered)
    assert (refused.event.error_type, undecodable.event.error_type) == ("BadConfig", "DecodeError")
    assert refused.event.source_topic == undecodable.event.source_topic == INPUTS.name
    assert refused.key == undecodable.key


def test_a_projector_dead_letter_names_the_plain_topic_and_keeps_its_own_id() -> None:
    record = RawRecord("test.ab12.signals", 2, 7, T0, b"ES", b"bad", ())
    kernels = dead_letter(record, SIGNALS.name, "kernel", "bad")
    projectors = dead_letter(record, SIGNALS.name, "projection", "bad", "DecodeError", f"projection:{SIGNALS.name}")
    assert kernels.source_topic == projectors.source_topic == SIGNALS.name
    assert kernels.event_id != projectors.event_id  # a projector's dead letter never collides with the kernel's own
