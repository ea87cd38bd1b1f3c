"""The pattern engine: config, scores, crafted sequences that must and must not fire, snapshots, real ES data."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contract.derivation import Derivation
from contract.events import Envelope, Signal, Tick
from contract.ids import id_from_record
from kernel.bars import BarBuilder
from kernel.patterns import (
    EMA_CROSSOVER,
    VOLATILITY_BREAKOUT,
    VWAP_BREAKOUT,
    VWAP_REVERSION,
    PatternConfig,
    PatternEngine,
    score_from_float,
    squash,
)

ES_FILE = Path(__file__).resolve().parents[2] / "data" / "es_2013-09-01_03_ticks.csv.gz"
TOL = {"rtol": 1e-9, "atol": 1e-9}

# Small periods so crafted sequences stay short: the first bar that may fire is bar 7.
SMALL = PatternConfig(bar_seconds=1, ema_fast=2, ema_slow=4, vol_window=5, volume_window=3, cooldown_bars=0)


def make_tick(i: int, time_ms: int, price: str | float, size: str | float = 1, symbol: str = "ES") -> Tick:
    return Tick(
        envelope=Envelope(
            event_id=f"tick-{i}", event_time_ms=time_ms, producer="test", causation_id=None, correlation_id=f"tick-{i}"
        ),
        symbol=symbol,
        venue="CME",
        sequence=i,
        price=Decimal(str(price)),
        size=Decimal(str(size)),
    )


def derivation(offset: int) -> Derivation:
    return Derivation("inputs", 0, offset, "kernel/test")


def ticks_from_bars(bars: list[tuple[float, float]], bar_ms: int = 1000) -> list[Tick]:
    """One trade per bar window (price, size), then one more trade that closes the last bar."""
    ticks = [make_tick(k, k * bar_ms + 1, price, size) for k, (price, size) in enumerate(bars)]
    ticks.append(make_tick(len(bars), len(bars) * bar_ms + 1, bars[-1][0], bars[-1][1]))
    return ticks


@dataclass
class Sessions:
    """Drives an engine the way the kernel does: ``start_session`` before the first tick of each new session."""

    engine: PatternEngine
    current: str | None = None

    def on_tick(self, tick: Tick, derivation: Derivation, session: str) -> list[Signal]:
        signals: list[Signal] = []
        if session != self.current:
            self.current = session
            signals = self.engine.start_session(tick, derivation)
        return signals + self.engine.on_tick(tick, derivation)


def feed(target: PatternEngine | Sessions, ticks: list[Tick], session: str = "S1") -> list[tuple[int, Signal]]:
    """The signals fired, each with the index of the tick that fired it."""
    driver = target if isinstance(target, Sessions) else Sessions(target)
    fired = []
    for i, tick in enumerate(ticks):
        fired += [(i, s) for s in driver.on_tick(tick, derivation(i), session)]
    return fired


def zigzag(n: int, level: float = 100.0, step: float = 0.25, size: float = 10.0) -> list[tuple[float, float]]:
    return [(level + (step if k % 2 else -step), size) for k in range(n)]


def of(pattern: str, fired: list[tuple[int, Signal]]) -> list[tuple[int, Signal]]:
    return [(i, s) for i, s in fired if s.pattern == pattern]


# --- config --------------------------------------------------------------------------


def test_defaults_and_settings_of_other_stages() -> None:
    config = PatternConfig.from_settings({"risk.max_order_qty": "5", "strategy.pattern.x": "y"})
    assert config == PatternConfig()
    assert (config.bar_ms, config.ema_fast, config.ema_slow, config.vol_window) == (60_000, 12, 26, 30)
    assert (config.zscore_threshold, config.vwap_band, config.volume_surge, config.cooldown_bars) == (2.5, 2.0, 2.0, 5)
    assert config.warmup_bars == 32
    assert config.vwap_pattern == VWAP_REVERSION


def test_from_settings_parses_every_type_and_round_trips() -> None:
    settings = {
        "pattern.bar_seconds": " 30 ",
        "pattern.ema_fast": "5",
        "pattern.ema_slow": "20",
        "pattern.zscore_threshold": "3",
        "pattern.vwap_band": "1.75",
        "pattern.vwap_mode": "breakout",
        "pattern.cooldown_bars": "0",
    }
    config = PatternConfig.from_settings(settings)
    assert (config.bar_ms, config.ema_fast, config.ema_slow) == (30_000, 5, 20)
    assert (config.zscore_threshold, config.vwap_band, config.cooldown_bars) == (3.0, 1.75, 0)
    assert config.vwap_pattern == VWAP_BREAKOUT
    assert PatternConfig.from_settings(config.to_settings()) == config
    assert all(key.startswith("pattern.") for key in config.to_settings())


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"pattern.bar_seconds": "0"}, "bar_seconds"),
        ({"pattern.bar_seconds": "1.5"}, "pattern.bar_seconds"),
        ({"pattern.ema_fast": "abc"}, "pattern.ema_fast"),
        ({"pattern.ema_fast": "26"}, "ema_fast .* below ema_slow"),
        ({"pattern.vol_window": "1"}, "vol_window"),
        ({"pattern.cooldown_bars": "-1"}, "cooldown_bars"),
        ({"pattern.zscore_threshold": "nan"}, "pattern.zscore_threshold"),
        ({"pattern.zscore_threshold": "inf"}, "pattern.zscore_threshold"),
        ({"pattern.vwap_band": "0"}, "vwap_band"),
        ({"pattern.volume_surge": "-2"}, "volume_surge"),
        ({"pattern.vwap_mode": "sideways"}, "vwap_mode"),
        ({"pattern.ema_fst": "5"}, "unknown setting 'pattern.ema_fst'"),
    ],
)
def test_from_settings_refuses_bad_values(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PatternConfig.from_settings(settings)


# --- scores --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0.5, Decimal("0.5")),
        (1.7, Decimal("1")),
        (-3.0, Decimal("-1")),
        (0.123456789, Decimal("0.12345679")),
        (-0.987654321, Decimal("-0.98765432")),
        (1e-12, Decimal("1E-8")),  # keeps its direction
        (-1e-12, Decimal("-1E-8")),
        (0.0, Decimal("0")),
    ],
)
def test_score_from_float(x: float, expected: Decimal) -> None:
    score = score_from_float(x)
    assert score == expected
    assert score.as_tuple().exponent == -8  # always encodable as a scaled integer


@pytest.mark.parametrize(("x", "expected"), [(0.0, 0.0), (1.0, 0.5), (-3.0, -0.75), (1e300, 1.0)])
def test_squash(x: float, expected: float) -> None:
    assert squash(x) == pytest.approx(expected)
    assert -1.0 <= squash(x) <= 1.0


# --- crafted sequences ---------------------------------------------------------------


def _crosses(closes: list[float], config: PatternConfig) -> list[int]:
    """Independent oracle: bar indices where the fast EMA of closes changes side of the slow one."""
    series = pd.Series(closes)
    fast = series.ewm(span=config.ema_fast, adjust=False).mean()
    slow = series.ewm(span=config.ema_slow, adjust=False).mean()
    side, crosses = 0, []
    for k, spread in enumerate(fast - slow):
        new_side = int(np.sign(spread))
        if new_side and side and new_side != side:
            crosses.append(k)
        side = new_side or side
    return crosses


def test_ema_crossover_fires_where_the_averages_cross_after_warm_up() -> None:
    down = [(100.0 - 0.5 * k + (0.2 if k % 2 else -0.2), 10.0) for k in range(12)]
    up = [(94.0 + 1.0 * k + (0.2 if k % 2 else -0.2), 10.0) for k in range(10)]
    bars = down + up
    expected = [k for k in _crosses([p for p, _ in bars], SMALL) if k + 1 >= SMALL.warmup_bars]
    assert expected, "the crafted sequence must cross after warm-up"
    fired = of(EMA_CROSSOVER, feed(PatternEngine("ES", SMALL), ticks_from_bars(bars)))
    # Bar k is closed by tick k + 1.
    assert [i - 1 for i, _ in fired] == expected
    final = fired[-1][1]
    assert final.score > 0  # the fast average ends above the slow one
    assert final.features["ema_fast"] > final.features["ema_slow"]


def test_ema_crossover_is_silent_when_the_only_cross_is_in_warm_up() -> None:
    bars = [(100.0, 10.0), (99.0, 10.0), (98.0, 10.0)] + [(99.0 + k + (0.1 if k % 2 else 0.0), 10.0) for k in range(20)]
    crosses = _crosses([p for p, _ in bars], SMALL)
    assert crosses and all(k + 1 < SMALL.warmup_bars for k in crosses)
    assert of(EMA_CROSSOVER, feed(PatternEngine("ES", SMALL), ticks_from_bars(bars))) == []


@pytest.mark.parametrize("cooldown", [0, 1, 3])
def test_cooldown_keeps_a_pattern_silent_for_that_many_bars(cooldown: int) -> None:
    # In a zigzag the fast EMA crosses the slow one on every bar.
    config = PatternConfig(bar_seconds=1, ema_fast=2, ema_slow=4, vol_window=5, volume_window=3, cooldown_bars=cooldown)
    fired = of(EMA_CROSSOVER, feed(PatternEngine("ES", config), ticks_from_bars(zigzag(40))))
    ticks = [i for i, _ in fired]
    assert ticks[0] == config.warmup_bars  # the first warm bar (index warmup_bars - 1), closed by the next tick
    assert len(ticks) > 3
    assert all(b - a == cooldown + 1 for a, b in zip(ticks, ticks[1:]))


@pytest.mark.parametrize(
    ("jump", "volume", "expected_sign"),
    [
        (3.0, 50.0, 1),  # a 3% bar on five times the usual volume
        (-3.0, 50.0, -1),
        (3.0, 10.0, None),  # the same move on usual volume is no breakout
        (0.3, 50.0, None),  # a surge of volume on an ordinary move neither
    ],
)
def test_volatility_breakout_needs_a_big_move_and_a_volume_surge(
    jump: float, volume: float, expected_sign: int | None
) -> None:
    bars = zigzag(20, step=0.1) + [(100.0 + jump, volume), (100.0 + jump, 10.0)]
    fired = of(VOLATILITY_BREAKOUT, feed(PatternEngine("ES", SMALL), ticks_from_bars(bars)))
    if expected_sign is None:
        assert fired == []
        return
    assert [i for i, _ in fired] == [21]  # bar 20 is closed by tick 21
    signal = fired[0][1]
    assert signal.score * expected_sign >= Decimal("0.5")
    assert abs(signal.features["zscore"]) >= SMALL.zscore_threshold
    assert signal.features["volume_ratio"] >= SMALL.volume_surge


@pytest.mark.parametrize(("mode", "pattern", "sign"), [("reversion", VWAP_REVERSION, -1), ("breakout", VWAP_BREAKOUT, 1)])
def test_vwap_band_fires_once_on_leaving_it(mode: str, pattern: str, sign: int) -> None:
    config = PatternConfig(
        bar_seconds=1, ema_fast=2, ema_slow=4, vol_window=5, volume_window=3, cooldown_bars=0, vwap_mode=mode
    )
    quiet = zigzag(20, step=0.1)
    drift = [(100.0 + 0.5 * k, 10.0) for k in range(1, 9)]  # steady climb: away from VWAP, small returns
    fired = feed(PatternEngine("ES", config), ticks_from_bars(quiet + drift))
    assert of(VWAP_REVERSION if mode == "breakout" else VWAP_BREAKOUT, fired) == []
    band = of(pattern, fired)
    assert len(band) == 1  # it stays outside the band afterwards, and fires on leaving it only
    index, signal = band[0]
    assert index > 20
    assert signal.score * sign >= Decimal("0.5")
    assert signal.features["vwap_distance"] >= config.vwap_band
    assert signal.features["close"] > signal.features["vwap"]


def test_quiet_zigzag_fires_no_band_or_breakout_signal() -> None:
    fired = feed(PatternEngine("ES", SMALL), ticks_from_bars(zigzag(200, step=0.25)))
    assert {s.pattern for _, s in fired} == {EMA_CROSSOVER}


def test_no_signal_before_warm_up_and_full_features_after() -> None:
    engine = PatternEngine("ES", SMALL)
    fired = feed(engine, ticks_from_bars(zigzag(30)))
    assert min(i for i, _ in fired) == SMALL.warmup_bars
    keys = {"close", "bar_volume", "bar_trades", "bar_return", "ema_fast", "ema_slow", "ema_spread_sigmas", "vwap",
            "vwap_distance", "volatility", "zscore", "volume_ratio"}  # fmt: skip
    assert all(set(s.features) == keys for _, s in fired)
    assert set(engine.features()) == keys | {"last_price"}
    assert engine.last_price == 100.25 and engine.bars_closed == 30


def test_signal_envelope_derives_from_the_tick_that_closed_the_bar() -> None:
    # A big move on heavy volume that also crosses the averages and leaves the VWAP band: three signals, one tick.
    # (A longer volatility window, so the shock itself weighs less in the yardstick of the VWAP distance.)
    config = PatternConfig(bar_seconds=1, ema_fast=2, ema_slow=4, vol_window=10, volume_window=3, cooldown_bars=0)
    bars = zigzag(20, step=0.1) + [(97.0, 50.0), (97.0, 10.0)]
    ticks = ticks_from_bars(bars)
    fired = feed(PatternEngine("ES", config), ticks)
    at = [s for i, s in fired if i == 21]
    assert [s.pattern for s in at] == [EMA_CROSSOVER, VWAP_REVERSION, VOLATILITY_BREAKOUT]
    trigger = ticks[21]
    for index, signal in enumerate(at):
        envelope = signal.envelope
        assert envelope.event_id == id_from_record("inputs", 0, 21, index)
        assert envelope.event_time_ms == trigger.event_time_ms
        assert envelope.causation_id == trigger.event_id
        assert envelope.correlation_id == envelope.event_id  # each signal starts its own chain
        assert envelope.producer == "kernel/test"
        assert signal.symbol == "ES"
    assert [s.score > 0 for s in at] == [False, True, False]  # short on the cross and breakout, reversion buys


@pytest.mark.parametrize("session", ["S1", "S2"])
def test_new_session_closes_the_bar_resets_vwap_and_measures_no_return_across_the_break(session: str) -> None:
    engine = PatternEngine("ES", SMALL)
    driver = Sessions(engine)
    quiet = ticks_from_bars(zigzag(20, step=0.1))
    feed(driver, quiet[:-1], session="S1")
    assert engine.bars_closed == 19
    # A 3% jump on heavy volume inside the open bar's window.
    jump = make_tick(100, quiet[-2].event_time_ms + 10, "103", "50")
    driver.on_tick(jump, derivation(100), session)
    signals = driver.on_tick(make_tick(101, jump.event_time_ms + 1000, "103", "10"), derivation(101), session)
    patterns = [s.pattern for s in signals]
    if session == "S1":  # the same session: the jump ends bar 19, a breakout
        assert VOLATILITY_BREAKOUT in patterns
        assert engine.bars_closed == 20
        return
    # A new session closed bar 19 at once, started VWAP over and measures no return across the break.
    assert VOLATILITY_BREAKOUT not in patterns and VWAP_REVERSION not in patterns
    assert engine.bars_closed == 21
    assert engine.vwap == (103.0 * 50 + 103.0 * 10) / 60
    assert engine.features()["bar_return"] == 0.0 and engine.features()["zscore"] == 0.0
    assert engine.features()["vwap"] == 103.0  # the first bar of S2 against S2's VWAP only


@pytest.mark.parametrize(
    ("tick", "message"),
    [
        (make_tick(9, 5_000, "100", "1", symbol="NQ"), "tick for 'NQ'"),
        (make_tick(9, 5_000, "0", "1"), "bad price"),
        (make_tick(9, 5_000, "-100", "1"), "bad price"),
        (make_tick(9, 5_000, "NaN", "1"), "bad price"),
        (make_tick(9, 5_000, "Infinity", "1"), "bad price"),
        (make_tick(9, 5_000, "100", "-1"), "size"),
    ],
)
def test_refused_tick_leaves_state_untouched(tick: Tick, message: str) -> None:
    engine = PatternEngine("ES", SMALL)
    feed(engine, ticks_from_bars(zigzag(10)))
    before = json.dumps(engine.to_state(), sort_keys=True)
    with pytest.raises(ValueError, match=message):
        engine.on_tick(tick, derivation(9))
    assert json.dumps(engine.to_state(), sort_keys=True) == before


def test_from_state_refuses_indicators_that_do_not_match_the_config() -> None:
    state = PatternEngine("ES", SMALL).to_state()
    with pytest.raises(ValueError, match="do not match"):
        PatternEngine.from_state(replace(SMALL, ema_fast=3), state)


# --- real ES data --------------------------------------------------------------------


def _load_es(nrows: int | None) -> pd.DataFrame:
    df = pd.read_csv(ES_FILE, nrows=nrows, dtype={"Price": str})
    local = pd.to_datetime(df["DateTime"], format="%Y-%m-%d %H:%M:%S.%f").dt.tz_localize("America/Chicago")
    return pd.DataFrame(
        {
            "time_ms": (local - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1),
            # CME sessions open at 17:00 Chicago: shifted by 7 hours, each session is named by its trade date.
            "session": (local + pd.Timedelta(hours=7)).dt.strftime("%Y-%m-%d"),
            "price_text": df["Price"],
            "price": df["Price"].astype(float),
            "size": df["Volume"].astype(float),
        }
    )


def _ticks(df: pd.DataFrame) -> Iterator[tuple[Tick, str]]:
    """The trades as ticks with their session ids, made as they are consumed (500,000 at once weigh on the GC)."""
    # Prices and sizes repeat a lot: one Decimal for each value.
    prices = {text: Decimal(text) for text in df["price_text"].unique()}
    sizes = {size: Decimal(int(size)) for size in df["size"].unique()}
    columns = zip(df["time_ms"].tolist(), df["price_text"].tolist(), df["size"].tolist(), df["session"].tolist())
    for i, (t, p, v, session) in enumerate(columns):
        tick = Tick(Envelope(f"tick-{i}", t, "test", None, f"tick-{i}"), "ES", "CME", i, prices[p], sizes[v])
        yield tick, session


def _run(driver: Sessions, ticks: Iterable[tuple[Tick, str]], start: int = 0) -> list[Signal]:
    signals = []
    for offset, (tick, session) in enumerate(ticks, start=start):
        signals += driver.on_tick(tick, derivation(offset), session)
    return signals


@pytest.fixture(scope="module")
def es() -> tuple[pd.DataFrame, list[tuple[Tick, str]]]:
    """The first 100,000 ES trades (about 400 one-minute bars, across the Labor Day break)."""
    df = _load_es(100_000)
    assert df["session"].nunique() == 2
    return df, list(_ticks(df))


def _reference_bars(df: pd.DataFrame, config: PatternConfig) -> pd.DataFrame:
    """Bars and their indicators computed in bulk with pandas: the independent implementation."""
    df = df.assign(bar=df["time_ms"] // config.bar_ms, pv=df["price"] * df["size"])
    by_session = df.groupby("session", sort=False)
    df["session_vwap"] = by_session["pv"].cumsum() / by_session["size"].cumsum()
    bars = (
        df.groupby(["session", "bar"], sort=False)
        .agg(
            open=("price", "first"),
            high=("price", "max"),
            low=("price", "min"),
            close=("price", "last"),
            bar_volume=("size", "sum"),
            pv=("pv", "sum"),
            bar_trades=("price", "size"),
            vwap=("session_vwap", "last"),
        )
        .reset_index()
    )
    returns = bars.groupby("session", sort=False)["close"].pct_change()  # none across the session break
    in_session = returns.dropna()
    rolling = in_session.rolling(config.vol_window)
    std = rolling.std(ddof=1)
    bars["bar_return"] = returns.fillna(0.0)
    # Volatility is reported from two returns on; the z-score only against a full window.
    growing = in_session.rolling(config.vol_window, min_periods=2).std(ddof=1)
    bars["volatility"] = growing.reindex(bars.index).ffill()
    bars["zscore"] = ((in_session - rolling.mean().shift(1)) / std.shift(1)).reindex(bars.index).fillna(0.0)
    bars["ema_fast"] = bars["close"].ewm(span=config.ema_fast, adjust=False).mean()
    bars["ema_slow"] = bars["close"].ewm(span=config.ema_slow, adjust=False).mean()
    sigma_price = bars["close"] * bars["volatility"]
    bars["ema_spread_sigmas"] = (bars["ema_fast"] - bars["ema_slow"]) / sigma_price
    bars["vwap_distance"] = (bars["close"] - bars["vwap"]) / sigma_price
    volume_ema = bars["bar_volume"].ewm(span=config.volume_window, adjust=False).mean()
    bars["volume_ratio"] = bars["bar_volume"] / volume_ema.shift(1)
    return bars


def test_bar_builder_matches_pandas_bars_on_es(es: tuple[pd.DataFrame, list[tuple[Tick, str]]]) -> None:
    df, _ = es
    reference = _reference_bars(df, PatternConfig())
    builder = BarBuilder(60_000)
    bars = [builder.on_trade(t, p, s) for t, p, s in zip(df["time_ms"], df["price"], df["size"])]
    closed = [b for b in bars if b is not None]
    closed.append(builder.flush())
    assert len(closed) == len(reference)  # the session break falls between bar windows
    ours = pd.DataFrame([[b.open, b.high, b.low, b.close, b.volume, b.vwap, b.trade_count] for b in closed])
    expected = reference[["open", "high", "low", "close", "bar_volume", "pv", "bar_trades"]].copy()
    expected["pv"] = expected["pv"] / expected["bar_volume"]
    np.testing.assert_allclose(ours.to_numpy(dtype=float), expected.to_numpy(dtype=float), **TOL)
    assert [b.start_ms for b in closed] == (reference["bar"] * 60_000).tolist()


def test_engine_features_match_pandas_on_es(es: tuple[pd.DataFrame, list[tuple[Tick, str]]]) -> None:
    df, ticks = es
    config = PatternConfig()
    engine = PatternEngine("ES", config)
    driver = Sessions(engine)
    per_bar = []
    for offset, (tick, session) in enumerate(ticks):
        closed = engine.bars_closed
        driver.on_tick(tick, derivation(offset), session)
        if engine.bars_closed != closed:
            features = engine.features()
            del features["last_price"]  # the closing tick's price, not the bar's
            per_bar.append(features)
    reference = _reference_bars(df, config)
    assert len(per_bar) == len(reference) - 1  # the last bar is still open
    compared = 0
    for k, features in enumerate(per_bar):
        ours = np.array(list(features.values()))
        expected = reference.loc[k, list(features)].to_numpy(dtype=float)
        np.testing.assert_allclose(ours, expected, err_msg=f"bar {k}", **TOL)
        compared += len(features)
    assert set(per_bar[-1]) >= {"ema_fast", "ema_slow", "vwap", "volatility", "zscore", "volume_ratio"}
    assert compared > 10 * len(per_bar)


@pytest.mark.parametrize("split", [1, 30_000, 55_800])  # first tick, mid-bar, just after the session break
def test_snapshot_round_trip_continues_like_an_uninterrupted_run(
    es: tuple[pd.DataFrame, list[tuple[Tick, str]]], split: int
) -> None:
    _, ticks = es
    whole = PatternEngine("ES", PatternConfig())
    expected = _run(Sessions(whole), ticks)
    half = Sessions(PatternEngine("ES", PatternConfig()))
    first = _run(half, ticks[:split])
    restored = PatternEngine.from_state(PatternConfig(), json.loads(json.dumps(half.engine.to_state())))
    rest = _run(Sessions(restored, half.current), ticks[split:], start=split)
    assert first + rest == expected
    assert sum(s.envelope.event_time_ms >= ticks[split][0].event_time_ms for s in expected) > 5
    assert restored.to_state() == whole.to_state()
    assert restored.features() == whole.features()


@pytest.mark.slow
def test_whole_es_sample_gives_a_moderate_number_of_signals_per_pattern() -> None:
    ticks = _ticks(_load_es(None))
    signals = _run(Sessions(PatternEngine("ES", PatternConfig())), ticks)
    counts = {p: sum(s.pattern == p for s in signals) for p in (EMA_CROSSOVER, VWAP_REVERSION, VOLATILITY_BREAKOUT)}
    assert all(10 <= n <= 300 for n in counts.values()), counts
    assert all(-1 <= s.score <= 1 and s.score != 0 for s in signals)
    assert all(math.isfinite(v) for s in signals for v in s.features.values())
