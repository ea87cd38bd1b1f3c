"""Pre-trade risk: checks one ``OrderIntent`` against the limits and the symbol's state.

The checks run in a fixed order and the first failure names the denial
(a stable code from ``DenialReason`` plus a detail for people), which the book
emits as ``OrderDenied``: our own limits said no, before any venue saw the order
(a venue's refusal is an ``OrderRejected``).

 1. TRADING_HALTED      kill switch HALTED: no new order at all (the one gateway, first).
 2. DUPLICATE_INTENT    the intent id was seen before (a re-delivered intent must not trade twice).
 3. INVALID_ORDER       wrong symbol, quantity <= 0, missing/extra/off-tick limit price.
 4. TRADING_REDUCING    kill switch REDUCING and the order does not reduce the position.
 5. MAX_DAILY_LOSS      the day's loss reached the budget (latched by the caller) and the order does not reduce.
 6. NO_REFERENCE_PRICE  no trade seen yet, so nothing to value or collar the order against.
 7. PRICE_COLLAR        limit price further than the collar (ticks and/or bps) from the last trade.
 8. MAX_ORDER_QTY       order quantity above the limit.
 9. MAX_ORDER_NOTIONAL  quantity * price (limit, or last trade for market) * multiplier above the limit.
10. MAX_POSITION        |position| if this order and every open order on its side fill, above the limit.
11. MAX_GROSS_EXPOSURE  that worst-case |position| at the last trade price, above this symbol's budget.
12. MAX_ORDER_RATE      as many orders accepted in the last second of event time as allowed.

State gates come before per-order limits, validity before any arithmetic on the
order, and the only transient condition (rate) last. "Reducing" means opposite
to the position and, with the open orders on the same side, no larger than it,
so it cannot flip the position even if everything fills. Checks 10 and 11 never
refuse an order that cannot take |position| above where it already is, so a
lowered limit never traps a position.

Account-wide limits are split into per-symbol budgets (docs/design.md, "Limits that span partitions"):
``risk.max_gross_exposure`` and ``risk.max_daily_loss`` are this symbol's share;
the account monitor enforces the aggregate through REDUCING/HALTED events.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from contract.events import OrderIntent, OrderType, Side, TradingState
from contract.scaled import QUANTUM
from oms.instruments import Instrument
from oms.settings import settings_for

RATE_WINDOW_MS = 1000
_BPS = Decimal(10_000)


class DenialReason(str, enum.Enum):
    """Stable codes of the risk checks (the ``reason`` of ``OrderDenied``); names equal values.

    The values never change: logs written before ``OrderDenied`` existed carry
    the same codes as the ``reason`` of their ``OrderRejected`` events.
    """

    TRADING_HALTED = "TRADING_HALTED"
    DUPLICATE_INTENT = "DUPLICATE_INTENT"
    INVALID_ORDER = "INVALID_ORDER"
    TRADING_REDUCING = "TRADING_REDUCING"
    MAX_DAILY_LOSS = "MAX_DAILY_LOSS"
    NO_REFERENCE_PRICE = "NO_REFERENCE_PRICE"
    PRICE_COLLAR = "PRICE_COLLAR"
    MAX_ORDER_QTY = "MAX_ORDER_QTY"
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    MAX_POSITION = "MAX_POSITION"
    MAX_GROSS_EXPOSURE = "MAX_GROSS_EXPOSURE"
    MAX_ORDER_RATE = "MAX_ORDER_RATE"


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Per-symbol limits (keys ``risk.<field>``). Money in USD, quantities in contracts.

    Defaults suit one ES contract at ~1650 points (~82,500 USD notional).
    A collar of 0 disables that collar; every other limit is enforced as given.
    """

    max_order_qty: Decimal = Decimal(10)
    max_order_notional: Decimal = Decimal(1_000_000)
    max_position: Decimal = Decimal(10)
    max_gross_exposure: Decimal = Decimal(1_000_000)
    max_daily_loss: Decimal = Decimal(5_000)
    price_collar_ticks: int = 40
    price_collar_bps: Decimal = Decimal(0)
    max_orders_per_second: int = 5

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> RiskLimits:
        return cls(**settings_for(cls(), settings, "risk.", positive=("max_daily_loss",)))

    def daily_loss_breached(self, daily_pnl: Decimal) -> bool:
        return daily_pnl <= -self.max_daily_loss


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What risk needs to know about the symbol at the intent's time (built by the book)."""

    trading_state: TradingState
    position_qty: Decimal
    open_buy_qty: Decimal
    open_sell_qty: Decimal
    last_price: Decimal | None
    daily_loss_breached: bool
    intent_seen: bool
    recent_accept_times_ms: tuple[int, ...] = ()

    def open_qty(self, side: Side) -> Decimal:
        return self.open_buy_qty if side is Side.BUY else self.open_sell_qty


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    reason: DenialReason | None
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.reason is None


ACCEPTED = RiskVerdict(None)


def is_reducing(intent: OrderIntent, ctx: RiskContext) -> bool:
    """Opposite to the position and, with same-side open orders, no bigger than it."""
    pos = ctx.position_qty
    if not pos or intent.side.sign * pos > 0:
        return False
    return ctx.open_qty(intent.side) + intent.quantity <= abs(pos)


def worst_position(intent: OrderIntent, ctx: RiskContext) -> Decimal:
    """|position| if this order and all open orders on its side fill completely."""
    return abs(ctx.position_qty + intent.side.sign * (ctx.open_qty(intent.side) + intent.quantity))


# Each check returns a detail when it fails, None when it passes.
Check = Callable[["RiskEngine", OrderIntent, RiskContext], str | None]


def _halted(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    return "trading is HALTED" if ctx.trading_state is TradingState.HALTED else None


def _duplicate(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    return f"intent {intent.event_id} was already seen" if ctx.intent_seen else None


def _invalid(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    qty, limit = intent.quantity, intent.limit_price
    if intent.symbol != engine.instrument.symbol:
        return f"symbol {intent.symbol} is not {engine.instrument.symbol}"
    if qty <= 0 or qty != qty.quantize(QUANTUM):
        return f"quantity {qty} must be > 0 with at most 8 decimals"
    if intent.order_type is OrderType.MARKET:
        return None if limit is None else "a MARKET order has no limit price"
    if limit is None or limit <= 0 or not engine.instrument.is_on_tick(limit):
        return f"LIMIT price {limit} must be > 0 and a multiple of {engine.instrument.tick_size}"
    return None


def _reducing_only(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    if ctx.trading_state is TradingState.REDUCING and not is_reducing(intent, ctx):
        return f"trading is REDUCING and {intent.side.value} {intent.quantity} does not reduce {ctx.position_qty}"
    return None


def _daily_loss(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    if ctx.daily_loss_breached and not is_reducing(intent, ctx):
        return f"daily loss limit {engine.limits.max_daily_loss} reached; only reducing orders"
    return None


def _no_reference(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    return "no trade seen yet to price the order against" if ctx.last_price is None else None


def _collar(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    if intent.limit_price is None or ctx.last_price is None:
        return None
    distance = abs(intent.limit_price - ctx.last_price)
    ticks, bps = engine.limits.price_collar_ticks, engine.limits.price_collar_bps
    if ticks and distance > ticks * engine.instrument.tick_size:
        return f"limit {intent.limit_price} is more than {ticks} ticks from last trade {ctx.last_price}"
    if bps and distance * _BPS > bps * ctx.last_price:
        return f"limit {intent.limit_price} is more than {bps} bps from last trade {ctx.last_price}"
    return None


def _order_qty(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    limit = engine.limits.max_order_qty
    return f"quantity {intent.quantity} > {limit}" if intent.quantity > limit else None


def _order_notional(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    price = intent.limit_price if intent.limit_price is not None else ctx.last_price
    assert price is not None  # NO_REFERENCE_PRICE ran first
    notional = engine.instrument.notional(intent.quantity, price)
    limit = engine.limits.max_order_notional
    return f"notional {notional} > {limit}" if notional > limit else None


def _position(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    worst, limit = worst_position(intent, ctx), engine.limits.max_position
    if worst > limit and worst > abs(ctx.position_qty):
        return f"position could reach {worst} (now {ctx.position_qty}) > {limit}"
    return None


def _gross_exposure(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    worst = worst_position(intent, ctx)
    assert ctx.last_price is not None  # NO_REFERENCE_PRICE ran first
    exposure = engine.instrument.notional(worst, ctx.last_price)
    limit = engine.limits.max_gross_exposure
    if exposure > limit and worst > abs(ctx.position_qty):
        return f"gross exposure could reach {exposure} > budget {limit}"
    return None


def _order_rate(engine: RiskEngine, intent: OrderIntent, ctx: RiskContext) -> str | None:
    since = intent.event_time_ms - RATE_WINDOW_MS
    recent = sum(1 for t in ctx.recent_accept_times_ms if t > since)
    limit = engine.limits.max_orders_per_second
    return f"{recent} orders accepted in the last {RATE_WINDOW_MS} ms (max {limit})" if recent >= limit else None


CHECKS: tuple[tuple[DenialReason, Check], ...] = (
    (DenialReason.TRADING_HALTED, _halted),
    (DenialReason.DUPLICATE_INTENT, _duplicate),
    (DenialReason.INVALID_ORDER, _invalid),
    (DenialReason.TRADING_REDUCING, _reducing_only),
    (DenialReason.MAX_DAILY_LOSS, _daily_loss),
    (DenialReason.NO_REFERENCE_PRICE, _no_reference),
    (DenialReason.PRICE_COLLAR, _collar),
    (DenialReason.MAX_ORDER_QTY, _order_qty),
    (DenialReason.MAX_ORDER_NOTIONAL, _order_notional),
    (DenialReason.MAX_POSITION, _position),
    (DenialReason.MAX_GROSS_EXPOSURE, _gross_exposure),
    (DenialReason.MAX_ORDER_RATE, _order_rate),
)


@dataclass(frozen=True, slots=True)
class RiskEngine:
    """The pre-trade gate for one symbol: pure, it only reads the intent and the context."""

    limits: RiskLimits
    instrument: Instrument

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RiskVerdict:
        for reason, check in CHECKS:
            detail = check(self, intent, ctx)
            if detail is not None:
                return RiskVerdict(reason, detail)
        return ACCEPTED
