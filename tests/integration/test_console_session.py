"""Console sessions against the real API and PostgreSQL, without a browser: what the cookie lets through and when it stops.

The browser tests (test_console_browser.py) show the pages; these pin the
session rules themselves: the cookie's flags, the CSRF token on writes, logout,
and a revoked key ending its sessions at once.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api import keys
from api.app import create_app
from api.sessions import COOKIE
from projections.db import auth_schema, connect
from tests.integration.conftest import World

pytestmark = pytest.mark.infra


def _logged_in(api: TestClient, key: str) -> str:
    """Logs in with ``key``; returns the session's CSRF token, read from the page as the console's script does."""
    answer = api.post("/console/login", data={"key": key}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and key not in cookie
    page = api.get("/console/pnl").text
    return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def test_a_session_reads_writes_only_with_its_token_and_ends_at_logout(world: World) -> None:
    with TestClient(create_app(world.settings(bootstrap=None))) as api:
        assert api.get("/api/pnl").status_code == 401
        token = _logged_in(api, world.keys["ops"])
        assert api.get("/api/status").status_code == 200  # ops' role, by the cookie alone
        assert api.get("/api/pnl").status_code == 403  # and only ops' role
        halt = {"state": "HALTED", "symbol": "ES", "reason": "no token"}
        refused = api.post("/api/control/trading-state", json=halt)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "csrf_failed")
        wrong = api.post("/api/control/trading-state", json=halt, headers={"X-CSRF-Token": token[:-1]})
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "csrf_failed")
        with_token = api.post("/api/control/trading-state", json=halt, headers={"X-CSRF-Token": token})
        assert with_token.json()["error"]["code"] == "broker_unavailable"  # past auth and CSRF; this API has no broker
        assert api.post("/console/logout", data={"csrf": "forged"}).status_code == 403
        out = api.post("/console/logout", data={"csrf": token}, follow_redirects=False)
        assert out.status_code == 303 and api.get("/api/status").status_code == 401


def test_a_bad_key_sets_no_cookie(world: World) -> None:
    with TestClient(create_app(world.settings(bootstrap=None))) as api:
        answer = api.post("/console/login", data={"key": world.keys["ops"][:-1] + "?"}, follow_redirects=False)
        assert answer.status_code == 401 and "set-cookie" not in answer.headers
        assert COOKIE not in api.cookies


def test_revoking_the_key_ends_its_console_sessions_at_once(world: World, own_keys: tuple[str, dict[str, str]]) -> None:
    schema, made = own_keys
    with TestClient(create_app(world.settings(schema=schema, bootstrap=None))) as api:
        assert api.app.state.authenticator.hearing.wait(10)  # type: ignore[attr-defined]
        _logged_in(api, made["analyst"])
        assert api.get("/api/positions").status_code == 200
        with connect(world.database_url, auth_schema(schema)) as conn:
            assert keys.revoke(conn, keys.key_id(made["analyst"]) or "")
        deadline, answer = time.monotonic() + 2.0, 200
        while answer == 200 and time.monotonic() < deadline:
            answer = api.get("/api/positions").status_code
            time.sleep(0.05)
        assert answer == 401
