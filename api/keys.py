"""API keys: made once, shown once, stored only as a SHA-256 hash.

A key reads ``ait_<key id>_<secret>``: the key id finds the row, the hash of
the whole key proves it. The secret is 256 random bits, so a fast hash is as
safe as a slow one here. Randomness is right for credentials; no event and no
read model depends on it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import psycopg

from api import revocations
from projections.models import ROLES

PREFIX = "ait"
_KEY = re.compile(r"^ait_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its owner's name, its role."""

    key_id: str
    name: str
    role: str


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(conn: psycopg.Connection, name: str, role: str) -> tuple[str, str]:
    """Stores a new key for ``name`` with ``role``; returns (key id, the key — shown once, never stored)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if not _NAME.match(name):
        raise ValueError(f"bad user name {name!r}: letters, digits, space and ._@- (at most 64)")
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    conn.execute(
        "INSERT INTO api_keys (key_id, name, role, key_hash) VALUES (%s, %s, %s, %s)", (key_id, name, role, digest(key))
    )
    return key_id, key


def revoke(conn: psycopg.Connection, key_id: str) -> bool:
    """Revokes the key, and tells every API process over this schema in the same transaction (``api.revocations``)."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL RETURNING key_id", (key_id,)
        ).fetchone()
        if row is not None:
            revocations.announce(conn, key_id)
    return row is not None


def key_id(key: str) -> str | None:
    """The key id of a key of the right form, else None: checked before any database work."""
    match = _KEY.match(key)
    return match.group(1) if match else None


def revoked(conn: psycopg.Connection, key_ids: list[str]) -> set[str]:
    """Which of ``key_ids`` are revoked or gone."""
    active = {r[0] for r in conn.execute("SELECT key_id FROM api_keys WHERE key_id = ANY(%s) AND revoked_at IS NULL", (key_ids,))}
    return set(key_ids) - active


def verify(conn: psycopg.Connection, key: str) -> Principal | None:
    """The key's principal, or None for a malformed, unknown, revoked or wrong key."""
    match = _KEY.match(key)
    if not match:
        return None
    row = conn.execute(
        "SELECT name, role, key_hash FROM api_keys WHERE key_id = %s AND revoked_at IS NULL", (match.group(1),)
    ).fetchone()
    if row is None or not hmac.compare_digest(row[2], digest(key)):
        return None
    return Principal(match.group(1), row[0], row[1])
