"""Exact decimals on the wire as scaled integers (``price_e8`` = price * 10^8).

Avro ``decimal`` is avoided on purpose: the schema fingerprint ignores scale and
precision, so two schemas that disagree on them share a fingerprint and a reader
would silently misread prices (see docs/design.md, "Bytes on the wire").
"""

from __future__ import annotations

from decimal import Decimal

SCALE_EXPONENT = 8
SCALE = 10**SCALE_EXPONENT
SCALED_SUFFIX = f"_e{SCALE_EXPONENT}"
# The smallest step the wire carries (1e-8): every exact value the kernel computes is quantized to it.
QUANTUM = Decimal(1).scaleb(-SCALE_EXPONENT)


class InexactScaleError(ValueError):
    """A value has more decimal places than the wire format carries."""


def to_scaled(value: Decimal) -> int:
    """``Decimal('1650.25')`` -> ``165025000000``; refuses to round."""
    scaled = value.scaleb(SCALE_EXPONENT)
    if scaled != scaled.to_integral_value():
        raise InexactScaleError(f"{value} has more than {SCALE_EXPONENT} decimal places")
    return int(scaled)


def from_scaled(value: int) -> Decimal:
    """``165025000000`` -> ``Decimal('1650.25000000')`` (always 8 places, so equal values print alike)."""
    return Decimal(value).scaleb(-SCALE_EXPONENT)  # an integer's exponent is 0, so this is exactly -8
