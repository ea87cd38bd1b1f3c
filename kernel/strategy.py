"""The strategy: a signal, scored by the model, becomes zero or more order intents.

Pure and stateless: everything a decision needs arrives as arguments (the
signal, an ``AccountContext`` built by the kernel driver from the OMS and the
pattern engine, the scorer, the derivation for ids), so a replay over the same
inputs emits the same intents, ids included.

One decision, for side ``s`` (+1 buy, -1 sell, from the sign of the score):

    exposure  = s * position + open orders on side s   what side s holds if they all fill
    reducible = max(0, -exposure)                      side-s quantity that only closes
    headroom  = max(0, max_position - exposure)        side-s quantity the soft cap allows

* |score| < threshold, or HALTED: nothing.
* ``flatten_on_opposite`` and a position against side s: one intent of
  ``reducible`` (closes the position net of orders already closing it, so
  none when they cover it), then, only when ``reverse_on_opposite`` and
  ACTIVE, an entry sized as usual.
* otherwise: one entry of min(sized, headroom); while REDUCING, at most
  ``reducible``, so it can only shrink the position.

``max_position`` is the strategy's soft cap; the risk gate holds the hard one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TypeVar

from contract.derivation import Derivation
from contract.events import (
    OrderIntent,
    OrderType,
    Side,
    Signal,
    TimeInForce,
    TradingState,
)
from contract.scaled import QUANTUM
from inference.scorer import NEWS_SENTIMENT_FEATURE, SCORE_QUANTUM, Scorer, check_score
from kernel.sizing import volatility_scaled_qty
from oms.settings import decimal_setting, int_setting, refuse_unknown_keys

_PREFIX = "strategy."
_ZERO = Decimal(0)
_MAX_OFFSET_TICKS = 1000
SIGNAL_SCORE_FEATURE = "signal_score"


@dataclass(frozen=True, slots=True)
class AccountContext:
    """What the strategy needs to know about one symbol's account at the signal.

    Quantities are ``Decimal``: ``position`` is signed (short < 0), the open
    quantities are the unfilled remainder of working orders (>= 0).
    ``volatility`` is one bar's volatility in price units: the pattern
    engine's ``volatility`` (a fraction of price per bar) times the last
    price; None while it warms up (no entries then, closing still works).
    The P&L fields are there for strategies that throttle on them; the
    default strategy leaves loss limits to the risk gate. ``news_sentiment``
    reaches the scorer only when ``strategy.news_sentiment`` is on.
    """

    symbol: str
    position: Decimal
    open_buy_qty: Decimal
    open_sell_qty: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    last_price: Decimal
    volatility: float | None
    tick_size: Decimal
    multiplier: Decimal
    trading_state: TradingState
    news_sentiment: Decimal | None = None  # the symbol's latest news score; None before any news

    def __post_init__(self) -> None:
        if self.open_buy_qty < 0 or self.open_sell_qty < 0:
            raise ValueError(f"open quantities must be >= 0, got {self.open_buy_qty}/{self.open_sell_qty}")
        if self.tick_size <= 0 or self.multiplier <= 0:
            raise ValueError(f"tick_size ({self.tick_size}) and multiplier ({self.multiplier}) must be > 0")


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    """Settings under ``strategy.*``; the defaults trade ES one contract at a time, two at most.

    threshold           min |model score| to trade, in [0, 1], at most 6 decimals (the score's resolution)
    risk_budget_usd     dollars one entry may lose at its stop (sizing)
    stop_multiple       stop distance in volatility units (sizing)
    max_qty             largest entry, in contracts (sizing cap)
    max_position        soft cap on |position + same-side open orders| after an entry
    order_type          MARKET or LIMIT
    limit_offset_ticks  LIMIT price = last price + offset ticks for a buy, - for a sell:
                        positive is more aggressive, negative rests behind the last price;
                        within +-1000
    time_in_force       DAY, IOC or GTC
    flatten_on_opposite a score against the position first closes the position
    reverse_on_opposite after such a close, also enter the new direction (else the close replaces the entry)
    news_sentiment      pass the symbol's latest news score to the scorer as feature ``news_sentiment``
                        (0.0 before any news); off by default: a scorer of ``FEATURE_NAMES`` ignores it
    """

    threshold: Decimal = Decimal("0.3")
    risk_budget_usd: Decimal = Decimal("500")
    stop_multiple: Decimal = Decimal("2")
    max_qty: Decimal = Decimal("1")
    max_position: Decimal = Decimal("2")
    order_type: OrderType = OrderType.MARKET
    limit_offset_ticks: int = 0
    time_in_force: TimeInForce = TimeInForce.DAY
    flatten_on_opposite: bool = True
    reverse_on_opposite: bool = False
    news_sentiment: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 1 or self.threshold.quantize(SCORE_QUANTUM) != self.threshold:
            raise ValueError(f"strategy.threshold must be in [0, 1] with at most 6 decimals, got {self.threshold}")
        for name in ("risk_budget_usd", "max_qty", "max_position"):
            if getattr(self, name) < 0:
                raise ValueError(f"strategy.{name} must be >= 0, got {getattr(self, name)}")
        if self.stop_multiple <= 0:
            raise ValueError(f"strategy.stop_multiple must be > 0, got {self.stop_multiple}")
        if abs(self.limit_offset_ticks) > _MAX_OFFSET_TICKS:
            raise ValueError(f"strategy.limit_offset_ticks must be within +-{_MAX_OFFSET_TICKS}")

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> StrategyConfig:
        """The config from the ``strategy.*`` keys (others ignored); ``ValueError`` naming any bad key or value."""
        refuse_unknown_keys(settings, _PREFIX, (f.name for f in fields(cls)))
        d = cls()
        return cls(
            threshold=decimal_setting(settings, "strategy.threshold", d.threshold),
            risk_budget_usd=decimal_setting(settings, "strategy.risk_budget_usd", d.risk_budget_usd),
            stop_multiple=decimal_setting(settings, "strategy.stop_multiple", d.stop_multiple, allow_zero=False),
            max_qty=decimal_setting(settings, "strategy.max_qty", d.max_qty),
            max_position=decimal_setting(settings, "strategy.max_position", d.max_position),
            order_type=_enum_setting(settings, "strategy.order_type", d.order_type),
            limit_offset_ticks=int_setting(
                settings, "strategy.limit_offset_ticks", d.limit_offset_ticks, minimum=-_MAX_OFFSET_TICKS
            ),
            time_in_force=_enum_setting(settings, "strategy.time_in_force", d.time_in_force),
            flatten_on_opposite=_bool_setting(settings, "strategy.flatten_on_opposite", d.flatten_on_opposite),
            reverse_on_opposite=_bool_setting(settings, "strategy.reverse_on_opposite", d.reverse_on_opposite),
            news_sentiment=_bool_setting(settings, "strategy.news_sentiment", d.news_sentiment),
        )


_E = TypeVar("_E", OrderType, TimeInForce)


def _enum_setting(settings: Mapping[str, str], key: str, default: _E) -> _E:
    raw = settings.get(key)
    if raw is None:
        return default
    try:
        return type(default)(raw.strip().upper())
    except ValueError:
        names = [member.value for member in type(default)]
        raise ValueError(f"setting {key}={raw!r}: must be one of {names}") from None


def _bool_setting(settings: Mapping[str, str], key: str, default: bool) -> bool:
    raw = settings.get(key)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError(f"setting {key}={raw!r}: must be true or false")
    return lowered == "true"


@dataclass(frozen=True, slots=True)
class Strategy:
    """Stateless, so it has no ``to_state``: a restored kernel rebuilds it from its config."""

    config: StrategyConfig = StrategyConfig()

    def on_signal(
        self, signal: Signal, context: AccountContext, scorer: Scorer, derivation: Derivation
    ) -> list[OrderIntent]:
        """The intents for one signal, in the order they should reach the risk gate."""
        if signal.symbol != context.symbol:
            raise ValueError(f"signal for {signal.symbol!r} with the account context of {context.symbol!r}")
        if context.trading_state is TradingState.HALTED:
            return []
        features = dict(signal.features)
        features[SIGNAL_SCORE_FEATURE] = float(signal.score)
        if self.config.news_sentiment:
            features[NEWS_SENTIMENT_FEATURE] = float(context.news_sentiment or 0)
        score = check_score(scorer.score(features))
        cfg = self.config
        if score == 0 or abs(score) < cfg.threshold:
            return []

        side = Side.BUY if score > 0 else Side.SELL
        open_same = context.open_buy_qty if side is Side.BUY else context.open_sell_qty
        exposure = side.sign * context.position + open_same
        reducible = max(_ZERO, -exposure)
        headroom = max(_ZERO, cfg.max_position - exposure)
        active = context.trading_state is TradingState.ACTIVE
        sized = volatility_scaled_qty(
            risk_budget_usd=cfg.risk_budget_usd,
            volatility=context.volatility,
            multiplier=context.multiplier,
            stop_multiple=cfg.stop_multiple,
            max_qty=cfg.max_qty,
        )

        quantities: list[Decimal] = []
        if cfg.flatten_on_opposite and side.sign * context.position < 0:
            quantities.append(reducible)
            if cfg.reverse_on_opposite and active:
                quantities.append(min(sized, headroom - reducible))
        else:
            quantities.append(min(sized, headroom) if active else min(sized, reducible))

        quantities = [qty for qty in quantities if qty > 0]
        if not quantities:
            return []
        limit_price = self._limit_price(side, context) if cfg.order_type is OrderType.LIMIT else None
        if cfg.order_type is OrderType.LIMIT and limit_price is None:
            return []
        correlation_id = signal.envelope.correlation_id or signal.event_id
        return [
            OrderIntent(
                envelope=derivation.envelope(signal.event_time_ms, signal.event_id, correlation_id),
                symbol=signal.symbol,
                signal_id=signal.event_id,
                side=side,
                order_type=cfg.order_type,
                quantity=qty,
                limit_price=limit_price,
                time_in_force=cfg.time_in_force,
                score=score,
                model_name=scorer.name,
                model_version=scorer.version,
                model_sha256=scorer.sha256,
            )
            for qty in quantities
        ]

    def _limit_price(self, side: Side, context: AccountContext) -> Decimal | None:
        """Last price moved ``limit_offset_ticks`` toward aggression, on the tick grid; None if not positive.

        Off-grid results round to the passive side (a buy down, a sell up), so
        the order never pays more than the configured offset.
        """
        tick = context.tick_size
        raw = context.last_price + side.sign * self.config.limit_offset_ticks * tick
        rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
        price = ((raw / tick).to_integral_value(rounding=rounding) * tick).quantize(QUANTUM)
        return price if price > 0 else None
