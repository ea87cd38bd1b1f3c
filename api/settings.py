"""What the API needs to know, given once at start (no globals, no environment reads in handlers)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from contract.topics import Namespace
from eventlog.faults import Fault
from eventlog.kafka_security import KafkaSecurity

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class ApiSettings:
    database_url: str
    schema: str
    bootstrap: str | None = None  # None: /ready does not check the broker, /api/status shows no end offsets
    namespace: Namespace = field(default_factory=Namespace)
    # The login control endpoints write `inputs` with (ops' principal on a secured broker); None: the process's.
    control_login: KafkaSecurity | None = None
    rate_per_s: float = 20.0  # per API key
    burst: float | None = None  # default: five seconds' worth
    max_lag: int = 10_000  # records; /ready fails above it
    ready_cache_s: float = 1.0  # /ready is public: its answer is reused this long, so a flood costs one check
    max_limit: int = MAX_LIMIT
    default_limit: int = DEFAULT_LIMIT
    # A backstop only: revocations reach every API process at once (api.revocations); this bounds how long a
    # verified key is trusted should a notification be lost while the listener is connected.
    key_cache_s: float = 30.0
    monitor_buffer: int = 1000  # events a monitor client may fall behind before it is dropped
    # Failed keys per client address: each failure takes a token; without one, 429 before any database work.
    auth_failures_per_s: float = 0.5
    auth_failure_burst: float = 20
    # Signs cursors (HMAC-SHA256). `aitrader run api` reads it from the deployment's configuration; the
    # default, for tests and embedding, is a fresh key per process (cursors then die with the process).
    cursor_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    console_session_s: float = 8 * 3600.0  # a console login lasts a working day, then asks for the key again
    pool_size: int = 8
    pool_overflow: int = 8
    pool_timeout_s: float = 10.0  # waiting longer for a connection is a 503 with Retry-After
    ws_auth_timeout_s: float = 5.0  # how long a monitor client without a key header may take to send its key
    # The notary key directory whose root.pub (else its one notary.pub) the audit verify and bundle routes trust,
    # as `aitrader audit verify` does by default; None: those routes answer 503.
    audit_keys: Path | None = None
    fault: Fault | None = None  # tests only: where the process fails on purpose (eventlog/faults.py)

    @property
    def bucket_size(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.rate_per_s * 5)
