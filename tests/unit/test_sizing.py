"""Volatility-scaled sizing: table-driven."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from kernel.sizing import volatility_scaled_qty

D = Decimal


@pytest.mark.parametrize(
    ("budget", "volatility", "multiplier", "stop", "cap", "expected"),
    [
        # ES: 1.25 points * $50 * 2 = $125 at risk per contract
        (D("1000"), 1.25, D("50"), D("2"), D("100"), D("8")),
        (D("1000"), 1.25, D("50"), D("2"), D("5"), D("5")),  # capped
        (D("999.99"), 1.25, D("50"), D("2"), D("100"), D("7")),  # floor, never rounds up
        (D("124.99"), 1.25, D("50"), D("2"), D("100"), D("0")),  # budget below one contract
        (D("0"), 1.25, D("50"), D("2"), D("100"), D("0")),
        (D("1000"), 0.1, D("50"), D("2"), D("1000"), D("100")),  # 0.1 is read as 0.1, not 0.1000000000000000055
        (D("1000"), 0.3, D("50"), D("2"), D("1000"), D("33")),
        (D("1000"), 1.25, D("50"), D("2"), D("2.9"), D("2")),  # a fractional cap floors
        (D("1000"), 1e-300, D("50"), D("2"), D("3"), D("3")),  # tiny volatility: the cap, no overflow
        (D("1000"), 1.25, D("50"), D("2"), D("0"), D("0")),
        # no measure of risk, no trade
        (D("1000"), 0.0, D("50"), D("2"), D("100"), D("0")),
        (D("1000"), None, D("50"), D("2"), D("100"), D("0")),
        (D("1000"), math.nan, D("50"), D("2"), D("100"), D("0")),
        (D("1000"), math.inf, D("50"), D("2"), D("100"), D("0")),
    ],
)
def test_volatility_scaled_qty(
    budget: Decimal, volatility: float | None, multiplier: Decimal, stop: Decimal, cap: Decimal, expected: Decimal
) -> None:
    qty = volatility_scaled_qty(
        risk_budget_usd=budget, volatility=volatility, multiplier=multiplier, stop_multiple=stop, max_qty=cap
    )
    assert qty == expected
    assert qty == qty.to_integral_value()


@pytest.mark.parametrize(
    ("budget", "volatility", "multiplier", "stop", "cap", "message"),
    [
        (D("-1"), 1.0, D("50"), D("2"), D("5"), "risk_budget_usd"),
        (D("100"), 1.0, D("50"), D("2"), D("-5"), "max_qty"),
        (D("100"), 1.0, D("0"), D("2"), D("5"), "multiplier"),
        (D("100"), 1.0, D("50"), D("0"), D("5"), "stop_multiple"),
        (D("100"), -1.0, D("50"), D("2"), D("5"), "volatility"),
    ],
)
def test_bad_inputs_are_refused(
    budget: Decimal, volatility: float, multiplier: Decimal, stop: Decimal, cap: Decimal, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        volatility_scaled_qty(
            risk_budget_usd=budget, volatility=volatility, multiplier=multiplier, stop_multiple=stop, max_qty=cap
        )


def test_more_volatility_never_means_more_contracts() -> None:
    sizes = [
        volatility_scaled_qty(
            risk_budget_usd=D("2500"), volatility=v / 8, multiplier=D("50"), stop_multiple=D("1.5"), max_qty=D("50")
        )
        for v in range(1, 200)
    ]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 50 and sizes[-1] == 1
