"""Pre-trade risk: one case per rejection reason, the order of checks, and the limits' settings."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from contract.events import OrderIntent, Side, TimeInForce, TradingState
from oms.instruments import BUILTIN_INSTRUMENT_SETTINGS, instrument
from oms.risk import (
    CHECKS,
    DenialReason,
    RiskContext,
    RiskEngine,
    RiskLimits,
    is_reducing,
)
from tests.oms_inputs import InputStream

D = Decimal
R = DenialReason
B, S = Side.BUY, Side.SELL
LAST = D("1650.00")

BASE_CTX = RiskContext(
    trading_state=TradingState.ACTIVE,
    position_qty=D(0),
    open_buy_qty=D(0),
    open_sell_qty=D(0),
    last_price=LAST,
    daily_loss_breached=False,
    intent_seen=False,
)
# Small limits so each case is easy to read: one ES contract at 1650 is 82,500 USD.
LIMITS = RiskLimits(
    max_order_qty=D(5),
    max_order_notional=D(400_000),
    max_position=D(6),
    max_gross_exposure=D(500_000),
    max_daily_loss=D(1_000),
    price_collar_ticks=8,
    price_collar_bps=D(0),
    max_orders_per_second=3,
)
ENGINE = RiskEngine(LIMITS, instrument("ES", BUILTIN_INSTRUMENT_SETTINGS))
T0 = InputStream().intent(B, 1).event_time_ms + 1_000


def intent(side: Side = B, qty: str = "1", limit: str | None = None, symbol: str = "ES") -> OrderIntent:
    return InputStream(start_ms=T0 - 100).intent(side, qty, limit, TimeInForce.GTC, symbol=symbol)


# name -> (intent, context changes, limit changes, expected reason or None for accepted)
CASES: dict[str, tuple[OrderIntent, dict[str, Any], dict[str, Any], DenialReason | None]] = {
    "plain market buy": (intent(), {}, {}, None),
    "halted": (intent(), {"trading_state": TradingState.HALTED}, {}, R.TRADING_HALTED),
    "halted even when reducing": (
        intent(S),
        {"trading_state": TradingState.HALTED, "position_qty": D(2)},
        {},
        R.TRADING_HALTED,
    ),
    "duplicate": (intent(), {"intent_seen": True}, {}, R.DUPLICATE_INTENT),
    "other symbol": (intent(symbol="NQ"), {}, {}, R.INVALID_ORDER),
    "zero quantity": (intent(qty="0"), {}, {}, R.INVALID_ORDER),
    "negative quantity": (intent(qty="-1"), {}, {}, R.INVALID_ORDER),
    "off-tick limit": (intent(limit="1650.10"), {}, {}, R.INVALID_ORDER),
    "reducing state, opening order": (intent(), {"trading_state": TradingState.REDUCING}, {}, R.TRADING_REDUCING),
    "reducing state, reducing order": (
        intent(S, "2"),
        {"trading_state": TradingState.REDUCING, "position_qty": D(2)},
        {},
        None,
    ),
    "reducing state, order that would flip": (
        intent(S, "3"),
        {"trading_state": TradingState.REDUCING, "position_qty": D(2)},
        {},
        R.TRADING_REDUCING,
    ),
    "reducing state, with open reducing orders": (
        intent(S, "1"),
        {"trading_state": TradingState.REDUCING, "position_qty": D(2), "open_sell_qty": D(2)},
        {},
        R.TRADING_REDUCING,
    ),
    "daily loss breached, opening": (intent(), {"daily_loss_breached": True}, {}, R.MAX_DAILY_LOSS),
    "daily loss breached, reducing": (intent(B), {"daily_loss_breached": True, "position_qty": D(-3)}, {}, None),
    "no trade yet": (intent(), {"last_price": None}, {}, R.NO_REFERENCE_PRICE),
    "limit inside collar": (intent(limit="1652.00"), {}, {}, None),
    "limit beyond collar in ticks": (intent(limit="1652.25"), {}, {}, R.PRICE_COLLAR),
    "limit beyond collar below": (intent(S, limit="1647.75"), {}, {}, R.PRICE_COLLAR),
    "limit beyond collar in bps": (
        intent(limit="1651.00"),
        {},
        {"price_collar_ticks": 0, "price_collar_bps": D(5)},
        R.PRICE_COLLAR,
    ),
    "limit inside bps collar": (intent(limit="1650.75"), {}, {"price_collar_ticks": 0, "price_collar_bps": D(5)}, None),
    "market order has no collar": (intent(), {"last_price": D("1000")}, {}, None),
    "order quantity": (intent(qty="6"), {}, {"max_position": D(10)}, R.MAX_ORDER_QTY),
    "order notional at market": (intent(qty="5"), {}, {}, R.MAX_ORDER_NOTIONAL),
    "order notional at limit": (
        intent(qty="4", limit="1651.00"),
        {},
        {"max_order_notional": D(330_000)},
        R.MAX_ORDER_NOTIONAL,
    ),
    "position after fill": (intent(qty="3"), {"position_qty": D(4)}, {}, R.MAX_POSITION),
    "position counting open orders": (
        intent(qty="2"),
        {"position_qty": D(1), "open_buy_qty": D(4)},
        {},
        R.MAX_POSITION,
    ),
    "position, opposite open orders ignored": (
        intent(qty="2"),
        {"position_qty": D(4), "open_sell_qty": D(4)},
        {},
        None,
    ),
    "short position limit": (intent(S, "3"), {"position_qty": D(-4)}, {}, R.MAX_POSITION),
    "position over a lowered limit may still shrink": (intent(S, "2"), {"position_qty": D(9)}, {}, None),
    "gross exposure budget": (
        intent(qty="2"),
        {"position_qty": D(4)},
        {"max_gross_exposure": D(450_000)},
        R.MAX_GROSS_EXPOSURE,
    ),
    "order rate": (intent(), {"recent_accept_times_ms": (T0 - 900, T0 - 500, T0)}, {}, R.MAX_ORDER_RATE),
    "order rate, old accepts slid out": (intent(), {"recent_accept_times_ms": (T0 - 1000, T0 - 500, T0)}, {}, None),
}


@pytest.mark.parametrize("name", CASES)
def test_case(name: str) -> None:
    order, ctx_changes, limit_changes, expected = CASES[name]
    engine = RiskEngine(dataclasses.replace(LIMITS, **limit_changes), ENGINE.instrument)
    verdict = engine.check(order, dataclasses.replace(BASE_CTX, **ctx_changes))
    assert verdict.reason is expected, verdict.detail
    assert verdict.accepted == (expected is None)
    assert bool(verdict.detail) == (expected is not None)


def test_every_reason_has_a_check_and_a_case() -> None:
    assert [reason for reason, _ in CHECKS] == list(DenialReason)
    assert {case[3] for case in CASES.values()} == set(DenialReason) | {None}
    assert all(reason.value == reason.name for reason in DenialReason)


def test_first_failing_check_names_the_reason() -> None:
    # Too big, off the collar, over the position limit and a duplicate, while HALTED: HALTED wins.
    ctx = dataclasses.replace(BASE_CTX, trading_state=TradingState.HALTED, intent_seen=True, position_qty=D(6))
    big = intent(qty="9", limit="1700.00")
    assert ENGINE.check(big, ctx).reason is R.TRADING_HALTED
    assert ENGINE.check(big, dataclasses.replace(ctx, trading_state=TradingState.ACTIVE)).reason is R.DUPLICATE_INTENT
    ctx = dataclasses.replace(ctx, trading_state=TradingState.ACTIVE, intent_seen=False)
    assert ENGINE.check(big, ctx).reason is R.PRICE_COLLAR
    assert ENGINE.check(intent(qty="9"), ctx).reason is R.MAX_ORDER_QTY


@pytest.mark.parametrize(
    ("side", "qty", "position", "open_sell", "reducing"),
    [
        (S, "2", "2", "0", True),
        (S, "1", "2", "1", True),
        (S, "2", "2", "1", False),
        (B, "1", "2", "0", False),
        (S, "1", "0", "0", False),
        (B, "3", "-3", "0", True),
    ],
)
def test_is_reducing(side: Side, qty: str, position: str, open_sell: str, reducing: bool) -> None:
    ctx = dataclasses.replace(BASE_CTX, position_qty=D(position), open_sell_qty=D(open_sell))
    assert is_reducing(intent(side, qty), ctx) is reducing


def test_limits_from_settings() -> None:
    assert RiskLimits.from_settings({}) == RiskLimits()
    limits = RiskLimits.from_settings(
        {"risk.max_order_qty": "3", "risk.max_daily_loss": "2500.50", "risk.price_collar_bps": "15", "pattern.x": "1"}
    )
    assert limits.max_order_qty == 3 and limits.max_daily_loss == D("2500.50") and limits.price_collar_bps == 15
    assert limits.max_position == RiskLimits().max_position


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("risk.max_order_qty", "ten", "not a decimal"),
        ("risk.max_position", "-1", ">= 0"),
        ("risk.max_daily_loss", "0", "> 0"),
        ("risk.max_orders_per_second", "1.5", "not an integer"),
        ("risk.max_positon", "5", "unknown setting"),
        ("risk.max_order_notional", "NaN", "finite"),
    ],
)
def test_bad_settings_are_refused(key: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RiskLimits.from_settings({key: value})


def test_daily_loss_breach_is_reached_at_the_limit() -> None:
    assert not LIMITS.daily_loss_breached(D("-999.99"))
    assert LIMITS.daily_loss_breached(D("-1000"))
