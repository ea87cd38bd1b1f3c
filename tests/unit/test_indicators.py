"""Streaming indicators: hand-worked tables, snapshots, and agreement with pandas on real ES trades."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kernel.indicators import Ema, RollingStats, SessionVwap

ES_FILE = Path(__file__).resolve().parents[2] / "data" / "es_2013-09-01_03_ticks.csv.gz"
TOL = {"rtol": 1e-9, "atol": 1e-9}


def _json_round_trip(state: dict) -> dict:
    return json.loads(json.dumps(state))


# --- EMA -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "xs", "expected", "ready_after"),
    [
        # alpha = 1: the average is the last value
        (1, [5.0, 7.0, 3.0], [5.0, 7.0, 3.0], 1),
        # alpha = 2/3: 10, 10 + 2/3 * (13 - 10) = 12, 12 + 2/3 * (9 - 12) = 10
        (2, [10.0, 13.0, 9.0], [10.0, 12.0, 10.0], 2),
        # alpha = 0.5: seeded with the first observation, not zero
        (3, [4.0, 8.0, 8.0, 0.0], [4.0, 6.0, 7.0, 3.5], 3),
    ],
)
def test_ema_table(period: int, xs: list[float], expected: list[float], ready_after: int) -> None:
    ema = Ema(period)
    assert ema.value is None and not ema.ready
    got = []
    for i, x in enumerate(xs, start=1):
        got.append(ema.update(x))
        assert ema.ready == (i >= ready_after)
        assert ema.count == i
    assert got == pytest.approx(expected, abs=1e-12)
    assert ema.value == got[-1]


@pytest.mark.parametrize("period", [0, -3, 2.5, True])
def test_ema_refuses_bad_period(period: object) -> None:
    with pytest.raises(ValueError, match="period"):
        Ema(period)  # type: ignore[arg-type]


# --- session VWAP --------------------------------------------------------------


@pytest.mark.parametrize(
    ("trades", "expected"),
    [
        ([], None),
        ([(100.0, 0.0)], None),  # zero-size prints give no volume to weight by
        ([(100.0, 1.0)], 100.0),
        ([(100.0, 1.0), (101.0, 3.0)], 100.75),
        ([(1640.25, 8.0), (1640.5, 2.0), (1640.0, 10.0)], (1640.25 * 8 + 1640.5 * 2 + 1640.0 * 10) / 20),
    ],
)
def test_session_vwap_table(trades: list[tuple[float, float]], expected: float | None) -> None:
    vwap = SessionVwap()
    for price, size in trades:
        vwap.update(price, size)
    assert vwap.value == expected
    assert vwap.volume == sum(size for _, size in trades)


def test_session_vwap_reset_starts_a_new_session() -> None:
    vwap = SessionVwap()
    vwap.update(100.0, 5.0)
    vwap.reset()
    assert vwap.value is None and vwap.volume == 0.0
    vwap.update(90.0, 1.0)
    assert vwap.value == 90.0


# --- rolling statistics ----------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "xs", "mean", "std"),
    [
        (3, [], 0.0, 0.0),
        (3, [2.0], 2.0, 0.0),  # one value: no dispersion yet
        (3, [1.0, 3.0], 2.0, math.sqrt(2.0)),
        (3, [1.0, 2.0, 3.0], 2.0, 1.0),
        (3, [1.0, 2.0, 3.0, 10.0], 5.0, math.sqrt(19.0)),  # 1 left the window
        (2, [5.0, 5.0, 5.0, 5.0, 5.0], 5.0, 0.0),
        (4, [1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0], 0.0, math.sqrt(4.0 / 3.0)),
    ],
)
def test_rolling_stats_table(window: int, xs: list[float], mean: float, std: float) -> None:
    stats = RollingStats(window)
    for x in xs:
        stats.push(x)
    assert stats.count == min(len(xs), window)
    assert stats.is_full == (len(xs) >= window)
    assert stats.mean == pytest.approx(mean, abs=1e-12)
    assert stats.std == pytest.approx(std, abs=1e-12)


@pytest.mark.parametrize(
    ("window_values", "x", "expected"),
    [
        ([1.0, 2.0, 3.0], 4.0, 2.0),
        ([1.0, 2.0, 3.0], 0.0, -2.0),
        ([1.0, 2.0, 3.0], 2.0, 0.0),
        ([7.0, 7.0, 7.0], 9.0, 0.0),  # no dispersion: no measurable surprise
    ],
)
def test_rolling_zscore_table(window_values: list[float], x: float, expected: float) -> None:
    stats = RollingStats(len(window_values))
    for v in window_values:
        stats.push(v)
    assert stats.zscore(x) == pytest.approx(expected, abs=1e-12)


def test_rolling_stats_stays_exact_after_a_shock_leaves_the_window() -> None:
    # A huge value in the window and out again: removal alone would leave its rounding in M2.
    stats = RollingStats(5)
    xs = [1e-4, -2e-4, 1e8, 3e-4, -1e-4] + [1e-4, 2e-4, -1e-4, 0.0, 5e-5] * 3
    for x in xs:
        stats.push(x)
    tail = xs[-5:]
    assert stats.std == pytest.approx(float(np.std(tail, ddof=1)), rel=1e-9)
    assert stats.mean == pytest.approx(float(np.mean(tail)), rel=1e-9)


def test_rolling_stats_window_of_identical_values_has_exactly_zero_dispersion() -> None:
    stats = RollingStats(3)
    for x in [1.3e-4, -2.7e-4, 0.1, 0.0, 0.0, 0.0]:
        stats.push(x)
    assert (stats.mean, stats.std, stats.zscore(1e-4)) == (0.0, 0.0, 0.0)
    stats.push(1e-4)
    assert stats.std > 0.0


@pytest.mark.parametrize("window", [1, 0, 2.0])
def test_rolling_stats_refuses_bad_window(window: object) -> None:
    with pytest.raises(ValueError, match="window"):
        RollingStats(window)  # type: ignore[arg-type]


# --- snapshots -------------------------------------------------------------------


def _sequence(n: int) -> list[float]:
    # A deterministic, irregular sequence with repeats (like tick prices).
    return [100.0 + ((i * 7919) % 23) * 0.25 - (i % 5) * 0.5 for i in range(n)]


def test_ema_snapshot_continues_exactly() -> None:
    xs = _sequence(200)
    whole, half = Ema(9), Ema(9)
    expected = [whole.update(x) for x in xs]
    first = [half.update(x) for x in xs[:77]]
    restored = Ema.from_state(_json_round_trip(half.to_state()))
    assert first + [restored.update(x) for x in xs[77:]] == expected
    assert restored.to_state() == whole.to_state()


def test_session_vwap_snapshot_continues_exactly() -> None:
    xs = _sequence(100)
    whole, half = SessionVwap(), SessionVwap()
    for i, x in enumerate(xs):
        whole.update(x, float(i % 4))
        if i < 40:
            half.update(x, float(i % 4))
    restored = SessionVwap.from_state(_json_round_trip(half.to_state()))
    for i, x in enumerate(xs[40:], start=40):
        restored.update(x, float(i % 4))
    assert restored.value == whole.value
    assert restored.to_state() == whole.to_state()


@pytest.mark.parametrize("split", [3, 10, 11, 57])  # before full, at the wrap, just after, mid-ring
def test_rolling_stats_snapshot_continues_exactly(split: int) -> None:
    xs = [x / 100.0 - 1.0 for x in _sequence(120)]
    whole, half = RollingStats(11), RollingStats(11)
    expected = []
    for x in xs:
        whole.push(x)
        expected.append((whole.mean, whole.std, whole.zscore(x)))
    got = []
    for x in xs[:split]:
        half.push(x)
        got.append((half.mean, half.std, half.zscore(x)))
    restored = RollingStats.from_state(_json_round_trip(half.to_state()))
    for x in xs[split:]:
        restored.push(x)
        got.append((restored.mean, restored.std, restored.zscore(x)))
    assert got == expected


def test_rolling_stats_from_state_refuses_an_inconsistent_ring() -> None:
    state = RollingStats(3).to_state()
    state["values"] = [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="inconsistent"):
        RollingStats.from_state(state)


# --- agreement with pandas on real ES trades ----------------------------------------


@pytest.fixture(scope="module")
def es_ticks() -> pd.DataFrame:
    """The first 100,000 ES trades; they span the Labor Day break into a second session."""
    df = pd.read_csv(ES_FILE, nrows=100_000)
    # CME sessions open at 17:00 Chicago: shifting by 7 hours names each session by its trade date.
    df["session"] = (pd.to_datetime(df["DateTime"]) + pd.Timedelta(hours=7)).dt.date
    assert df["session"].nunique() == 2
    return df


@pytest.mark.parametrize("period", [12, 26, 500])
def test_ema_matches_pandas_ewm_on_es_prices(es_ticks: pd.DataFrame, period: int) -> None:
    prices = es_ticks["Price"].to_numpy(dtype=float)
    ema = Ema(period)
    ours = np.array([ema.update(p) for p in prices.tolist()])
    reference = pd.Series(prices).ewm(alpha=2.0 / (period + 1), adjust=False).mean().to_numpy()
    np.testing.assert_allclose(ours, reference, **TOL)


def test_session_vwap_matches_pandas_cumulative_on_es_trades(es_ticks: pd.DataFrame) -> None:
    vwap = SessionVwap()
    ours = []
    session = None
    for price, size, day in zip(
        es_ticks["Price"].tolist(), es_ticks["Volume"].astype(float).tolist(), es_ticks["session"].tolist()
    ):
        if day != session:
            vwap.reset()
            session = day
        vwap.update(price, size)
        ours.append(vwap.value)
    pv = (es_ticks["Price"] * es_ticks["Volume"]).groupby(es_ticks["session"]).cumsum()
    volume = es_ticks["Volume"].groupby(es_ticks["session"]).cumsum()
    np.testing.assert_allclose(np.array(ours), (pv / volume).to_numpy(), **TOL)


@pytest.mark.parametrize("window", [30, 200])
def test_rolling_stats_match_pandas_rolling_on_es_returns(es_ticks: pd.DataFrame, window: int) -> None:
    returns = es_ticks["Price"].pct_change().dropna().reset_index(drop=True)
    stats = RollingStats(window)
    stds, zscores = [], []
    for r in returns.tolist():
        zscores.append(stats.zscore(r) if stats.is_full else math.nan)  # against the previous window
        stats.push(r)
        stds.append(stats.std if stats.is_full else math.nan)
    rolling = returns.rolling(window)
    # A window of identical returns has no dispersion; pandas may leave a rounding residue there.
    identical = rolling.max() == rolling.min()
    std = rolling.std(ddof=1).mask(identical, 0.0)
    np.testing.assert_allclose(np.array(stds), std.to_numpy(), equal_nan=True, **TOL)
    previous_std = std.shift(1)
    expected_z = ((returns - rolling.mean().shift(1)) / previous_std).mask(previous_std == 0.0, 0.0)
    assert identical.sum() > 0  # the degenerate case is exercised, not just the easy one
    np.testing.assert_allclose(np.array(zscores), expected_z.to_numpy(), equal_nan=True, **TOL)
