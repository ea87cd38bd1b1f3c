"""A decoder specialised to the one hot schema, the current ``Tick``: bytes straight to a ``Tick``.

A day's replay is almost all ticks, and fastavro's general reader (a dict per
record and per envelope, then the field plan of ``contract.serde`` building the
dataclasses from them) costs several times what the bytes need. This reads the
Avro binary body of exactly one schema, the one whose fingerprint is
``TICK_FINGERPRINT``, into ``Envelope`` and ``Tick`` without any dict in between.

It only ever takes the happy path. Anything it does not recognise (a short
body, a union branch other than the two the schema has, a varint longer than a
long, bad UTF-8, trailing bytes) makes it return None, and the caller decodes the
same bytes with fastavro, which then decodes or refuses them with the very reason
it always gave. So the refusals on the dead-letter path are fastavro's, word for
word, and the fast path can only ever agree with fastavro or step aside
(``tests/test_tick_decoder.py`` checks both on the sample day and on generated
records).

The same decoder compiled (``contract/_tick_decoder.pyx``, built by ``setup.py``
when the install has a C compiler) is used when it imports; ``DECODER`` says
which one ``decode_tick`` is, and both are tested alike.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from contract.events import Envelope, Tick
from contract.scaled import from_scaled

# CRC-64-AVRO fingerprint of schemas/events/Tick.avsc as this decoder reads it. A changed Tick schema has
# another fingerprint, and its ticks take the general path until this decoder is rewritten for it.
TICK_FINGERPRINT = bytes.fromhex("e121be49f93c087e")

# Prices and sizes repeat all day (a price moves in ticks of 0.25, sizes are small counts), and building
# a Decimal (``from_scaled``) costs as much as reading several fields: the scaled integer -> Decimal
# conversions are kept, up to a bound. This only spares rebuilding a value; every field is still read.
# Decimals are immutable and equal values built either way are the same value with the same exponent.
_DECIMALS_KEPT = 1 << 16
_decimals: dict[int, Decimal] = {}

_LONG_BITS = 1 << 64


def _decimal(scaled: int) -> Decimal:
    value = _decimals.get(scaled)
    if value is None:
        if len(_decimals) >= _DECIMALS_KEPT:
            _decimals.clear()
        value = _decimals[scaled] = from_scaled(scaled)
    return value


# How each field is read: (a ["null", T] union, a string, the conversion of a long or None).
_STRING = (False, True, None)
_LONG = (False, False, None)
_DECIMAL = (False, False, _decimal)
_OPTIONAL_STRING = (True, True, None)
_OPTIONAL_DECIMAL = (True, False, _decimal)
_ENVELOPE_READS = {"event_id": _STRING, "event_time_ms": _LONG, "producer": _STRING, "causation_id": _OPTIONAL_STRING,
                   "correlation_id": _STRING}
_TICK_READS = {"symbol": _STRING, "venue": _STRING, "sequence": _LONG, "price": _DECIMAL, "size": _DECIMAL,
               "bid_price": _OPTIONAL_DECIMAL, "bid_size": _OPTIONAL_DECIMAL, "ask_price": _OPTIONAL_DECIMAL,
               "ask_size": _OPTIONAL_DECIMAL}

_Layout = tuple[tuple[bool, bool, Any, Any], ...]


def _layout(cls: type, reads: dict[str, tuple[bool, bool, Any]], skip: str | None = None) -> _Layout:
    """(optional, string, conversion, the slot's setter) per field of ``cls``, in the order the schema writes them."""
    return tuple((*reads[f.name], getattr(cls, f.name).__set__) for f in dataclasses.fields(cls) if f.name != skip)


# Frozen dataclasses set each field through object.__setattr__, which costs more than reading the whole body;
# the slots' own setters fill the same slots (neither class has a __post_init__ to skip, and the fields are
# those of the schema in its order: tests/test_tick_decoder.py checks both), and the instances are equal to
# those the constructors build.
_ENVELOPE_LAYOUT = _layout(Envelope, _ENVELOPE_READS)
_TICK_LAYOUT = _layout(Tick, _TICK_READS, skip="envelope")
_set_envelope = Tick.envelope.__set__  # type: ignore[attr-defined]
_new = object.__new__


def _read(data: bytes, pos: int, target: object, layout: _Layout) -> int:
    """Reads ``layout``'s fields from ``pos`` into ``target``'s slots; the position after them.

    One loop over the fields rather than a function per field: calls and the tuples they return cost
    more than the bytes. Raises IndexError, UnicodeDecodeError or ValueError where the fast path stops.
    """
    for optional, string, convert, setter in layout:
        byte = data[pos]
        pos += 1
        if optional:
            if byte == 0:  # zig-zag 0: the union's branch "null"
                setter(target, None)
                continue
            if byte != 2:  # zig-zag 1: its other branch; anything else is not this schema's union
                raise ValueError
            byte = data[pos]
            pos += 1
        if byte < 0x80:
            value = (byte >> 1) ^ -(byte & 1)
        else:  # a varint of more bytes: 7 bits a byte, low bits first, at most 10 bytes and 64 bits
            value = byte & 0x7F
            shift = 7
            while True:
                byte = data[pos]
                pos += 1
                value |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
                if shift > 63:
                    raise ValueError
            if value >= _LONG_BITS:
                raise ValueError
            value = (value >> 1) ^ -(value & 1)
        if string:
            end = pos + value
            if value < 0 or end > len(data):
                raise ValueError
            setter(target, data[pos:end].decode())
            pos = end
        elif convert is None:
            setter(target, value)
        else:
            setter(target, convert(value))
    return pos


def decode_tick_python(data: bytes, pos: int) -> Tick | None:
    """The ``Tick`` whose body is ``data[pos:]`` (written with ``TICK_FINGERPRINT``); None if the fast path cannot tell."""
    envelope = _new(Envelope)
    tick = _new(Tick)
    try:
        pos = _read(data, _read(data, pos, envelope, _ENVELOPE_LAYOUT), tick, _TICK_LAYOUT)
    except (IndexError, UnicodeDecodeError, ValueError):
        return None
    if pos != len(data):
        return None
    _set_envelope(tick, envelope)
    return tick


try:
    from contract._tick_decoder import decode_tick
except ImportError:  # not built (no C compiler at install), or built for fields the dataclasses no longer have
    decode_tick = decode_tick_python
    DECODER = "python"
else:
    DECODER = "compiled"
