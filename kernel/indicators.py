"""Streaming indicators, O(1) per update, each with a plain-JSON snapshot.

They compute in floats on purpose: IEEE-754 addition, multiplication, division
and square root are correctly rounded, so the same inputs in the same order give
the same bits on every platform. For that reason nothing here calls ``log``,
``exp`` or ``tanh``, whose results may differ in the last bit between C
libraries; returns are simple returns, not log returns.

The hot path does not validate its inputs (callers such as
``kernel.patterns.PatternEngine`` check ticks once at the edge); the
constructors and ``from_state`` do validate their parameters.
"""

from __future__ import annotations

import math
from typing import Any


def _check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


class Ema:
    """Exponential moving average with ``alpha = 2 / (period + 1)``, seeded with its first observation.

    This is pandas' ``Series.ewm(alpha=alpha, adjust=False).mean()``. ``ready``
    once it has seen ``period`` observations: before that the seed still
    dominates the average.
    """

    __slots__ = ("period", "alpha", "_value", "_count")

    def __init__(self, period: int) -> None:
        self.period = _check_count("period", period, 1)
        self.alpha = 2.0 / (period + 1)
        self._value = 0.0
        self._count = 0

    def update(self, x: float) -> float:
        """Fold ``x`` in and return the new average."""
        if self._count:
            self._value += self.alpha * (x - self._value)
        else:
            self._value = x
        self._count += 1
        return self._value

    @property
    def value(self) -> float | None:
        return self._value if self._count else None

    @property
    def count(self) -> int:
        return self._count

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    def to_state(self) -> dict[str, Any]:
        return {"period": self.period, "value": self._value, "count": self._count}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Ema:
        ema = cls(state["period"])
        ema._value = float(state["value"])
        ema._count = _check_count("count", state["count"], 0)
        return ema


class SessionVwap:
    """Volume-weighted average price since the last ``reset()`` (the caller's session start).

    Prices on a tick grid times integer sizes are exact in binary floating
    point, so the running sums are exact for any realistic session.
    """

    __slots__ = ("_pv", "_volume")

    def __init__(self) -> None:
        self._pv = 0.0
        self._volume = 0.0

    def update(self, price: float, size: float) -> None:
        self._pv += price * size
        self._volume += size

    def reset(self) -> None:
        self._pv = 0.0
        self._volume = 0.0

    @property
    def value(self) -> float | None:
        """None until the session has traded some volume."""
        return self._pv / self._volume if self._volume > 0.0 else None

    @property
    def volume(self) -> float:
        return self._volume

    def to_state(self) -> dict[str, Any]:
        return {"pv": self._pv, "volume": self._volume}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SessionVwap:
        vwap = cls()
        vwap._pv = float(state["pv"])
        vwap._volume = float(state["volume"])
        return vwap


class RollingStats:
    """Mean and sample standard deviation (ddof=1) of the last ``window`` values.

    Welford's running mean and sum of squared deviations (M2), with the oldest
    value removed as the newest is added, so each push is O(1). Removal lets
    rounding error accumulate, so every ``window`` pushes (when the ring buffer
    wraps) mean and M2 are recomputed from the buffer: amortised O(1), and the
    error stays bounded however long the stream runs. A window of identical
    values (a run of zero returns in a quiet market) gets M2 exactly 0, not a
    rounding residue that would turn the next small move into a huge z-score.
    ``ready`` (``is_full``) once the window holds ``window`` values.
    """

    __slots__ = ("window", "_values", "_head", "_run", "_mean", "_m2")

    def __init__(self, window: int) -> None:
        self.window = _check_count("window", window, 2)
        self._values: list[float] = []
        self._head = 0  # index of the oldest value once the buffer is full
        self._run = 0  # how many of the latest values are equal to the newest
        self._mean = 0.0
        self._m2 = 0.0

    def push(self, x: float) -> None:
        values = self._values
        n = len(values)
        # values[head - 1] is the newest value, both while filling (head 0) and once full.
        run = self._run + 1 if n and x == values[self._head - 1] else 1
        self._run = run
        if n < self.window:
            values.append(x)
            n += 1
            delta = x - self._mean
            self._mean += delta / n
            self._m2 += delta * (x - self._mean)
        else:
            head = self._head
            old = values[head]
            values[head] = x
            old_mean = self._mean
            self._mean = old_mean + (x - old) / n
            self._m2 += (x - old) * (x - self._mean + old - old_mean)
            head += 1
            if head == n:
                head = 0
                self._resync()
            self._head = head
        if run >= n:
            self._mean = x
            self._m2 = 0.0

    def _resync(self) -> None:
        values = self._values
        mean = sum(values) / len(values)
        self._mean = mean
        self._m2 = sum((v - mean) * (v - mean) for v in values)

    @property
    def count(self) -> int:
        return len(self._values)

    @property
    def is_full(self) -> bool:
        return len(self._values) == self.window

    @property
    def mean(self) -> float:
        return self._mean

    @property
    def std(self) -> float:
        """Sample standard deviation; 0.0 with fewer than two values."""
        n = len(self._values)
        if n < 2 or self._m2 <= 0.0:  # M2 can dip just below zero by rounding
            return 0.0
        return math.sqrt(self._m2 / (n - 1))

    def zscore(self, x: float) -> float:
        """How many standard deviations ``x`` lies from the window's mean; 0.0 when there is no dispersion."""
        std = self.std
        return (x - self._mean) / std if std > 0.0 else 0.0

    def to_state(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "values": list(self._values),
            "head": self._head,
            "run": self._run,
            "mean": self._mean,
            "m2": self._m2,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RollingStats:
        stats = cls(state["window"])
        values = [float(v) for v in state["values"]]
        head = state["head"]
        run = state["run"]
        n = len(values)
        if n > stats.window or not 0 <= head < max(n, 1) or (n < stats.window and head) or run < 0:
            raise ValueError(f"inconsistent rolling window state: {n} values, head {head}, run {run}")
        stats._values = values
        stats._head = head
        stats._run = run
        stats._mean = float(state["mean"])
        stats._m2 = float(state["m2"])
        return stats
