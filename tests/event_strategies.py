"""Hypothesis strategies that build any event of ``contract.events`` from its type hints."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from decimal import Decimal

from hypothesis import strategies as st

from contract.events import ALL_EVENT_TYPES, Envelope, Event

LONG = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Scaled longs hold up to about 9.2e10 with 8 decimal places.
DECIMALS = st.decimals(min_value=Decimal("-9e10"), max_value=Decimal("9e10"), places=8, allow_nan=False, allow_infinity=False)
TEXT = st.text(max_size=20)


def for_type(tp: typing.Any) -> st.SearchStrategy[typing.Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = next(a for a in typing.get_args(tp) if a is not type(None))
        return st.none() | for_type(inner)
    if origin is dict:
        key, value = typing.get_args(tp)
        return st.dictionaries(for_type(key), for_type(value), max_size=4)
    if origin is list:
        return st.lists(for_type(typing.get_args(tp)[0]), max_size=4)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if tp is Envelope:
        return st.builds(Envelope, TEXT, LONG, TEXT, st.none() | TEXT, TEXT)
    simple: dict[typing.Any, st.SearchStrategy[typing.Any]] = {
        str: TEXT,
        bool: st.booleans(),
        int: LONG,
        float: st.floats(allow_nan=False),
        bytes: st.binary(max_size=20),
        Decimal: DECIMALS,
    }
    return simple[tp]


def events_of(event_type: type[Event]) -> st.SearchStrategy[Event]:
    hints = typing.get_type_hints(event_type)
    fields = {f.name: for_type(hints[f.name]) for f in dataclasses.fields(event_type)}
    return st.builds(event_type, **fields)


ANY_EVENT = st.one_of([events_of(t) for t in ALL_EVENT_TYPES])
