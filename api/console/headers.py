"""Security headers on every console response: a strict Content Security Policy and no caching.

The policy admits scripts, styles and fetches from this origin only, no inline
script or style and no framing: should hostile event text ever reach the page
as markup, the browser still would not run it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

PREFIX = "/console"
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make the login form's Origin "null"
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


async def secure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    if request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/"):
        response.headers.update(HEADERS)
    return response
