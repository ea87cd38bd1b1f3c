"""Parsing of the flat ``Mapping[str, str]`` settings into typed config values.

Each config dataclass of the OMS reads its own key prefix through these helpers
so a bad value or a misspelt key fails with one clear ``ValueError`` instead of
being silently ignored (a typo in ``risk.max_positon`` must not disable a limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from typing import Any


def decimal_setting(settings: Mapping[str, str], key: str, default: Decimal, *, allow_zero: bool = True) -> Decimal:
    """A non-negative (or, without ``allow_zero``, positive) finite Decimal setting."""
    raw = settings.get(key)
    if raw is None:
        return default
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, AttributeError):
        raise ValueError(f"setting {key}={raw!r}: not a decimal number") from None
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"setting {key}={raw!r}: must be a finite number {bound}")
    return value


def int_setting(settings: Mapping[str, str], key: str, default: int, *, minimum: int = 0) -> int:
    """An integer setting of at least ``minimum``."""
    raw = settings.get(key)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except (ValueError, AttributeError):
        raise ValueError(f"setting {key}={raw!r}: not an integer") from None
    if value < minimum:
        raise ValueError(f"setting {key}={raw!r}: must be >= {minimum}")
    return value


def refuse_unknown_keys(settings: Mapping[str, str], prefix: str, known: Iterable[str]) -> None:
    """Raise if a key under ``prefix`` is not one of ``known`` (names after the prefix)."""
    allowed = set(known)
    unknown = sorted(k for k in settings if k.startswith(prefix) and k[len(prefix) :] not in allowed)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known under {prefix!r}: {sorted(allowed)}")


def settings_for(
    defaults: Any, settings: Mapping[str, str], prefix: str, positive: Iterable[str] = ()
) -> dict[str, Any]:
    """Every int/Decimal field of the dataclass instance ``defaults`` read from ``prefix + name``.

    Unknown keys under ``prefix`` are refused; fields named in ``positive`` must be > 0.
    Fields of other types (e.g. a symbol) are left out for the caller to supply.
    """
    numeric = [f.name for f in fields(defaults) if isinstance(getattr(defaults, f.name), int | Decimal)]
    refuse_unknown_keys(settings, prefix, numeric)
    strict = set(positive)
    values: dict[str, Any] = {}
    for name in numeric:
        default = getattr(defaults, name)
        if isinstance(default, Decimal):
            values[name] = decimal_setting(settings, prefix + name, default, allow_zero=name not in strict)
        else:
            values[name] = int_setting(settings, prefix + name, default, minimum=1 if name in strict else 0)
    return values
