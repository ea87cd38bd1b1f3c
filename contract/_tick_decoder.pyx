# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""``contract.tick_decoder``'s decoder compiled: the same reads of the same schema, without the interpreter.

It reads exactly what the pure-Python ``decode_tick`` reads and steps aside (returns None) where that one
does: a short body, a union branch other than the schema's two, a varint longer than a long, a negative or
overlong string length, bad UTF-8, trailing bytes. ``tests/test_tick_decoder.py`` runs every agreement test
against both. ``contract.tick_decoder`` uses this module when it was built and imports; nothing else imports it.
"""

import dataclasses

from cpython.bytes cimport PyBytes_CheckExact
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int64_t, uint64_t

from contract.events import Envelope, Tick
from contract.scaled import from_scaled

cdef extern from *:
    # setup.py defines it: the SHA-256 of this file as built, so a test can tell a stale build.
    const char* TICK_DECODER_SOURCE_SHA256

cdef extern from "Python.h":
    PyTypeObject PyBaseObject_Type
    void PyObject_GC_UnTrack(void* op)

SOURCE_SHA256 = TICK_DECODER_SOURCE_SHA256.decode()

# The fields as the schema writes them (after the envelope); the import refuses classes laid out otherwise,
# so a changed dataclass makes ``contract.tick_decoder`` fall back to the pure-Python decoder, whose own
# field table follows the dataclass, and the test that asks for the compiled decoder fails.
ENVELOPE_FIELDS = ("event_id", "event_time_ms", "producer", "causation_id", "correlation_id")
TICK_FIELDS = ("envelope", "symbol", "venue", "sequence", "price", "size", "bid_price", "bid_size", "ask_price",
               "ask_size")
if tuple(f.name for f in dataclasses.fields(Envelope)) != ENVELOPE_FIELDS:
    raise ImportError("Envelope's fields are not those this decoder was compiled for")
if tuple(f.name for f in dataclasses.fields(Tick)) != TICK_FIELDS:
    raise ImportError("Tick's fields are not those this decoder was compiled for")
if hasattr(Envelope, "__post_init__") or hasattr(Tick, "__post_init__"):
    raise ImportError("a __post_init__ would be skipped by filling the slots directly")

# The slots' member descriptors, in the schema's order. Frozen dataclasses refuse setattr; the decoder calls
# each descriptor's own C setter (tp_descr_set, what ``Tick.symbol.__set__`` runs), which checks the target's
# type and stores into the slot, as the pure-Python decoder does through the Python-level ``__set__``.
cdef list _envelope_slots = [getattr(Envelope, name) for name in ENVELOPE_FIELDS]
cdef list _tick_slots = [getattr(Tick, name) for name in TICK_FIELDS]
cdef tuple _NO_ARGS = ()


cdef inline int _set(list slots, Py_ssize_t index, object target, object value) except -1:
    cdef object slot = slots[index]
    return Py_TYPE(slot).tp_descr_set(slot, target, value)


cdef inline object _new(type cls):
    """``object.__new__(cls)``: an instance with every slot empty, no ``__init__`` run, that the cycle collector
    does not follow.

    A ``Tick`` holds strings, ints, Decimals, None and its ``Envelope``, which holds the same less the envelope:
    none of them refers to anything, so no reference cycle can pass through either (they are frozen), and the
    collector has nothing to find in them. Left tracked, a replay's ticks made every collection walk all the
    ticks alive: keeping a day's decoded ticks in a list cost the collector three times the decoding (docs/
    performance.md). CPython drops tuples and dicts of such contents from the collector for the same reason.
    """
    cdef object instance = PyBaseObject_Type.tp_new(cls, <PyObject*>_NO_ARGS, NULL)
    PyObject_GC_UnTrack(<void*>instance)
    return instance


# Scaled integer -> Decimal, kept as the pure-Python decoder keeps them (prices and sizes repeat all day), in a
# direct-mapped table: a value's slot is fixed by a multiplicative hash of it, a newcomer replaces what sat
# there, so the table stays bounded without ever being cleared. Every value in it is ``from_scaled``'s, and
# Decimals are immutable: a kept one equals (value and exponent) the one ``from_scaled`` would build again.
cdef enum:
    _KEPT_BITS = 16
    _KEPT = 1 << _KEPT_BITS
cdef int64_t _kept_keys[_KEPT]
cdef list _kept_values = [None] * _KEPT


cdef inline object _decimal(int64_t scaled):
    cdef Py_ssize_t index = <Py_ssize_t>((<uint64_t>scaled * <uint64_t>0x9E3779B97F4A7C15ULL) >> (64 - _KEPT_BITS))
    cdef object value = _kept_values[index]
    if value is not None and _kept_keys[index] == scaled:
        return value
    value = from_scaled(scaled)
    _kept_keys[index] = scaled
    _kept_values[index] = value
    return value


cdef struct _Body:
    const unsigned char* data
    Py_ssize_t pos
    Py_ssize_t end


cdef inline bint _long(_Body* body, int64_t* out) noexcept:
    """A zig-zag varint of at most 64 bits into ``out``; False where the fast path stops."""
    cdef uint64_t value = 0
    cdef unsigned int shift = 0
    cdef unsigned char byte
    while True:
        if body.pos >= body.end:
            return False
        byte = body.data[body.pos]
        body.pos += 1
        if shift == 63 and (byte & 0x7F) > 1:  # bits past the 64th
            return False
        value |= (<uint64_t>(byte & 0x7F)) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift > 63:  # an eleventh byte
            return False
    out[0] = <int64_t>(value >> 1) ^ -<int64_t>(value & 1)
    return True


cdef inline int _branch(_Body* body) noexcept:
    """A ["null", T] union's branch: 0 (null), 1 (T), or -1 (anything else, or no byte)."""
    if body.pos >= body.end:
        return -1
    cdef unsigned char byte = body.data[body.pos]
    body.pos += 1
    if byte == 0:
        return 0
    if byte == 2:
        return 1
    return -1


cdef inline object _string(_Body* body):
    """A UTF-8 string, or None where the fast path stops (bad length or bad UTF-8)."""
    cdef int64_t length
    if not _long(body, &length) or length < 0 or length > body.end - body.pos:
        return None
    cdef Py_ssize_t start = body.pos
    body.pos += <Py_ssize_t>length
    try:
        return PyUnicode_DecodeUTF8(<char*>body.data + start, <Py_ssize_t>length, NULL)
    except UnicodeDecodeError:
        return None


cdef inline bint _optional_string(_Body* body, list slots, Py_ssize_t index, object target) except -1:
    cdef int branch = _branch(body)
    if branch < 0:
        return False
    if branch == 0:
        _set(slots, index, target, None)
        return True
    cdef object text = _string(body)
    if text is None:
        return False
    _set(slots, index, target, text)
    return True


cdef inline bint _optional_decimal(_Body* body, list slots, Py_ssize_t index, object target) except -1:
    cdef int branch = _branch(body)
    cdef int64_t scaled
    if branch < 0:
        return False
    if branch == 0:
        _set(slots, index, target, None)
        return True
    if not _long(body, &scaled):
        return False
    _set(slots, index, target, _decimal(scaled))
    return True


cdef inline bint _required_string(_Body* body, list slots, Py_ssize_t index, object target) except -1:
    cdef object text = _string(body)
    if text is None:
        return False
    _set(slots, index, target, text)
    return True


def decode_tick(object data, Py_ssize_t pos):
    """The ``Tick`` whose body is ``data[pos:]`` (written with ``TICK_FINGERPRINT``); None if the fast path cannot tell.

    Reads ``bytes`` only (what the log gives); anything else is left to fastavro like any unread body.
    """
    cdef _Body body
    cdef int64_t number
    cdef Py_ssize_t index
    if not PyBytes_CheckExact(data) or pos < 0 or pos > len(<bytes>data):
        return None
    body.data = <const unsigned char*>(<char*><bytes>data)
    body.pos = pos
    body.end = len(<bytes>data)
    cdef object envelope = _new(Envelope)
    cdef object tick = _new(Tick)
    # Envelope: event_id, event_time_ms, producer, causation_id (optional), correlation_id.
    if not _required_string(&body, _envelope_slots, 0, envelope):
        return None
    if not _long(&body, &number):
        return None
    _set(_envelope_slots, 1, envelope, number)
    if not _required_string(&body, _envelope_slots, 2, envelope):
        return None
    if not _optional_string(&body, _envelope_slots, 3, envelope):
        return None
    if not _required_string(&body, _envelope_slots, 4, envelope):
        return None
    # Tick: symbol, venue, sequence, price, size, then bid and ask (optional).
    if not _required_string(&body, _tick_slots, 1, tick):
        return None
    if not _required_string(&body, _tick_slots, 2, tick):
        return None
    if not _long(&body, &number):
        return None
    _set(_tick_slots, 3, tick, number)
    if not _long(&body, &number):
        return None
    _set(_tick_slots, 4, tick, _decimal(number))
    if not _long(&body, &number):
        return None
    _set(_tick_slots, 5, tick, _decimal(number))
    for index in range(6, 10):
        if not _optional_decimal(&body, _tick_slots, index, tick):
            return None
    if body.pos != body.end:
        return None
    _set(_tick_slots, 0, tick, envelope)
    return tick
