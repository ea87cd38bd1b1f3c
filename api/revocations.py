"""Revocations reach every API process at once: PostgreSQL LISTEN/NOTIFY on one channel.

``aitrader users revoke`` runs in its own process, so a cache flush inside it
would reach no API. ``keys.revoke`` instead notifies ``CHANNEL`` in the same
transaction that marks the key revoked (PostgreSQL delivers a notification only
on commit, so no listener hears of a revocation that did not happen), with the
auth schema and key id as the payload. Each API process keeps one connection
listening on a thread of its own and tells its authenticator, which forgets the
key and closes that key's open WebSockets.

While the listening connection is down, a revocation could pass unheard: the
listener then says so (``on_gap``) and the authenticator trusts no cache until
it is back; on every (re)connection ``on_listening`` lets it re-check what it
still holds open.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from projections.db import connect

CHANNEL = "aitrader_api_keys_revoked"
APPLICATION = "aitrader-api-revocations"
POLL_S = 0.5
RECONNECT_S = 2.0
log = logging.getLogger("aitrader.api")


def announce(conn: psycopg.Connection, key_id: str) -> None:
    """Within the revoking transaction: every API over this auth schema (the session's) hears of it on commit."""
    conn.execute("SELECT pg_notify(%s, current_schema() || ':' || %s)", (CHANNEL, key_id))


class RevocationListener:
    def __init__(
        self,
        url: str,
        auth_schema: str,
        on_revoked: Callable[[str], None],
        on_gap: Callable[[], None],
        on_listening: Callable[[], None],
    ) -> None:
        self.url = url
        self.schema = auth_schema
        self.on_revoked = on_revoked
        self.on_gap = on_gap
        self.on_listening = on_listening
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="key-revocations", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(POLL_S * 4)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # noqa: BLE001 - whatever broke it, the thread must go on and say so
                log.warning("not hearing key revocations (%s); API keys are checked on every request until back", exc)
            if self.listening.is_set():
                self.listening.clear()
                self.on_gap()
            self._stop.wait(RECONNECT_S)

    def _listen(self) -> None:
        with connect(self.url, self.schema) as conn:
            conn.execute(f"SET application_name = '{APPLICATION}'")  # so ops (and tests) can find it
            conn.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            self.on_listening()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=POLL_S):
                    schema, _, key_id = note.payload.partition(":")
                    if schema == self.schema:
                        self.on_revoked(key_id)
