"""Keyset (cursor) pagination over a unique, stable sort key.

A page is ``WHERE (k1, k2) > (last k1, last k2) ORDER BY k1, k2 LIMIT n+1``:
no offset scans, and rows that arrive while a client pages can never make
it see a row twice or skip one that was there before its cursor. The cursor is
opaque (base64url JSON) and carries a fingerprint of the endpoint and filters
it was made for: reusing it with other filters is a 400, as is any cursor that
does not decode to values of the key's types.

Cursors are signed (HMAC-SHA256 under the deployment's cursor key): a client
cannot build a position of its own nor edit one, so whatever a cursor holds was
written by this API. An edited cursor, one signed under another key, or one
too long to be ours is a 400 before its JSON is even parsed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from api.errors import ApiError, bad_request
from projections.batch import CANONICAL_UUID

CURSOR_VERSION = 2  # 1 was unsigned
MAX_CURSOR_CHARS = 512  # ours are a few hundred characters at most
TAG_BYTES = 16


@dataclass(frozen=True)
class Key:
    """One column of a sort key and the JSON type its cursor value must have."""

    column: str
    kind: str  # "int", "uuid", "text", "date"

    def load(self, raw: Any) -> Any:
        ok = {
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63,
            "uuid": lambda v: isinstance(v, str) and CANONICAL_UUID.match(v) is not None,
            "text": lambda v: isinstance(v, str) and len(v) <= 200,
            "date": lambda v: isinstance(v, str) and _is_date(v),
        }[self.kind]
        if not ok(raw):
            raise bad_request("bad_cursor", "the cursor does not hold a valid position", parameter="cursor")
        return date.fromisoformat(raw) if self.kind == "date" else raw

    def dump(self, value: Any) -> Any:
        return value.isoformat() if self.kind == "date" else str(value) if self.kind == "uuid" else value


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def fingerprint(endpoint: str, filters: Mapping[str, Any]) -> str:
    canonical = json.dumps([endpoint, sorted((k, str(v)) for k, v in filters.items() if v is not None)])
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _not_ours() -> ApiError:
    return bad_request("bad_cursor", "the cursor is not one this API made", parameter="cursor")


class Cursors:
    """Makes and reads the cursors of one deployment, signed with its key."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("a cursor key needs at least 16 bytes (128 bits)")
        self._secret = secret

    def _tag(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest()[:TAG_BYTES])

    def encode(self, keys: Sequence[Key], last_row: Mapping[str, Any], print_: str) -> str:
        content = {"v": CURSOR_VERSION, "f": print_, "k": [k.dump(last_row[k.column]) for k in keys]}
        body = _b64(json.dumps(content, separators=(",", ":")).encode())
        return f"{body}.{self._tag(body)}"

    def decode(self, cursor: str, keys: Sequence[Key], print_: str) -> list[Any]:
        body, dot, tag = cursor.partition(".")
        if len(cursor) > MAX_CURSOR_CHARS or not dot or not hmac.compare_digest(tag.encode(), self._tag(body).encode()):
            raise _not_ours()
        try:
            content = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            raise _not_ours() from None
        if not isinstance(content, dict) or content.get("v") != CURSOR_VERSION or not isinstance(content.get("k"), list):
            raise _not_ours()
        if content.get("f") != print_:
            raise bad_request("cursor_mismatch", "the cursor was made for another endpoint or other filters", parameter="cursor")
        if len(content["k"]) != len(keys):
            raise bad_request("bad_cursor", "the cursor does not hold a valid position", parameter="cursor")
        return [k.load(v) for k, v in zip(keys, content["k"])]


@dataclass(frozen=True)
class Page:
    rows: list[Mapping[str, Any]]
    next_cursor: str | None


def fetch(
    conn: sa.Connection,
    table: sa.Table,
    keys: Sequence[Key],
    where: Sequence[sa.ColumnElement[bool]],
    limit: int,
    cursor: str | None,
    print_: str,
    cursors: Cursors,
) -> Page:
    columns = [table.c[k.column] for k in keys]
    conditions = list(where)
    if cursor is not None:
        after = cursors.decode(cursor, keys, print_)
        conditions.append(sa.tuple_(*columns) > sa.tuple_(*[sa.literal(v, type_=c.type) for v, c in zip(after, columns)]))
    statement = sa.select(table).where(*conditions).order_by(*columns).limit(limit + 1)
    rows = [r._mapping for r in conn.execute(statement)]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, cursors.encode(keys, rows[-1], print_) if more else None)
