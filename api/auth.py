"""API keys and roles: who may call what, and how often.

Every endpoint except /health, /ready, /metrics and the docs needs a key
(``Authorization: Bearer <key>`` or ``X-API-Key: <key>``): none or a bad one
is 401, a key whose role the endpoint does not admit is 403, a key over its
rate is 429 with Retry-After.

Roles: ``analyst`` reads the trading models; ``auditor`` reads them too, plus
the event index and status; ``ops`` sees status and the live monitor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api import keys
from api.database import Database
from api.errors import ApiError
from api.keys import Principal
from api.ratelimit import RateLimiter
from api.settings import ApiSettings

READ = ("analyst", "auditor")
AUDIT = ("auditor",)
STATUS = ("ops", "auditor")
MONITOR = ("ops", "analyst", "auditor")


class Authenticator:
    def __init__(self, database: Database, settings: ApiSettings) -> None:
        self.database = database
        self.ttl_s = settings.key_cache_s
        self.limiter = RateLimiter(settings.rate_per_s, settings.bucket_size)
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def principal(self, key: str) -> Principal | None:
        digest = keys.digest(key)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        with self.database.auth.connect() as conn:
            found = keys.verify(conn.connection.driver_connection, key)
            conn.rollback()
        if found is not None:
            with self._lock:
                self._cache[digest] = (found, now + self.ttl_s)
        return found


def presented_key(headers: dict[str, str] | object) -> str | None:
    get = getattr(headers, "get")
    header = get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None
    return get("x-api-key") or None


def unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


async def authorize(authenticator: Authenticator, key: str | None, roles: tuple[str, ...]) -> Principal:
    if key is None:
        raise unauthenticated("an API key is required (Authorization: Bearer <key>)")
    principal = await run_in_threadpool(authenticator.principal, key)
    if principal is None:
        raise unauthenticated("the API key is not valid")
    wait = authenticator.limiter.take(principal.key_id)
    if wait:
        raise ApiError(429, "rate_limited", "too many requests for this key", headers={"Retry-After": RateLimiter.retry_after(wait)})
    if principal.role not in roles:
        raise ApiError(403, "forbidden", f"role {principal.role!r} may not use this endpoint (allowed: {', '.join(roles)})")
    return principal


def require(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that admits keys with one of ``roles``."""

    async def dependency(request: Request) -> Principal:
        return await authorize(request.app.state.authenticator, presented_key(request.headers), roles)

    return dependency
