"""Poison on the inputs: floods of bad records among good ones; each dead-lettered with its reason, nothing crashes.

Seeded floods go onto every input partition between the multi-symbol day's
inputs: malformed bytes, truncated ticks, ticks under an unknown schema
fingerprint, well-formed events that are not kernel inputs (wrong schema for
the topic), exact duplicates of ticks already applied, and earlier ticks sent
again under new ids (out of order). The live worker and the projector run over
them. Each bad record must reach the dead-letter topic once per stage that
refuses it, at its own offset, with the reason its stage gives; the good
records must derive what the pure kernel derives; both processes must finish.
"""

from __future__ import annotations

import dataclasses
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from contract.events import DeadLettered, Envelope, Event, Tick
from contract.ids import id_from_parts
from contract.records import decode
from contract.serde import HEADER_LENGTH, MAGIC, DecodeError
from contract.topics import DEAD_LETTER, FILLS, INPUTS, Namespace
from eventlog.producer import EventProducer
from kernel.settings import KernelSettings
from projections.projector import Projector
from tests.faults.chaos import chaos_seed
from tests.multi_symbol_day import SETTINGS, partition_inputs
from tests.scratch import drop_with_companions, fresh_schema
from tests.workers import (
    CODEC,
    WorkerGroup,
    as_outputs,
    derived_on_log,
    first_difference,
    pure_kernel,
    read_records,
)

pytestmark = pytest.mark.infra

EVERY = 200  # about 6,800 good inputs over the three partitions
FLOOD = 20  # bad records of each kind on each partition
RUN_S = 240.0
UNDECODABLE = ("malformed", "truncated", "unknown-schema")
KINDS = (*UNDECODABLE, "wrong-schema", "duplicate", "out-of-order")


@dataclass(frozen=True)
class Poison:
    kind: str
    value: bytes
    error_type: str
    reason: str  # the kernel's exact reason, or a part of it


def _decode_reason(value: bytes) -> str:
    try:
        CODEC.decode(value)
    except DecodeError as exc:
        return exc.reason
    raise AssertionError(f"{value[:16].hex()}... decodes: it is no poison")


def _undecodable(value: bytes) -> tuple[str, str]:
    return "DecodeError", _decode_reason(value)


def _poisons(rng: random.Random, earlier: list[Tick], foreign: Event) -> dict[str, Callable[[], Poison]]:
    """The makers of each kind of bad record, given the good ticks already on the partition."""

    def malformed() -> Poison:
        value = bytes([rng.randrange(0xC3)]) + rng.randbytes(rng.randrange(40))  # never the C3 01 marker
        return Poison("malformed", value, *_undecodable(value))

    def truncated() -> Poison:
        whole = CODEC.encode(rng.choice(earlier))
        value = whole[: rng.randrange(HEADER_LENGTH + 1, len(whole) - 1)]
        return Poison("truncated", value, *_undecodable(value))

    def unknown_schema() -> Poison:
        value = MAGIC + rng.randbytes(8) + CODEC.encode(rng.choice(earlier))[HEADER_LENGTH:]
        return Poison("unknown-schema", value, *_undecodable(value))

    def wrong_schema() -> Poison:
        return Poison("wrong-schema", CODEC.encode(foreign), "UnexpectedInput", f"{type(foreign).__name__} is not a kernel input")

    def duplicate() -> Poison:
        return Poison("duplicate", CODEC.encode(rng.choice(earlier)), "DuplicateTick", "is not after the last one applied")

    def out_of_order() -> Poison:
        tick = rng.choice(earlier)
        again = dataclasses.replace(tick, envelope=dataclasses.replace(
            tick.envelope, event_id=id_from_parts("poison", tick.event_id, rng.randrange(1 << 30))))
        return Poison("out-of-order", CODEC.encode(again), "DuplicateTick", "is not after the last one applied")

    return {"malformed": malformed, "truncated": truncated, "unknown-schema": unknown_schema,
            "wrong-schema": wrong_schema, "duplicate": duplicate, "out-of-order": out_of_order}


def _flooded(rng: random.Random, inputs: dict[int, list[Event]], foreign: Event) -> dict[int, list[Event | Poison]]:
    """Each partition's inputs with FLOOD bad records of each kind at seeded places after its first tick."""
    flooded: dict[int, list[Event | Poison]] = {}
    for partition, events in inputs.items():
        ticks = [i for i, e in enumerate(events) if isinstance(e, Tick)]
        places = sorted(rng.choices(range(ticks[0] + 1, len(events) + 1), k=FLOOD * 6))
        kinds = [kind for kind in KINDS for _ in range(FLOOD)]
        rng.shuffle(kinds)
        out: list[Event | Poison] = []
        earlier: list[Tick] = []
        makers = _poisons(rng, earlier, foreign)
        done = 0
        for place, kind in zip(places, kinds, strict=True):
            out += events[done:place]
            earlier += [e for e in events[done:place] if isinstance(e, Tick)]
            done = place
            out.append(makers[kind]())
        flooded[partition] = out + events[done:]
    return flooded


def _put(bootstrap: str, namespace: Namespace, flooded: dict[int, list[Event | Poison]]) -> None:
    producer = EventProducer(bootstrap, namespace)
    topic = namespace.topic(INPUTS)
    for partition, items in sorted(flooded.items()):
        key, time_ms = "*", 1
        for item in items:
            if isinstance(item, Poison):  # keyed and stamped like the good record before it
                producer.send_raw(topic, key.encode(), item.value, time_ms, partition=partition)
                continue
            key, time_ms = getattr(item, "symbol", None) or "*", item.event_time_ms
            producer.send_raw(topic, key.encode(), CODEC.encode(item), time_ms, partition=partition)
    producer.flush()


def test_floods_of_bad_inputs_are_each_dead_lettered_with_their_reason_and_good_ones_flow_on(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, tmp_path: Path
) -> None:
    seed = chaos_seed()
    print(f"poison seed {seed} (AITRADER_CHAOS_SEED={seed} replays it)", file=sys.stderr)
    rng = random.Random(seed)
    settings = KernelSettings.parse(SETTINGS)
    inputs = partition_inputs(every=EVERY)
    foreign = Envelope(id_from_parts("poison", "foreign"), 1, "poison/test", None, id_from_parts("poison", "foreign"))
    flooded = _flooded(rng, inputs, DeadLettered(foreign, "fills", 0, 0, "test", "Test", "a dead letter is no input", None, None))
    _put(kafka_bootstrap, namespace, flooded)
    bad = {(p, offset): item for p, items in flooded.items() for offset, item in enumerate(items) if isinstance(item, Poison)}

    settings_file = tmp_path / "settings.conf"
    settings_file.write_text("".join(f"{k}={v}\n" for k, v in SETTINGS.items()))
    with WorkerGroup(kafka_bootstrap, namespace, tmp_path / "logs", settings_file) as group:
        group.start()
        group.wait_until_committed(RUN_S)
        codes = group.stop()
    assert set(codes.values()) == {0}, group.tails()
    schema = fresh_schema(database_url, "poison")
    try:
        totals = Projector(kafka_bootstrap, database_url, schema, namespace).run(stop_at_end=True)
    finally:
        drop_with_companions(database_url, schema)

    letters = {}
    for record in read_records(kafka_bootstrap, namespace, DEAD_LETTER):
        letter = decode(CODEC, record)
        assert isinstance(letter, DeadLettered)
        assert letters.setdefault(letter.event_id, letter) == letter
    by_stage: dict[str, dict[tuple[int, int], DeadLettered]] = {}
    for letter in letters.values():
        # An undecodable record's letter names the topic as read (kernel.runner.dead_letter), a refusal the logical one.
        assert letter.source_topic in {INPUTS.name, namespace.topic(INPUTS)}, letter
        where = (letter.source_partition, letter.source_offset)
        assert where not in by_stage.setdefault(letter.stage, {}), f"{letter.stage} dead-lettered {where} twice"
        by_stage[letter.stage][where] = letter

    kernel = by_stage.pop("kernel", {})
    assert set(kernel) == set(bad), (f"{len(set(bad) - set(kernel))} bad records not dead-lettered by the kernel, "
                                     f"{len(set(kernel) - set(bad))} good ones dead-lettered")
    for where, poison in bad.items():
        letter = kernel[where]
        assert letter.error_type == poison.error_type and poison.reason in letter.reason, (poison.kind, letter)
        if poison.kind in UNDECODABLE:
            assert letter.value == poison.value  # kept whole, to be looked at
    # The projector indexes every decodable input and dead-letters each undecodable one, once.
    undecodable = {where for where, poison in bad.items() if poison.kind in UNDECODABLE}
    assert {where for letters_ in by_stage.values() for where in letters_} == undecodable, sorted(by_stage)
    assert totals.dead == len(undecodable)

    # The good records flowed on: what the worker derived is what the pure kernel derives from the same log.
    derived = pure_kernel(read_records(kafka_bootstrap, namespace, INPUTS), settings)
    expected, got = as_outputs(derived), derived_on_log(kafka_bootstrap, namespace)
    assert {p for topic, p in expected if topic == FILLS.name} == {0, 1, 2}, "the good inputs must trade on every partition"
    assert got == expected, first_difference(got, expected)
    counted = Counter(poison.kind for poison in bad.values())
    print(f"bad records: {sum(counted.values())} ({dict(counted)}), each dead-lettered by the kernel; "
          f"{len(undecodable)} also by the projector; good inputs {sum(len(v) for v in inputs.values()):,}", file=sys.stderr)
