"""Console sessions: opened for a principal, ended by logout, by expiry and at once by the key's revocation."""

from __future__ import annotations

from collections.abc import Callable

from api.keys import Principal
from api.sessions import Session, Sessions, csrf_ok

ANALYST = Principal("k1", "ann", "analyst")


class Watchers:
    """What ``Authenticator.watch`` does, for one key: remembers the callbacks a revocation calls."""

    def __init__(self) -> None:
        self.calls: dict[str, list[Callable[[], None]]] = {}

    def watch(self, key_id: str, on_revoked: Callable[[], None]) -> Callable[[], None]:
        self.calls.setdefault(key_id, []).append(on_revoked)
        return lambda: self.calls[key_id].remove(on_revoked)

    def revoke(self, key_id: str) -> None:
        for call in list(self.calls.get(key_id, ())):
            call()


def test_a_session_holds_its_principal_until_logout_and_nothing_replays_it() -> None:
    sessions, watchers = Sessions(60), Watchers()
    cookie, session = sessions.open(ANALYST, watchers.watch)
    other, _ = sessions.open(ANALYST, watchers.watch)
    assert cookie != other and len(cookie) >= 43  # 256 random bits
    assert sessions.get(cookie) == session and session.principal == ANALYST
    assert sessions.get(None) is None and sessions.get("") is None and sessions.get(cookie + "x") is None
    sessions.close(cookie)
    assert sessions.get(cookie) is None and sessions.get(other) is not None
    assert len(watchers.calls["k1"]) == 1  # the closed session no longer listens for revocations


def test_revoking_the_key_ends_its_sessions_at_once() -> None:
    sessions, watchers = Sessions(60), Watchers()
    first, _ = sessions.open(ANALYST, watchers.watch)
    second, _ = sessions.open(ANALYST, watchers.watch)
    ops, _ = sessions.open(Principal("k2", "otto", "ops"), watchers.watch)
    watchers.revoke("k1")
    assert sessions.get(first) is None and sessions.get(second) is None and sessions.get(ops) is not None
    assert watchers.calls["k1"] == []


def test_a_session_expires() -> None:
    sessions, watchers = Sessions(0), Watchers()
    cookie, _ = sessions.open(ANALYST, watchers.watch)
    assert sessions.get(cookie) is None and watchers.calls["k1"] == []


def test_the_csrf_token_must_match_exactly() -> None:
    session = Session(ANALYST, "token-abc", 0.0)
    assert csrf_ok(session, "token-abc")
    assert not csrf_ok(session, None) and not csrf_ok(session, "") and not csrf_ok(session, "token-ab")
