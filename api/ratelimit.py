"""Token buckets: ``rate`` requests a second, bursts up to ``size``; over it, 429 with Retry-After.

Used per API key (requests) and per client address (failed keys). In-process:
one API process enforces its own limits (run one process per host, or put a
shared limiter in front, to limit across processes). Buckets that have filled
up again hold nothing a fresh one would not, so they are dropped once there
are more than ``max_buckets``: a flood from many addresses cannot grow memory
without bound.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self, rate_per_s: float, size: float, clock: Callable[[], float] = time.monotonic, max_buckets: int = 10_000
    ) -> None:
        if rate_per_s <= 0 or size < 1:
            raise ValueError("rate must be > 0 and the bucket hold at least one request")
        self.rate = rate_per_s
        self.size = size
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.size, now))
        return min(self.size, tokens + (now - at) * self.rate)

    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds to wait before the next token."""
        with self._lock:
            now = self.clock()
            tokens = self._tokens(key, now)
            if len(self._buckets) >= self.max_buckets:
                self._prune(now)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def wait(self, key: str) -> float:
        """Like ``take`` but takes nothing: 0 while ``key`` has a token left."""
        with self._lock:
            tokens = self._tokens(key, self.clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        for key in [k for k in self._buckets if self._tokens(k, now) >= self.size]:
            del self._buckets[key]

    @staticmethod
    def retry_after(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
