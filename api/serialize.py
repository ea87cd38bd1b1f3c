"""Rows as JSON: money and quantities as decimal strings, times as ISO 8601 with zone, ids as strings."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any


def decimal_text(value: Decimal) -> str:
    """Exact and plain: no exponent, no trailing zeros (``-512.5``, ``1650``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def iso_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return decimal_text(v)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return str(v)
    return v


def names(columns: Sequence[str], times: Sequence[str] = ()) -> tuple[str, ...]:
    """The keys ``row`` gives for these columns, in its order: an export's header is known before any row."""
    return tuple(name.removesuffix("_ms") if name in times else name for name in columns)


def row(data: Mapping[str, Any], columns: Sequence[str], times: Sequence[str] = ()) -> dict[str, Any]:
    """The listed columns; each ``x_ms`` column in ``times`` becomes ``x`` as ISO 8601 (null stays null)."""
    out: dict[str, Any] = {}
    for name in columns:
        v = data[name]
        if name in times:
            out[name.removesuffix("_ms")] = None if v is None else iso_time(v)
        else:
            out[name] = value(v)
    return out
