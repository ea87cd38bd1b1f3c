"""The strategy: given a signal and an account context, then these intents."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from decimal import Decimal

import pytest

from contract.derivation import Derivation
from contract.events import (
    Envelope,
    OrderIntent,
    OrderType,
    Side,
    Signal,
    Tick,
    TimeInForce,
    TradingState,
)
from contract.serde import EventCodec
from inference.baseline import BaselineScorer
from inference.scorer import Scorer
from kernel.patterns import PatternConfig, PatternEngine
from kernel.strategy import AccountContext, Strategy, StrategyConfig

D = Decimal
SIGNAL_ID = "sig-1"
FEATURES = {"zscore": 0.0, "vwap_distance": 0.0, "ema_spread_sigmas": 0.0, "volume_ratio": 1.0, "volatility": 0.001}


class FixedScorer(Scorer):
    """Returns one given score, and keeps the features it was asked about."""

    def __init__(self, score: str, name: str = "fixed", version: str = "0.1") -> None:
        self.name, self.version, self.sha256 = name, version, "0" * 64
        self._score = D(score)
        self.seen: list[dict[str, float]] = []

    def score(self, features: Mapping[str, float]) -> Decimal:
        self.seen.append(dict(features))
        return self._score


def signal(score: str = "0.5", correlation_id: str | None = "corr-1") -> Signal:
    envelope = Envelope(SIGNAL_ID, 1_378_000_000_123, "kernel/test", "tick-1", correlation_id)  # type: ignore[arg-type]
    return Signal(envelope, "ES", "vwap_revert", D(score), dict(FEATURES))


def context(
    position: str = "0",
    open_buy: str = "0",
    open_sell: str = "0",
    state: TradingState = TradingState.ACTIVE,
    volatility: float | None = 1.25,
    last: str = "1650.25",
) -> AccountContext:
    return AccountContext(
        symbol="ES",
        position=D(position),
        open_buy_qty=D(open_buy),
        open_sell_qty=D(open_sell),
        realized_pnl=D("0"),
        unrealized_pnl=D("0"),
        last_price=D(last),
        volatility=volatility,
        tick_size=D("0.25"),
        multiplier=D("50"),
        trading_state=state,
    )


def derivation(offset: int = 42) -> Derivation:
    return Derivation("aitrader.sequenced", 0, offset, "kernel/test")


# $1000 at a 2-volatility stop of 1.25 points on ES risks $125 a contract: 8, capped at 3.
CONFIG = StrategyConfig(threshold=D("0.3"), risk_budget_usd=D("1000"), max_qty=D("3"), max_position=D("4"))


def decide(
    score: str,
    ctx: AccountContext | None = None,
    config: StrategyConfig = CONFIG,
) -> list[tuple[Side, Decimal]]:
    intents = Strategy(config).on_signal(signal(), ctx or context(), FixedScorer(score), derivation())
    return [(i.side, i.quantity) for i in intents]


BUY, SELL = Side.BUY, Side.SELL


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        ("0.3", [(BUY, D(3))]),  # at the threshold: trades
        ("0.299999", []),  # one quantum below: does not
        ("-0.3", [(SELL, D(3))]),
        ("-0.299999", []),
        ("1", [(BUY, D(3))]),
        ("0", []),
    ],
)
def test_threshold_boundary(score: str, expected: list[tuple[Side, Decimal]]) -> None:
    assert decide(score) == expected


def test_a_zero_score_never_trades_even_at_threshold_zero() -> None:
    assert decide("0", config=dataclasses.replace(CONFIG, threshold=D("0"))) == []


@pytest.mark.parametrize(
    ("score", "ctx", "expected"),
    [
        # the soft cap counts the position and the same-side open orders
        ("0.5", context(position="2"), [(BUY, D(2))]),
        ("0.5", context(position="1", open_buy="2"), [(BUY, D(1))]),
        ("0.5", context(position="4"), []),
        ("0.5", context(position="3", open_sell="5"), [(BUY, D(1))]),  # other-side orders do not free room
        ("-0.5", context(position="-3"), [(SELL, D(1))]),
        # no volatility, no entry
        ("0.5", context(volatility=None), []),
        ("0.5", context(volatility=0.0), []),
    ],
)
def test_entries_are_sized_and_soft_capped(
    score: str, ctx: AccountContext, expected: list[tuple[Side, Decimal]]
) -> None:
    assert decide(score, ctx) == expected


REVERSING = dataclasses.replace(CONFIG, reverse_on_opposite=True)
NO_FLATTEN = dataclasses.replace(CONFIG, flatten_on_opposite=False)


@pytest.mark.parametrize(
    ("score", "ctx", "config", "expected"),
    [
        # against the position: close it instead of entering
        ("-0.5", context(position="3"), CONFIG, [(SELL, D(3))]),
        ("0.5", context(position="-2"), CONFIG, [(BUY, D(2))]),
        ("-0.5", context(position="3", open_sell="1"), CONFIG, [(SELL, D(2))]),  # net of orders already closing
        ("-0.5", context(position="3", open_sell="3"), CONFIG, []),  # already closing: no entry either
        ("-0.5", context(position="3", volatility=None), CONFIG, [(SELL, D(3))]),  # closing needs no volatility
        # ... or close, then enter the new direction
        ("-0.5", context(position="3"), REVERSING, [(SELL, D(3)), (SELL, D(3))]),
        ("-0.5", context(position="3", volatility=None), REVERSING, [(SELL, D(3))]),
        ("-0.5", context(position="3", open_sell="3"), REVERSING, [(SELL, D(3))]),  # the close is working
        ("-0.5", context(position="3", open_sell="6"), REVERSING, [(SELL, D(1))]),  # soft cap after the close
        ("-0.5", context(position="3", state=TradingState.REDUCING), REVERSING, [(SELL, D(3))]),
        # without flattening: an ordinary sized order that may cross through zero
        ("-0.5", context(position="5"), NO_FLATTEN, [(SELL, D(3))]),
        ("-0.5", context(position="1"), NO_FLATTEN, [(SELL, D(3))]),
    ],
)
def test_a_score_against_the_position(
    score: str, ctx: AccountContext, config: StrategyConfig, expected: list[tuple[Side, Decimal]]
) -> None:
    assert decide(score, ctx, config) == expected


REDUCING = TradingState.REDUCING


@pytest.mark.parametrize(
    ("score", "ctx", "config", "expected"),
    [
        ("0.5", context(state=REDUCING), CONFIG, []),  # flat: nothing to reduce
        ("0.5", context(position="2", state=REDUCING), CONFIG, []),  # would add
        ("-0.5", context(position="2", state=REDUCING), CONFIG, [(SELL, D(2))]),
        ("-0.5", context(position="2", state=REDUCING), NO_FLATTEN, [(SELL, D(2))]),  # capped at the position
        ("-0.5", context(position="5", state=REDUCING), NO_FLATTEN, [(SELL, D(3))]),
        ("-0.5", context(position="5", open_sell="4", state=REDUCING), NO_FLATTEN, [(SELL, D(1))]),
    ],
)
def test_reducing_allows_only_reducing_intents(
    score: str, ctx: AccountContext, config: StrategyConfig, expected: list[tuple[Side, Decimal]]
) -> None:
    assert decide(score, ctx, config) == expected


@pytest.mark.parametrize("position", ["0", "3", "-3"])
@pytest.mark.parametrize("score", ["1", "-1"])
def test_halted_emits_nothing_and_does_not_score(position: str, score: str) -> None:
    scorer = FixedScorer(score)
    ctx = context(position=position, state=TradingState.HALTED)
    assert Strategy(REVERSING).on_signal(signal(), ctx, scorer, derivation()) == []
    assert scorer.seen == []


LIMIT = dataclasses.replace(CONFIG, order_type=OrderType.LIMIT, time_in_force=TimeInForce.IOC)


@pytest.mark.parametrize(
    ("score", "last", "offset", "expected"),
    [
        ("0.5", "1650.25", 0, D("1650.25")),
        ("0.5", "1650.25", 2, D("1650.75")),  # a buy pays up
        ("-0.5", "1650.25", 2, D("1649.75")),  # a sell gives down
        ("0.5", "1650.25", -1, D("1650.00")),  # negative rests behind the last price
        ("0.5", "1650.30", 1, D("1650.50")),  # off the grid: a buy rounds down
        ("-0.5", "1650.30", 1, D("1650.25")),  # a sell rounds up
    ],
)
def test_limit_price_is_offset_and_on_the_tick_grid(score: str, last: str, offset: int, expected: Decimal) -> None:
    config = dataclasses.replace(LIMIT, limit_offset_ticks=offset)
    (intent,) = Strategy(config).on_signal(signal(), context(last=last), FixedScorer(score), derivation())
    assert intent.order_type is OrderType.LIMIT and intent.time_in_force is TimeInForce.IOC
    assert intent.limit_price == expected


def test_no_limit_order_at_a_non_positive_price() -> None:
    config = dataclasses.replace(LIMIT, limit_offset_ticks=-4)
    assert Strategy(config).on_signal(signal(), context(last="1.00"), FixedScorer("0.5"), derivation()) == []


def test_market_orders_carry_no_price() -> None:
    (intent,) = Strategy(CONFIG).on_signal(signal(), context(), FixedScorer("0.5"), derivation())
    assert intent.order_type is OrderType.MARKET and intent.limit_price is None


def test_intent_records_model_score_and_lineage() -> None:
    sig = signal("0.5")
    scorer = FixedScorer("0.654321", "m", "7")
    intents = Strategy(REVERSING).on_signal(sig, context(position="-1"), scorer, derivation())
    assert len(intents) == 2
    for intent in intents:
        assert (intent.model_name, intent.model_version, intent.score) == ("m", "7", D("0.654321"))
        assert intent.signal_id == SIGNAL_ID and intent.symbol == "ES"
        assert intent.event_time_ms == sig.event_time_ms
        assert intent.envelope.causation_id == SIGNAL_ID
        assert intent.envelope.correlation_id == "corr-1"
        assert intent.envelope.producer == "kernel/test"
    assert intents[0].event_id != intents[1].event_id


def test_correlation_falls_back_to_the_signal_id() -> None:
    (intent,) = Strategy(CONFIG).on_signal(signal(correlation_id=None), context(), FixedScorer("0.5"), derivation())
    assert intent.envelope.correlation_id == SIGNAL_ID


def test_scorer_sees_the_signal_features_and_its_score() -> None:
    scorer = FixedScorer("0.5")
    sig = dataclasses.replace(signal("-0.25"), features={**FEATURES, "signal_score": 9.0})
    Strategy(CONFIG).on_signal(sig, context(), scorer, derivation())
    assert scorer.seen == [{**FEATURES, "signal_score": -0.25}]
    assert "signal_score" not in signal().features  # the signal itself is left alone


def test_same_inputs_give_equal_intents_and_bytes() -> None:
    def run(offset: int) -> list[OrderIntent]:
        return Strategy(REVERSING).on_signal(signal(), context(position="-2"), BaselineScorer(), derivation(offset))

    sig_score = D("0.5")
    assert BaselineScorer().score({**FEATURES, "signal_score": float(sig_score)}) > CONFIG.threshold
    first, again, elsewhere = run(42), run(42), run(43)
    assert first == again and len(first) == 2
    codec = EventCodec()
    assert [codec.encode(i) for i in first] == [codec.encode(i) for i in again]
    assert [codec.decode(codec.encode(i)) for i in first] == first
    assert {i.event_id for i in first}.isdisjoint(i.event_id for i in elsewhere)
    assert first[0].model_name == "baseline" and first[0].model_version == "1.0.0"


def test_pattern_engine_signals_become_encodable_intents() -> None:
    """The features the pattern engine emits are the ones the baseline scorer needs."""
    engine = PatternEngine(
        "ES", PatternConfig(bar_seconds=1, ema_fast=3, ema_slow=6, vol_window=5, volume_window=4, cooldown_bars=1)
    )
    strategy, scorer, codec = Strategy(dataclasses.replace(LIMIT, limit_offset_ticks=1)), BaselineScorer(), EventCodec()
    patterns, intents = set(), []
    for i in range(600):
        price = D(1650) + D(round(8 * math.sin(i / 40) + 2 * math.sin(i / 7))) * D("0.25")
        envelope = Envelope(f"tick-{i}", 1_378_000_000_000 + 250 * i, "test", None, f"tick-{i}")
        tick = Tick(envelope, "ES", "GLBX", i, price, D(21 if i % 17 == 0 else 1))
        for sig in engine.on_tick(tick, Derivation("ticks", 0, i, "test")):
            patterns.add(sig.pattern)
            ctx = dataclasses.replace(context(last=str(price)), volatility=engine.volatility * float(price))
            intents += strategy.on_signal(sig, ctx, scorer, Derivation("signals", 0, i, "test"))
    assert patterns == {"ema_crossover", "vwap_reversion", "volatility_breakout"}
    assert intents and all(codec.decode(codec.encode(i)) == i for i in intents)
    assert {i.side for i in intents} == {Side.BUY, Side.SELL}


def test_refuses_a_signal_for_another_symbol() -> None:
    with pytest.raises(ValueError, match="NQ"):
        Strategy().on_signal(signal(), dataclasses.replace(context(), symbol="NQ"), FixedScorer("0.5"), derivation())


def test_refuses_a_score_that_breaks_the_contract() -> None:
    with pytest.raises(ValueError, match="quantized"):
        Strategy().on_signal(signal(), context(), FixedScorer("0.1234567"), derivation())


def test_account_context_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="tick_size"):
        dataclasses.replace(context(), tick_size=D("0"))
    with pytest.raises(ValueError, match="open quantities"):
        context(open_buy="-1")


# --- configuration ---------------------------------------------------------------


def test_config_defaults_and_other_prefixes_are_ignored() -> None:
    assert StrategyConfig.from_settings({"pattern.ema_fast": "12", "risk.max_order_qty": "x"}) == StrategyConfig()


def test_config_parses_every_key() -> None:
    settings = {
        "strategy.threshold": "0.45",
        "strategy.risk_budget_usd": "750.50",
        "strategy.stop_multiple": "1.5",
        "strategy.max_qty": "4",
        "strategy.max_position": "6",
        "strategy.order_type": "limit",
        "strategy.limit_offset_ticks": "-2",
        "strategy.time_in_force": "GTC",
        "strategy.flatten_on_opposite": "false",
        "strategy.reverse_on_opposite": "True",
    }
    assert StrategyConfig.from_settings(settings) == StrategyConfig(
        threshold=D("0.45"),
        risk_budget_usd=D("750.50"),
        stop_multiple=D("1.5"),
        max_qty=D("4"),
        max_position=D("6"),
        order_type=OrderType.LIMIT,
        limit_offset_ticks=-2,
        time_in_force=TimeInForce.GTC,
        flatten_on_opposite=False,
        reverse_on_opposite=True,
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("strategy.treshold", "0.3", "unknown setting.*strategy.treshold"),
        ("strategy.threshold", "abc", "strategy.threshold='abc': not a decimal number"),
        ("strategy.threshold", "NaN", "finite"),
        ("strategy.threshold", "1.5", "threshold must be in"),
        ("strategy.threshold", "0.1234567", "at most 6 decimals"),
        ("strategy.risk_budget_usd", "-1", "risk_budget_usd='-1': must be a finite number >= 0"),
        ("strategy.max_position", "-1", "max_position='-1'"),
        ("strategy.stop_multiple", "0", "stop_multiple='0': must be a finite number > 0"),
        ("strategy.limit_offset_ticks", "1.5", "limit_offset_ticks='1.5': not an integer"),
        ("strategy.limit_offset_ticks", "-1001", "limit_offset_ticks='-1001': must be >= -1000"),
        ("strategy.limit_offset_ticks", "1001", "limit_offset_ticks must be within"),
        ("strategy.order_type", "STOP", r"order_type='STOP': must be one of \['MARKET', 'LIMIT'\]"),
        ("strategy.time_in_force", "FOK", "time_in_force='FOK'"),
        ("strategy.flatten_on_opposite", "yes", "true or false"),
    ],
)
def test_config_refuses_bad_settings(key: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StrategyConfig.from_settings({key: value})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threshold": D("-0.1")}, "threshold"),
        ({"max_qty": D("-1")}, "max_qty must be >= 0"),
        ({"stop_multiple": D("-2")}, "stop_multiple must be > 0"),
        ({"limit_offset_ticks": -1001}, "limit_offset_ticks"),
    ],
)
def test_config_built_directly_is_checked_too(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StrategyConfig(**changes)  # type: ignore[arg-type]
