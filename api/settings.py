"""What the API needs to know, given once at start (no globals, no environment reads in handlers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kernel.topics import Namespace

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class ApiSettings:
    database_url: str
    schema: str
    bootstrap: str | None = None  # None: /ready does not check the broker, /api/status shows no end offsets
    namespace: Namespace = field(default_factory=Namespace)
    rate_per_s: float = 20.0  # per API key
    burst: float | None = None  # default: five seconds' worth
    max_lag: int = 10_000  # records; /ready fails above it
    max_limit: int = MAX_LIMIT
    default_limit: int = DEFAULT_LIMIT
    key_cache_s: float = 30.0
    monitor_buffer: int = 1000  # events a monitor client may fall behind before it is dropped  # how long a verified key is trusted before the database is asked again

    @property
    def bucket_size(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.rate_per_s * 5)
