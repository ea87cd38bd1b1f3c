"""The hand-specialised tick decoder agrees with fastavro's decode, or steps aside so that fastavro decides.

The reference is the general path of ``contract.serde``: fastavro's datum mapped onto the dataclasses.
Ticks are compared by ``repr`` as well as ``==``, since ``Decimal`` equality ignores the exponent and the
bytes the kernel derives do not. Every test runs against both decoders, the pure-Python one and the
compiled one (``contract/_tick_decoder.pyx``); the compiled one must be there wherever a C compiler is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import shutil
import sysconfig
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import tick_decoder
from contract.events import Envelope, Event, Tick
from contract.serde import HEADER_LENGTH, MAGIC, DecodeError, EventCodec
from contract.tick_decoder import TICK_FINGERPRINT, decode_tick_python
from eventlog.ingest import read_ticks
from tests.event_strategies import events_of

CODEC = EventCodec()

try:
    from contract import _tick_decoder as compiled
except ImportError:
    compiled = None

# Where the package was installed with a C compiler, setup.py built the compiled decoder (CI's clean install).
C_COMPILER = shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0])
WITHOUT_COMPILED = pytest.mark.skipif(compiled is None, reason="contract._tick_decoder is not built (no C compiler)")
Decoder = Callable[[bytes, int], Tick | None]
DECODERS = [
    pytest.param(decode_tick_python, id="python"),
    pytest.param(None if compiled is None else compiled.decode_tick, id="compiled", marks=WITHOUT_COMPILED),
]


@pytest.mark.skipif(C_COMPILER is None, reason="no C compiler here: the pure-Python decoder is the one in use")
def test_the_compiled_decoder_is_built_and_in_use_where_a_c_compiler_is() -> None:
    assert compiled is not None, (
        "a C compiler is here but contract._tick_decoder does not import: "
        "`pip install -e .` or `python setup.py build_ext --inplace` builds it"
    )
    assert tick_decoder.DECODER == "compiled"
    assert tick_decoder.decode_tick is compiled.decode_tick


@WITHOUT_COMPILED
def test_the_compiled_decoder_is_built_from_the_source_beside_it() -> None:
    """A stale build would pass or fail these tests for a source that is no longer there."""
    source = Path(tick_decoder.__file__).with_name("_tick_decoder.pyx")
    if not source.exists():
        pytest.skip("installed without its source")
    assert compiled.SOURCE_SHA256 == hashlib.sha256(source.read_bytes()).hexdigest(), (
        "contract._tick_decoder was built from another contract/_tick_decoder.pyx: rebuild it"
    )


def _reference(data: bytes) -> Event:
    """fastavro's decode, as every event that is not a current-schema tick is decoded."""
    return CODEC.from_record(*CODEC.decode_record(data))


def _reference_outcome(data: bytes) -> tuple[str, str]:
    try:
        return "decoded", repr(_reference(data))
    except DecodeError as exc:
        return "refused", exc.reason


def _outcome(data: bytes) -> tuple[str, str]:
    try:
        return "decoded", repr(CODEC.decode(data))
    except DecodeError as exc:
        return "refused", exc.reason


def test_the_decoder_is_written_for_the_current_tick_schema() -> None:
    schema = CODEC.registry.reader(Tick.SCHEMA)
    assert schema.fingerprint == TICK_FINGERPRINT
    wire = [f["name"] for f in schema.schema_json["fields"]]
    envelope = [f["name"] for f in schema.schema_json["fields"][0]["type"]["fields"]]
    attributes = [f.name for f in dataclasses.fields(Tick)]
    assert wire == [a if a in ("envelope", "symbol", "venue", "sequence") else f"{a}_e8" for a in attributes]
    assert envelope == [f.name for f in dataclasses.fields(Envelope)]
    # The decoder fills the slots directly: a __post_init__ would be skipped.
    assert not hasattr(Tick, "__post_init__") and not hasattr(Envelope, "__post_init__")


DECIMAL_FIELDS = ("price", "size", "bid_price", "bid_size", "ask_price", "ask_size")


def _first_of_each_value_shape(ticks: Iterable[Tick]) -> Iterator[Tick]:
    """The first tick of each distinct text of the decimal fields (``1640.5`` and ``1640.50`` differ).

    Every other tick of the file differs from one of these only in its envelope, symbol and sequence:
    strings and longs of the same widths, which the generated ticks and the edge cases below cover.
    """
    seen: set[tuple[str, ...]] = set()
    for tick in ticks:
        shape = tuple(str(getattr(tick, name)) for name in DECIMAL_FIELDS)
        if shape not in seen:
            seen.add(shape)
            yield tick


@pytest.mark.parametrize(
    ("select", "count"),
    [
        pytest.param(_first_of_each_value_shape, 4_922, id="each-value-shape"),
        pytest.param(lambda ticks: ticks, 500_000, id="every-tick", marks=pytest.mark.long),  # about 80 s
    ],
)
def test_the_sample_files_ticks_decode_as_fastavro_decodes_them(
    select: Callable[[Iterable[Tick]], Iterable[Tick]], count: int
) -> None:
    # Both decoders in one pass: encoding and fastavro's reference cost most of this test's time.
    decoders = [decode_tick_python] if compiled is None else [decode_tick_python, compiled.decode_tick]
    decoded = 0
    for tick in select(read_ticks()):
        data = CODEC.encode(tick)
        reference = repr(_reference(data))
        for decode_tick in decoders:
            fast = decode_tick(data, HEADER_LENGTH)
            assert fast is not None
            assert repr(fast) == reference
            assert fast == tick
        decoded += 1
    assert decoded == count


@pytest.mark.parametrize("decode_tick", DECODERS)
@settings(max_examples=500, deadline=None)  # no timed assertions: the machine is shared
@given(events_of(Tick))
def test_generated_ticks_decode_as_fastavro_decodes_them(decode_tick: Decoder, tick: Tick) -> None:
    data = CODEC.encode(tick)
    fast = decode_tick(data, HEADER_LENGTH)
    assert fast is not None
    assert fast == tick
    assert repr(fast) == repr(_reference(data))


def _mangled(draw: st.DrawFn) -> bytes:
    data = bytearray(CODEC.encode(draw(events_of(Tick))))
    how = draw(st.sampled_from(["flip", "cut", "append", "splice"]))
    at = draw(st.integers(min_value=HEADER_LENGTH, max_value=len(data) - 1))
    if how == "flip":
        data[at] = draw(st.integers(min_value=0, max_value=255))
    elif how == "cut":
        del data[at:]
    elif how == "append":
        data += draw(st.binary(min_size=1, max_size=4))
    else:
        data[at:at] = draw(st.binary(min_size=1, max_size=12))
    return bytes(data)


MANGLED = st.composite(_mangled)()


@pytest.mark.parametrize("decode_tick", DECODERS)
@settings(max_examples=1000, deadline=None)
@given(MANGLED)
def test_mangled_ticks_are_decoded_or_refused_exactly_as_fastavro_does(decode_tick: Decoder, data: bytes) -> None:
    fast = decode_tick(data, HEADER_LENGTH)
    reference = _reference_outcome(data)
    if fast is not None:  # the fast path only answers when fastavro reads the same tick
        assert reference == ("decoded", repr(fast))
    assert _outcome(data) == reference


@pytest.mark.parametrize("decode_tick", DECODERS)
@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"\x03", "a negative string length"),
        (b"\x80", "a varint cut short"),
        (b"\xff" * 11, "a varint longer than a long"),
        (b"\xff" * 9 + b"\x02", "a ten-byte varint of more than 64 bits"),
        (b"\x04\xff\xfe", "bad UTF-8"),
    ],
    ids=["negative-length", "cut-varint", "long-varint", "65-bit-varint", "utf8"],
)
def test_bodies_the_fast_path_cannot_read_go_to_fastavro(decode_tick: Decoder, body: bytes, why: str) -> None:
    data = MAGIC + TICK_FINGERPRINT + body
    assert decode_tick(data, HEADER_LENGTH) is None, why
    with pytest.raises(DecodeError, match="corrupt aitrader.events.Tick body"):
        CODEC.decode(data)


@pytest.mark.parametrize("decode_tick", DECODERS)
def test_a_union_branch_the_schema_does_not_have_is_left_to_fastavro(decode_tick: Decoder) -> None:
    good = CODEC.encode(next(itertools.islice(read_ticks(), 1)))
    assert good.endswith(b"\x00\x00\x00\x00")  # no top of book: four null branches
    bad = good[:-1] + b"\x04"  # branch 2 of a two-branch union
    assert decode_tick(bad, HEADER_LENGTH) is None
    assert _outcome(bad) == _reference_outcome(bad)
    assert _outcome(bad)[0] == "refused"


@pytest.mark.parametrize("decode_tick", DECODERS)
def test_a_long_of_ten_bytes_is_read_to_its_64th_bit_and_no_further(decode_tick: Decoder) -> None:
    good = CODEC.encode(next(itertools.islice(read_ticks(), 1)))
    assert good[HEADER_LENGTH] == 72  # event_id: 36 characters (zig-zag 72, one byte), then event_time_ms
    time_at = HEADER_LENGTH + 1 + 36
    time_end = time_at + next(i for i, byte in enumerate(good[time_at:]) if byte < 0x80) + 1

    def with_time(varint: bytes) -> bytes:
        return good[:time_at] + varint + good[time_end:]

    largest = with_time(b"\xfe" + b"\xff" * 8 + b"\x01")  # 2**64 - 2: zig-zag for the largest long
    fast = decode_tick(largest, HEADER_LENGTH)
    assert fast is not None and fast.event_time_ms == 2**63 - 1
    assert repr(fast) == repr(_reference(largest))
    over = with_time(b"\xff" * 9 + b"\x02")  # bit 65 set: no long has it
    assert decode_tick(over, HEADER_LENGTH) is None
    assert _outcome(over) == _reference_outcome(over)
