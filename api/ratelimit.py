"""Per-key token buckets: ``rate`` requests a second, bursts up to ``size``; over it, 429 with Retry-After.

In-process: one API process enforces its own limits (run one process per
host, or put a shared limiter in front, to limit across processes).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, rate_per_s: float, size: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or size < 1:
            raise ValueError("rate must be > 0 and the bucket hold at least one request")
        self.rate = rate_per_s
        self.size = size
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds to wait before the next token."""
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (self.size, now))
            tokens = min(self.size, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    @staticmethod
    def retry_after(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))
