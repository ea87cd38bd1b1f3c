"""Console sessions: the key is posted once at login and never leaves the server again.

The browser holds only a random session id, in an HttpOnly, SameSite=Strict
cookie (Secure over TLS): scripts cannot read it, and other sites' pages do not
send it. Requests that change anything must also carry the session's CSRF token
in a header, which only our own pages can read (SameSite alone does not cover
older browsers or same-site subdomains). Sessions live in this API process's
memory: a restart logs everyone out, several API processes need sticky routing,
and a revoked key ends its sessions at once (``Authenticator.watch``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from api.keys import Principal

COOKIE = "aitrader_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    expires: float  # monotonic seconds


def _digest(session_id: str) -> str:
    """Sessions are stored by digest: the store holds nothing a memory dump could replay as a cookie."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    """Session id -> principal, for ``ttl_s`` after login."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._sessions: dict[str, Session] = {}
        self._unwatch: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()

    def open(self, principal: Principal, watch: Callable[[str, Callable[[], None]], Callable[[], None]]) -> tuple[str, Session]:
        """A new session for ``principal``; ``watch`` ends it when the key is revoked. Returns (cookie value, session)."""
        session_id = secrets.token_urlsafe(32)
        digest = _digest(session_id)
        session = Session(principal, secrets.token_urlsafe(32), time.monotonic() + self.ttl_s)
        with self._lock:
            self._sessions[digest] = session
        unwatch = watch(principal.key_id, lambda: self._drop(digest))
        with self._lock:
            if digest in self._sessions:
                self._unwatch[digest] = unwatch
            else:  # revoked between the two steps
                unwatch()
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        digest = _digest(session_id)
        with self._lock:
            session = self._sessions.get(digest)
        if session is not None and session.expires <= time.monotonic():
            self._drop(digest)
            return None
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._drop(_digest(session_id))

    def _drop(self, digest: str) -> None:
        with self._lock:
            self._sessions.pop(digest, None)
            unwatch = self._unwatch.pop(digest, None)
        if unwatch is not None:
            unwatch()


def csrf_ok(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf.encode(), presented.encode())
