"""Time bars built from trades, in event time only.

A bar covers the window ``[start_ms, start_ms + bar_ms)`` aligned on multiples
of ``bar_ms`` since the epoch. It closes when a trade arrives in a later
window: no clock ever closes a bar, so a replay closes the same bars at the
same trades. Windows without trades produce no bars (a gap of several empty
windows yields one closed bar, then a bar that starts at the next trade's
window); patterns see returns between consecutive traded bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The open bar's float fields, kept in slots named with a leading underscore.
_FLOAT_STATE = ("open", "high", "low", "close", "volume", "pv")


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed bar: OHLC, traded volume, its own VWAP and the number of trades."""

    start_ms: int
    end_ms: int  # exclusive
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float
    trade_count: int


class BarBuilder:
    """Aggregates trades into time bars of ``bar_ms`` milliseconds.

    A trade stamped before the open bar's window (late, out of order) is folded
    into the open bar: a closed bar is a fact already handed on and is never
    reopened.
    """

    __slots__ = ("bar_ms", "_start", "_open", "_high", "_low", "_close", "_volume", "_pv", "_count")

    def __init__(self, bar_ms: int) -> None:
        if isinstance(bar_ms, bool) or not isinstance(bar_ms, int) or bar_ms < 1:
            raise ValueError(f"bar_ms must be a positive integer, got {bar_ms!r}")
        self.bar_ms = bar_ms
        self._start = 0
        self._open = self._high = self._low = self._close = 0.0
        self._volume = 0.0
        self._pv = 0.0
        self._count = 0  # 0 means no bar is open

    def on_trade(self, time_ms: int, price: float, size: float) -> Bar | None:
        """Add one trade; returns the bar it closed, if it opened a later window."""
        if self._count == 0:
            self._begin(time_ms, price, size)
            return None
        if time_ms >= self._start + self.bar_ms:
            closed = self._bar()
            self._begin(time_ms, price, size)
            return closed
        if price > self._high:
            self._high = price
        elif price < self._low:
            self._low = price
        self._close = price
        self._volume += size
        self._pv += price * size
        self._count += 1
        return None

    def flush(self) -> Bar | None:
        """Close the open bar now (at a session end), if there is one."""
        if self._count == 0:
            return None
        closed = self._bar()
        self._count = 0
        return closed

    @property
    def has_open_bar(self) -> bool:
        return self._count > 0

    def _begin(self, time_ms: int, price: float, size: float) -> None:
        self._start = time_ms - time_ms % self.bar_ms
        self._open = self._high = self._low = self._close = price
        self._volume = size
        self._pv = price * size
        self._count = 1

    def _bar(self) -> Bar:
        # A bar of zero-size prints has no volume to weight by; its close stands in.
        vwap = self._pv / self._volume if self._volume > 0.0 else self._close
        return Bar(
            start_ms=self._start,
            end_ms=self._start + self.bar_ms,
            open=self._open,
            high=self._high,
            low=self._low,
            close=self._close,
            volume=self._volume,
            vwap=vwap,
            trade_count=self._count,
        )

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"bar_ms": self.bar_ms, "start_ms": self._start, "count": self._count}
        state.update((name, getattr(self, f"_{name}")) for name in _FLOAT_STATE)
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BarBuilder:
        builder = cls(state["bar_ms"])
        builder._start = int(state["start_ms"])
        builder._count = int(state["count"])
        for name in _FLOAT_STATE:
            setattr(builder, f"_{name}", float(state[name]))
        return builder
