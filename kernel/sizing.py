"""Volatility-scaled position sizing with a per-trade risk budget.

    qty = floor(risk_budget_usd / (volatility * multiplier * stop_multiple)), capped at max_qty

``volatility`` is in price units (index points for ES), so ``volatility *
multiplier`` is the dollar move of one contract per unit of volatility and
``stop_multiple`` is how many such moves the trade is allowed to lose: each
trade risks at most ``risk_budget_usd`` if it is stopped out there.

The money side is exact ``Decimal`` arithmetic. The volatility arrives as a
float from the pattern engine and is converted through its shortest repr
(``0.1`` -> ``Decimal('0.1')``), the value people read in the signal, so a
budget that divides evenly gives the whole number one expects.

An unknown volatility (``None``, NaN, or zero, e.g. during warm-up) gives 0:
without a measure of risk there is no size, and no trade. An infinite one gives
0 by the same formula.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

_ZERO = Decimal(0)


def volatility_scaled_qty(
    *,
    risk_budget_usd: Decimal,
    volatility: float | None,
    multiplier: Decimal,
    stop_multiple: Decimal,
    max_qty: Decimal,
) -> Decimal:
    """Whole contracts that risk at most ``risk_budget_usd``, in [0, ``max_qty``]; ``ValueError`` on bad inputs."""
    if risk_budget_usd < 0 or max_qty < 0:
        raise ValueError(f"risk_budget_usd ({risk_budget_usd}) and max_qty ({max_qty}) must be >= 0")
    if multiplier <= 0 or stop_multiple <= 0:
        raise ValueError(f"multiplier ({multiplier}) and stop_multiple ({stop_multiple}) must be > 0")
    if volatility is None or math.isnan(volatility) or volatility == 0.0:
        return _ZERO
    if volatility < 0:
        raise ValueError(f"volatility must be >= 0, got {volatility}")
    if math.isinf(volatility):
        return _ZERO
    cap = max_qty.to_integral_value(rounding=ROUND_FLOOR)
    risk_per_contract = Decimal(repr(volatility)) * multiplier * stop_multiple
    # Checking the cap first keeps the quotient small: a tiny volatility would
    # otherwise overflow Decimal's integer division (more than 28 digits).
    if risk_budget_usd >= cap * risk_per_contract:
        return cap
    # Decimal // is exact integer division (the quotient is not rounded first); both sides are positive.
    return risk_budget_usd // risk_per_contract
