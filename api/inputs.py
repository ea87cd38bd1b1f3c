"""Refuses hostile query strings before any route, key check or database sees them.

PostgreSQL cannot store NUL in text (psycopg refuses the whole statement) and
nothing this API takes has a use for control characters, and every parameter
it takes is short (the longest, a cursor, is a few hundred characters). So any
parameter with a control character or longer than ``MAX_PARAM_CHARS``, and any
query string over ``MAX_QUERY_BYTES``, is a 400 naming the parameter, checked
once here for every route, present and future, instead of in each handler.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import ApiError, response

MAX_PARAM_CHARS = 1024
MAX_QUERY_BYTES = 8192
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _shown(name: str) -> str:
    return name.encode("unicode_escape").decode()[:64]


def printable(value: str) -> str:
    """For request bodies (a pydantic validator): the same refusal of control characters as for query strings.

    Text that ops send goes onto the log, which keeps it forever; a NUL there would break any read model that
    ever stores it.
    """
    if _CONTROL.search(value):
        raise ValueError("control characters (NUL, newline...) are not allowed")
    return value


def check_query(query: bytes) -> None:
    """Raises ApiError (400) for the first parameter the API must not pass on."""
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace"):
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise ApiError(400, "bad_text", "a parameter holds a control character (NUL, newline...)", parameter=_shown(name))
        if len(value) > MAX_PARAM_CHARS:
            raise ApiError(400, "too_long", f"a parameter is over {MAX_PARAM_CHARS} characters", parameter=_shown(name))
    if len(query) > MAX_QUERY_BYTES:  # many parameters, each short enough
        raise ApiError(400, "query_too_long", f"the query string is over {MAX_QUERY_BYTES} bytes", parameter=None)


def check_path(path: str) -> None:
    if _CONTROL.search(unquote(path)):
        raise ApiError(400, "bad_text", "the path holds a control character", parameter="path")


class Guard:
    """ASGI middleware refusing what ``check_path`` and ``check_query`` refuse, for every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_path(scope.get("path", ""))
                check_query(scope.get("query_string", b""))
            except ApiError as exc:
                await response(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)
