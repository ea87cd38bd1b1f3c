"""Hostile input over every route, and who may call what: never a 500, refusals name what they refuse.

The routes come from the application itself and the parameters from its OpenAPI
spec, so a route or parameter added later is attacked too; the role table must
name every route (a test fails on one it does not know). Values are what an
attacker sends first: NUL and CRLF, strings far too long, numbers beyond 64
bits or NUMERIC, SQL, non-ASCII. The database and broker are real and up, so a
503 would be a failure as much as a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from audit.sign import SigningKey
from tests.integration.conftest import World, bearer

pytestmark = pytest.mark.infra

ANY_ID = "00000000-0000-5000-8000-000000000000"
# Every HTTP route but the docs: who may call it. None: public.
ACCESS: dict[tuple[str, str], frozenset[str] | None] = {
    ("GET", "/health"): None,
    ("GET", "/ready"): None,
    ("GET", "/metrics"): None,
    ("GET", "/api/status"): frozenset({"ops", "auditor"}),
    ("GET", "/api/signals"): frozenset({"analyst", "auditor"}),
    ("GET", "/api/orders"): frozenset({"analyst", "auditor"}),
    ("GET", "/api/orders/{order_id}"): frozenset({"analyst", "auditor"}),
    ("GET", "/api/orders/{order_id}/trace"): frozenset({"analyst", "auditor"}),
    ("GET", "/api/fills"): frozenset({"analyst", "auditor"}),
    ("GET", "/api/positions"): frozenset({"analyst", "auditor"}),
    ("GET", "/api/pnl"): frozenset({"analyst", "auditor"}),
    ("GET", "/api/bars"): frozenset({"analyst", "auditor"}),
    ("GET", "/api/events/{event_id}"): frozenset({"auditor"}),
    ("GET", "/api/export/{model}"): frozenset({"analyst", "auditor"}),
    ("GET", "/api/audit/events"): frozenset({"auditor"}),
    ("GET", "/api/audit/checkpoints"): frozenset({"auditor"}),
    ("POST", "/api/audit/verify"): frozenset({"auditor"}),
    ("GET", "/api/audit/verify"): frozenset({"auditor"}),
    ("GET", "/api/audit/verify/{run_id}"): frozenset({"auditor"}),
    ("GET", "/api/audit/bundle"): frozenset({"auditor"}),
    ("POST", "/api/control/trading-state"): frozenset({"ops"}),
    ("POST", "/api/control/settings"): frozenset({"ops"}),
    ("POST", "/api/replays"): frozenset({"ops"}),
    ("GET", "/api/replays"): frozenset({"ops", "auditor"}),
    ("GET", "/api/replays/{replay_id}"): frozenset({"ops", "auditor"}),
}
# What a route needs besides the attacked parameter to be a valid request.
BASE_QUERY = {"/api/audit/events": {"topic": "inputs", "limit": "5"}, "/api/audit/bundle": {"topic": "orders"}}
# Answered, but not a 200 for an admitted role: an unknown id, and a bundle the world's log has no seals for.
NOT_FOUND_OR_REFUSED = {"/api/replays/{replay_id}": (400, 404), "/api/audit/verify/{run_id}": (404,), "/api/audit/bundle": (409,)}
HOSTILE = [
    "\x00",
    "ES\x00",
    "ES\r\nSet-Cookie: x=1",
    "x" * 5000,
    "9" * 40,
    "-" + "9" * 40,
    "1e-999999999",
    "1e999999999",
    "NaN",
    "-Infinity",
    "'; DROP TABLE signals; --",
    "ÉS",
    "📈",
    "%",
    "",
    " ",
    "2013-09-03T08:30:00+99:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
]


def notary_key(directory: Path) -> Path:
    """A notary key directory for the audit routes to trust (the world's log has no checkpoints: nothing verifies)."""
    SigningKey.generate().save(directory)
    return directory


@pytest.fixture(scope="module")
def client(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = world.settings(audit_keys=notary_key(tmp_path_factory.mktemp("notary")))
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def paths(world: World) -> dict[str, str]:
    """Each templated route with real values filled in (a projected order, an indexed event)."""
    (order_id,) = world.sql("SELECT order_id::text FROM orders ORDER BY first_time_ms LIMIT 1")[0]
    (event_id,) = world.sql("SELECT event_id::text FROM event_index LIMIT 1")[0]
    return {
        "/api/orders/{order_id}": f"/api/orders/{order_id}",
        "/api/orders/{order_id}/trace": f"/api/orders/{order_id}/trace",
        "/api/events/{event_id}": f"/api/events/{event_id}",
        "/api/export/{model}": "/api/export/fills",
        "/api/replays/{replay_id}": f"/api/replays/{ANY_ID}",
        "/api/audit/verify/{run_id}": f"/api/audit/verify/{ANY_ID}",
    }


def _routes(client: TestClient) -> set[tuple[str, str]]:
    """Every HTTP operation the application serves (none is left out of its OpenAPI spec)."""
    spec = client.get("/openapi.json").json()["paths"]
    return {(method.upper(), path) for path, operations in spec.items() for method in operations}


def test_the_role_table_names_every_route(client: TestClient) -> None:
    assert _routes(client) == set(ACCESS)


def _call(client: TestClient, method: str, path: str, key: str | None, **kwargs: Any) -> Any:
    headers = bearer(key) if key else {}
    if method == "POST":
        kwargs.setdefault("json", {})  # an empty body is invalid for every POST: an admitted role gets a 400, nothing written
    return client.request(method, path, headers=headers, **kwargs)


@pytest.mark.parametrize(("method", "template"), sorted(ACCESS), ids=[f"{m} {p}" for m, p in sorted(ACCESS)])
def test_the_role_matrix(client: TestClient, world: World, paths: dict[str, str], method: str, template: str) -> None:
    path = paths.get(template, template)
    query = BASE_QUERY.get(template, {})
    allowed = ACCESS[(method, template)]
    seen = {}
    for who, key in (
        ("nobody", None), ("malformed", "ait_nope"), ("unknown", f"ait_{'0' * 12}_{'x' * 43}"), *world.keys.items()
    ):
        response = _call(client, method, path, key, params=query)
        seen[who] = response.status_code
        assert response.status_code < 500, (who, response.text)
    if allowed is None:
        assert set(seen.values()) == {200}, seen
        return
    expected = {"nobody": 401, "malformed": 401, "unknown": 401} | {
        role: (403 if role not in allowed else seen[role]) for role in world.keys
    }
    assert seen == expected
    for role in allowed:
        assert seen[role] in ((400, 404) if method == "POST" else NOT_FOUND_OR_REFUSED.get(template, (200,))), (role, seen)


def _query_parameters(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()["paths"]
    return sorted(
        (path, p["name"])
        for path, operations in spec.items()
        for method, operation in operations.items()
        if method == "get"
        for p in operation.get("parameters", ())
        if p["in"] == "query"
    )


def _role_for(template: str) -> str | None:
    allowed = ACCESS[("GET", template)]
    return None if allowed is None else sorted(allowed)[0]


def test_every_query_parameter_is_attacked(client: TestClient) -> None:
    attacked = {path for path, _ in _query_parameters(client)}
    assert attacked >= {"/api/signals", "/api/orders", "/api/fills", "/api/bars", "/api/pnl", "/api/positions"}
    assert "/api/export/{model}" in attacked and "/api/audit/events" in attacked


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_query_values_are_refused_by_name_or_answered_never_a_5xx(
    client: TestClient, world: World, paths: dict[str, str], value: str
) -> None:
    failures = []
    for template, name in _query_parameters(client):
        role = _role_for(template)
        query = {**BASE_QUERY.get(template, {}), name: value}
        response = client.get(paths.get(template, template), params=query, headers=bearer(world.keys[role]) if role else {})
        error = response.json().get("error", {}) if response.headers.get("content-type", "").startswith("application/json") else {}
        named = error.get("parameter") == name or name in error.get("parameters", ())
        if response.status_code >= 500 or (response.status_code == 400 and not named):
            failures.append((template, name, response.status_code, response.text[:200]))
    assert failures == []


@pytest.mark.parametrize(
    "template",
    ["/api/orders/{order_id}", "/api/events/{event_id}", "/api/export/{model}", "/api/replays/{replay_id}", "/api/audit/verify/{run_id}"],
)
def test_hostile_path_values_are_a_400_or_a_404(client: TestClient, world: World, template: str) -> None:
    role = _role_for(template)
    assert role is not None
    head = template.rsplit("/", 1)[0]
    codes = {}
    for value in (*(v for v in HOSTILE if v.strip()), "..%2F..%2Fetc%2Fpasswd", ANY_ID.upper(), ANY_ID + "0"):
        path = f"{head}/{value}"
        try:
            codes[value[:12]] = client.get(path, headers=bearer(world.keys[role])).status_code
        except Exception as exc:  # the client itself refuses to send it (an empty or over-long URL part)
            codes[value[:12]] = type(exc).__name__
    assert {c for c in codes.values() if isinstance(c, int)} <= {400, 404}, codes


BODIES = [
    ("/api/control/trading-state", {"state": "HALTED", "reason": "drill\x00"}, "reason"),
    ("/api/control/trading-state", {"state": "HALTED", "reason": "x" * 501}, "reason"),
    ("/api/control/trading-state", {"state": "HALTED", "reason": "x", "symbol": "ES\x00"}, "symbol"),
    ("/api/control/trading-state", {"state": "HALTED\x00", "reason": "x"}, "state"),
    ("/api/control/settings", {"settings": {"strategy.threshold\x00": "0.4"}, "reason": "x"}, "settings"),
    ("/api/control/settings", {"settings": {"strategy.threshold": "0.4\n"}, "reason": "x"}, "settings"),
    ("/api/control/settings", {"settings": {f"k{n}": "1" for n in range(101)}, "reason": "x"}, "settings"),
    ("/api/replays", {"day": "2013-09-03\x00"}, "day"),
    ("/api/replays", {"from_offsets": {"1": 2**64}}, "from_offsets"),
    ("/api/replays", {"from_offsets": {"1": -1}}, "from_offsets"),
    ("/api/replays", {"day": "2013-09-03", "into": "x\x00"}, "into"),
    ("/api/replays", {"day": "2013-09-03", "symbols": ["ES\x00"]}, "symbol"),
]


@pytest.mark.parametrize(("path", "body", "parameter"), BODIES, ids=range(len(BODIES)))
def test_hostile_bodies_are_refused_naming_the_field_before_anything_is_written(
    client: TestClient, world: World, path: str, body: dict[str, Any], parameter: str
) -> None:
    from contract.topics import INPUTS
    from eventlog.consumer import LogReader

    with LogReader(world.bootstrap) as reader:
        before = reader.watermarks(world.namespace.topic(INPUTS))
        response = client.post(path, json=body, headers=bearer(world.keys["ops"]))
        after = reader.watermarks(world.namespace.topic(INPUTS))
    assert response.status_code in (400, 422), response.text
    error = response.json()["error"]
    assert parameter in str(error.get("parameter")) or parameter in str(error.get("problems", "")) or parameter in error["message"]
    assert before == after


def test_a_body_that_is_not_json_is_a_400(client: TestClient, world: World) -> None:
    for raw in (b"\x00\x01", b"{" * 10_000, b'{"state": "HALTED", "reason": "x"' + b" " * 100_000):
        response = client.post(
            "/api/control/trading-state", content=raw, headers={**bearer(world.keys["ops"]), "Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.text[:200]
