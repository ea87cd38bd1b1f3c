"""API keys and roles: who may call what, and how often.

Every endpoint except /health, /ready, /metrics and the docs needs a key
(``Authorization: Bearer <key>`` or ``X-API-Key: <key>``) or a web console
session (``api.sessions``: its cookie, plus its CSRF token on any
request that is not a read): none or a bad one
is 401, a key whose role the endpoint does not admit is 403, a key over its
rate is 429 with Retry-After.

Roles: ``analyst`` reads the trading models; ``auditor`` reads them too, plus
the event index and status; ``ops`` sees status and the live monitor.

Bad keys cost an attacker more than they cost us: a key not of the form
``ait_<id>_<secret>`` is refused without touching the database, and every
failed key takes a token from its client address's bucket; an address with
none left is a 429 before any database work (a key verified earlier, still in
the cache, goes through: it costs nothing). A revocation reaches the cache and
the open WebSockets of every API process at once (``api.revocations``).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api import keys
from api.sessions import COOKIE, CSRF_HEADER, SAFE_METHODS, Sessions, csrf_ok
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
    """Verifies keys (cached while revocations can be heard), limits them, and ends what a revocation ends."""

    def __init__(self, database: Database, settings: ApiSettings) -> None:
        self.database = database
        self.ttl_s = settings.key_cache_s
        self.limiter = RateLimiter(settings.rate_per_s, settings.bucket_size)
        self.failures = RateLimiter(settings.auth_failures_per_s, settings.auth_failure_burst)
        self.hearing = threading.Event()  # set while revocations are heard: only then is a verified key cached
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._generation = 0  # moves on every revocation and gap: a lookup begun before one is not cached
        self._watchers: dict[str, set[Callable[[], None]]] = defaultdict(set)
        self._lock = threading.Lock()

    def cached(self, key: str) -> Principal | None:
        with self._lock:
            found = self._cache.get(keys.digest(key))
        return found[0] if found is not None and found[1] > time.monotonic() else None

    def principal(self, key: str) -> Principal | None:
        """The key's principal, or None for a malformed (no database asked), unknown, revoked or wrong key."""
        if keys.key_id(key) is None:
            return None
        with self._lock:
            generation = self._generation
        with self.database.auth.connect() as conn:
            found = keys.verify(conn.connection.driver_connection, key)
            conn.rollback()
        with self._lock:
            if found is not None and self.hearing.is_set() and generation == self._generation:
                self._cache[keys.digest(key)] = (found, time.monotonic() + self.ttl_s)
        return found

    def watch(self, key_id: str, on_revoked: Callable[[], None]) -> Callable[[], None]:
        """Calls ``on_revoked`` (from another thread) when ``key_id`` is revoked; returns the unwatch call."""
        with self._lock:
            self._watchers[key_id].add(on_revoked)

        def unwatch() -> None:
            with self._lock:
                self._watchers[key_id].discard(on_revoked)
                if not self._watchers[key_id]:
                    del self._watchers[key_id]

        return unwatch

    def revoked(self, key_id: str) -> None:
        with self._lock:
            self._generation += 1
            for digest in [d for d, (p, _) in self._cache.items() if p.key_id == key_id]:
                del self._cache[digest]
            calls = list(self._watchers.get(key_id, ()))
        for call in calls:
            call()

    def deaf(self) -> None:
        """Revocations may pass unheard from now on: trust nothing cached."""
        with self._lock:
            self.hearing.clear()
            self._generation += 1
            self._cache.clear()

    def listening(self) -> None:
        """Revocations are heard again; any made while they were not are found among the keys still in use."""
        with self._lock:
            self._generation += 1
            self._cache.clear()
            watched = sorted(self._watchers)
        self.hearing.set()
        if watched:
            with self.database.auth.connect() as conn:
                gone = keys.revoked(conn.connection.driver_connection, watched)
                conn.rollback()
            for key_id in sorted(gone):
                self.revoked(key_id)


def presented_key(headers: dict[str, str] | object) -> str | None:
    get = getattr(headers, "get")
    header = get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None
    return get("x-api-key") or None


def unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


def _too_many(wait: float, code: str, message: str) -> ApiError:
    return ApiError(429, code, message, headers={"Retry-After": RateLimiter.retry_after(wait)})


async def authorize(authenticator: Authenticator, key: str | None, roles: tuple[str, ...], address: str) -> Principal:
    if key is None:
        raise unauthenticated("an API key is required (Authorization: Bearer <key>)")
    principal = authenticator.cached(key)
    if principal is None:
        wait = authenticator.failures.wait(address)
        if wait:
            raise _too_many(wait, "too_many_failures", "too many failed keys from this address")
        principal = await run_in_threadpool(authenticator.principal, key)
        if principal is None:
            authenticator.failures.take(address)
            raise unauthenticated("the API key is not valid")
    return admit(authenticator, principal, roles)


def admit(authenticator: Authenticator, principal: Principal, roles: tuple[str, ...]) -> Principal:
    """A known principal: within its rate, and of one of ``roles``."""
    wait = authenticator.limiter.take(principal.key_id)
    if wait:
        raise _too_many(wait, "rate_limited", "too many requests for this key")
    if principal.role not in roles:
        raise ApiError(403, "forbidden", f"role {principal.role!r} may not use this endpoint (allowed: {', '.join(roles)})")
    return principal


def address(request: Request | object) -> str:
    """The client's address (behind a proxy, uvicorn's --forwarded-allow-ips makes it the real client's)."""
    client = getattr(request, "client", None)
    return client.host if client is not None else "unknown"


def require(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that admits keys with one of ``roles``."""

    async def dependency(request: Request) -> Principal:
        key = presented_key(request.headers)
        if key is None and COOKIE in request.cookies:
            return admit(request.app.state.authenticator, console_principal(request), roles)
        return await authorize(request.app.state.authenticator, key, roles, address(request))

    return dependency


def console_principal(request: Request) -> Principal:
    """The principal of the request's console session; anything but a read must carry the session's CSRF token."""
    sessions: Sessions = request.app.state.sessions
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise unauthenticated("the console session has ended: log in again")
    if request.method not in SAFE_METHODS and not csrf_ok(session, request.headers.get(CSRF_HEADER)):
        raise ApiError(403, "csrf_failed", "the request does not carry this session's CSRF token")
    return session.principal
