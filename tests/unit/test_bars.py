"""Time bars from trades: when bars close, what they hold, and their snapshots."""

from __future__ import annotations

import json

import pytest

from kernel.bars import Bar, BarBuilder

Trade = tuple[int, float, float]  # (time_ms, price, size)


def _run(builder: BarBuilder, trades: list[Trade]) -> list[tuple[int, Bar]]:
    """The bars closed while feeding ``trades``, each with the index of the trade that closed it."""
    closed = []
    for i, (time_ms, price, size) in enumerate(trades):
        bar = builder.on_trade(time_ms, price, size)
        if bar is not None:
            closed.append((i, bar))
    return closed


def _bar(start_ms: int, ohlc: tuple[float, float, float, float], volume: float, vwap: float, count: int) -> Bar:
    return Bar(start_ms, start_ms + 1000, *ohlc, volume=volume, vwap=vwap, trade_count=count)


@pytest.mark.parametrize(
    ("name", "trades", "expected"),
    [
        ("first trade opens a bar, closes none", [(1500, 10.0, 1.0)], []),
        ("same window aggregates", [(1000, 10.0, 1.0), (1200, 12.0, 3.0), (1999, 9.0, 1.0)], []),
        (
            "a trade at the window end closes the bar",
            [(1000, 10.0, 1.0), (1200, 12.0, 3.0), (1999, 9.0, 1.0), (2000, 11.0, 2.0)],
            [(3, _bar(1000, (10.0, 12.0, 9.0, 9.0), 5.0, (10.0 + 36.0 + 9.0) / 5.0, 3))],
        ),
        (
            "windows align on the epoch, not on the first trade",
            [(1700, 10.0, 2.0), (2100, 10.5, 2.0)],
            [(1, _bar(1000, (10.0, 10.0, 10.0, 10.0), 2.0, 10.0, 1))],
        ),
        (
            "a gap of empty windows yields one bar, the next starts at the trade's window",
            [(1000, 10.0, 1.0), (5300, 11.0, 1.0), (5400, 11.5, 1.0), (6000, 12.0, 1.0)],
            [
                (1, _bar(1000, (10.0, 10.0, 10.0, 10.0), 1.0, 10.0, 1)),
                (3, _bar(5000, (11.0, 11.5, 11.0, 11.5), 2.0, 11.25, 2)),
            ],
        ),
        (
            "a late trade is folded into the open bar",
            [(2000, 10.0, 1.0), (2500, 10.0, 1.0), (1900, 8.0, 2.0), (3000, 9.0, 1.0)],
            [(3, _bar(2000, (10.0, 10.0, 8.0, 8.0), 4.0, 9.0, 3))],
        ),
        (
            "zero-size prints: the close stands in for the VWAP",
            [(1000, 10.0, 0.0), (1100, 10.25, 0.0), (2000, 10.0, 1.0)],
            [(2, _bar(1000, (10.0, 10.25, 10.0, 10.25), 0.0, 10.25, 2))],
        ),
        (
            "negative epoch times floor to their window too",
            [(-1500, 10.0, 1.0), (-1000, 11.0, 1.0)],
            [(1, _bar(-2000, (10.0, 10.0, 10.0, 10.0), 1.0, 10.0, 1))],
        ),
    ],
)
def test_bar_builder_table(name: str, trades: list[Trade], expected: list[tuple[int, Bar]]) -> None:
    builder = BarBuilder(1000)
    assert _run(builder, trades) == expected, name
    assert builder.has_open_bar == bool(trades)


def test_flush_closes_the_open_bar_once() -> None:
    builder = BarBuilder(60_000)
    assert builder.flush() is None
    builder.on_trade(60_500, 5.0, 2.0)
    builder.on_trade(61_000, 7.0, 2.0)
    assert builder.flush() == Bar(60_000, 120_000, 5.0, 7.0, 5.0, 7.0, 4.0, 6.0, 2)
    assert not builder.has_open_bar
    assert builder.flush() is None
    # After a flush the next trade opens a fresh bar, even inside the flushed window.
    assert builder.on_trade(62_000, 9.0, 1.0) is None
    assert builder.flush() == Bar(60_000, 120_000, 9.0, 9.0, 9.0, 9.0, 1.0, 9.0, 1)


@pytest.mark.parametrize("bar_ms", [0, -1000, 1.5, True])
def test_bar_builder_refuses_bad_length(bar_ms: object) -> None:
    with pytest.raises(ValueError, match="bar_ms"):
        BarBuilder(bar_ms)  # type: ignore[arg-type]


def _trades(n: int) -> list[Trade]:
    # Irregular spacing (0..1.7 s) so some windows are empty and some hold many trades.
    trades, t = [], 0
    for i in range(n):
        t += (i * 389) % 1700
        trades.append((t, 100.0 + ((i * 31) % 9) * 0.25, float(1 + i % 4)))
    return trades


@pytest.mark.parametrize("split", [0, 1, 17, 150])
def test_snapshot_continues_exactly(split: int) -> None:
    trades = _trades(300)
    expected = _run(BarBuilder(1000), trades)
    half = BarBuilder(1000)
    first = _run(half, trades[:split])
    restored = BarBuilder.from_state(json.loads(json.dumps(half.to_state())))
    rest = [(i + split, bar) for i, bar in _run(restored, trades[split:])]
    assert first + rest == expected
    assert len(expected) > 50


def test_bars_partition_the_trades() -> None:
    # Every trade lands in exactly one bar: volumes and counts add up, bars never overlap.
    trades = _trades(500)
    builder = BarBuilder(1000)
    bars = [bar for _, bar in _run(builder, trades)]
    last = builder.flush()
    assert last is not None
    bars.append(last)
    assert sum(b.trade_count for b in bars) == len(trades)
    assert sum(b.volume for b in bars) == sum(size for _, _, size in trades)
    assert all(a.end_ms <= b.start_ms for a, b in zip(bars, bars[1:]))
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
