"""The console's pages: login, logout, and one HTML shell per page; the data comes from the JSON API.

Every page is rendered by Jinja2 with autoescaping and carries no inline
script: ``static/console.js`` fetches the JSON endpoints with the session
cookie and writes every value as text (``textContent``), never as HTML. Which
pages and buttons a role sees is decided here, and again by the endpoints
themselves: hiding a button is a courtesy, the refusal is the server's.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.auth import AUDIT, READ, STATUS, address, authorize
from api.errors import ApiError
from api.sessions import COOKIE, Session, Sessions, csrf_ok
from eventlog.audit.onlog import EVENT_TOPICS
from projections.models import ROLES

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/console", include_in_schema=False)
MAX_FORM_BYTES = 4096
# (path, title, roles that may open it), in the navigation's order.
PAGES = (("status", "Status", STATUS), ("pnl", "P&L", READ), ("replays", "Replays", STATUS), ("audit", "Audit", AUDIT))


def _form(body: bytes) -> dict[str, str]:
    if len(body) > MAX_FORM_BYTES:
        return {}
    return {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}


def _same_origin(request: Request) -> bool:
    """A browser names the page a POST comes from; one from another site's page is refused (login CSRF)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host")


def _session(request: Request) -> Session | None:
    sessions: Sessions = request.app.state.sessions
    return sessions.get(request.cookies.get(COOKIE))


def _login_page(request: Request, message: str | None, status: int) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"message": message}, status_code=status)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request, None, 200)


@router.post("/login")
async def login(request: Request) -> Response:
    if not _same_origin(request):
        return _login_page(request, "This login did not come from the console's own page.", 403)
    key = _form(await request.body()).get("key", "").strip()
    authenticator = request.app.state.authenticator
    try:
        principal = await authorize(authenticator, key or None, ROLES, address(request))
    except ApiError as exc:
        return _login_page(request, exc.message, exc.status)
    session_id, _ = request.app.state.sessions.open(principal, authenticator.watch)
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(
        COOKIE, session_id, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/",
        max_age=int(request.app.state.sessions.ttl_s),
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = _session(request)
    if session is not None and not csrf_ok(session, _form(await request.body()).get("csrf")):
        return HTMLResponse("The logout form did not carry this session's token.", status_code=403)
    request.app.state.sessions.close(request.cookies.get(COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("", include_in_schema=False)
def home(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return RedirectResponse("/console/login", status_code=303)
    first = next((path for path, _, roles in PAGES if session.principal.role in roles), "login")
    return RedirectResponse(f"/console/{first}", status_code=303)


def _page(request: Request, page: str) -> Response:
    session = _session(request)
    if session is None:
        return RedirectResponse("/console/login", status_code=303)
    role = session.principal.role
    title, roles = next((t, r) for p, t, r in PAGES if p == page)
    nav = [(path, name) for path, name, allowed in PAGES if role in allowed]
    context = {"session": session, "page": page, "title": title, "nav": nav, "ops": role == "ops",
               "topics": [spec.name for spec in EVENT_TOPICS]}
    if role not in roles:
        return templates.TemplateResponse(request, "forbidden.html", context, status_code=403)
    return templates.TemplateResponse(request, f"{page}.html", context)


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request) -> Response:
    return _page(request, "status")


@router.get("/pnl", response_class=HTMLResponse)
def pnl_page(request: Request) -> Response:
    return _page(request, "pnl")


@router.get("/replays", response_class=HTMLResponse)
def replays_page(request: Request) -> Response:
    return _page(request, "replays")


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> Response:
    return _page(request, "audit")
