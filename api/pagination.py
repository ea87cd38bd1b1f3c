"""Keyset (cursor) pagination over a unique, stable sort key.

A page is ``WHERE (k1, k2) > (last k1, last k2) ORDER BY k1, k2 LIMIT n+1``:
no offset scans, and rows that arrive while a client pages can never make
it see a row twice or skip one that was there before its cursor. The cursor is
opaque (base64url JSON) and carries a fingerprint of the endpoint and filters
it was made for: reusing it with other filters is a 400, as is any cursor that
does not decode to values of the key's types.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from api.errors import bad_request
from projections.batch import CANONICAL_UUID

CURSOR_VERSION = 1


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
            raise bad_request("bad_cursor", "the cursor does not hold a valid position")
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


def encode(keys: Sequence[Key], last_row: Mapping[str, Any], print_: str) -> str:
    body = {"v": CURSOR_VERSION, "f": print_, "k": [k.dump(last_row[k.column]) for k in keys]}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str, keys: Sequence[Key], print_: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("bad_cursor", "the cursor is not one this API made") from None
    if not isinstance(body, dict) or body.get("v") != CURSOR_VERSION or not isinstance(body.get("k"), list):
        raise bad_request("bad_cursor", "the cursor is not one this API made")
    if body.get("f") != print_:
        raise bad_request("cursor_mismatch", "the cursor was made for another endpoint or other filters")
    if len(body["k"]) != len(keys):
        raise bad_request("bad_cursor", "the cursor does not hold a valid position")
    return [k.load(v) for k, v in zip(keys, body["k"])]


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
) -> Page:
    columns = [table.c[k.column] for k in keys]
    conditions = list(where)
    if cursor is not None:
        after = decode(cursor, keys, print_)
        conditions.append(sa.tuple_(*columns) > sa.tuple_(*[sa.literal(v, type_=c.type) for v, c in zip(after, columns)]))
    statement = sa.select(table).where(*conditions).order_by(*columns).limit(limit + 1)
    rows = [r._mapping for r in conn.execute(statement)]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode(keys, rows[-1], print_) if more else None)
