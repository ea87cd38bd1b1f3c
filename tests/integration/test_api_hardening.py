"""The defects of issue 9, each tried as an attacker would, against a real database, broker and server.

Inputs the database would refuse are a 400 naming the parameter; a database
that cannot serve is a 503 with Retry-After; an export is whole or an error;
bad keys cost no database work and are rate-limited per address; cursors are
signed; WebSocket keys never travel in the URL; a revocation by another
process takes effect at once, on open WebSockets too; /ready says no more than
"ok" or "unavailable".
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import keys
from api.app import create_app
from projections.db import auth_schema, connect
from tests.integration.conftest import World, bearer, role_keys, served
from tests.scratch import drop_with_companions, fresh_schema

pytestmark = pytest.mark.infra

NO_DATABASE = "postgresql+psycopg://aitrader:aitrader@127.0.0.1:1/aitrader"


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.settings()), raise_server_exceptions=False) as test_client:
        yield test_client


def _error(response: Any) -> dict[str, Any]:
    return response.json()["error"]


# --- inputs the database would refuse ------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"pattern": "\x00"}, "pattern"),
        ({"min_score": "1e-999999999"}, "min_score"),
        ({"min_score": "1e999999999"}, "min_score"),
        ({"min_score": "0." + "1" * 200}, "min_score"),
        ({"pattern": "x" * 10_000}, "pattern"),
        ({"cursor": "A" * 20_000}, "cursor"),
    ],
)
def test_a_value_the_database_would_refuse_is_a_400_naming_the_parameter(
    client: TestClient, world: World, query: dict[str, str], parameter: str
) -> None:
    response = client.get("/api/signals", params=query, headers=bearer(world.keys["analyst"]))
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert _error(response)["parameter"] == parameter


# --- a database that cannot serve now ---------------------------------------------


def test_an_exhausted_pool_is_a_503_with_retry_after(world: World) -> None:
    """A real pool of one connection, held by the test: the request waits its timeout, then is told to retry."""
    settings = world.settings(pool_size=1, pool_overflow=0, pool_timeout_s=0.5)
    with TestClient(create_app(settings), raise_server_exceptions=False) as api:
        assert api.get("/api/positions", headers=bearer(world.keys["analyst"])).status_code == 200
        with api.app.state.database.models.connect():  # type: ignore[attr-defined]
            started = time.monotonic()
            busy = api.get("/api/positions", headers=bearer(world.keys["analyst"]))
            waited = time.monotonic() - started
        after = api.get("/api/positions", headers=bearer(world.keys["analyst"]))
    assert (busy.status_code, _error(busy)["code"], busy.headers.get("Retry-After")) == (503, "database_busy", "1")
    assert 0.4 < waited < 5
    assert after.status_code == 200


def test_a_value_error_from_the_database_itself_is_a_400_not_a_500(world: World) -> None:
    """The safety net under the checks: what PostgreSQL refuses as data (a real DataError) is the client's 400."""
    import sqlalchemy as sa

    app = create_app(world.settings())

    @app.get("/test/data-error")
    def data_error() -> None:
        with app.state.database.snapshot() as conn:
            conn.execute(sa.text("SELECT 'not a number'::numeric"))

    with TestClient(app, raise_server_exceptions=False) as api:
        response = api.get("/test/data-error")
    assert (response.status_code, _error(response)["code"]) == (400, "value_refused")
    assert "not a number" not in response.text  # the database's own words stay in the server log


# --- exports: whole, or an error ----------------------------------------------------

UNFILLED = 5_000  # one chunk's worth of orders with no average fill price yet, then a filled one


@pytest.fixture(scope="module")
def many_orders(database_url: str) -> Iterator[tuple[str, str]]:
    schema = fresh_schema(database_url, "test")
    try:
        with connect(database_url, schema) as conn:
            conn.execute(
                """
                INSERT INTO orders (order_id, symbol, status, first_time_ms, updated_time_ms, avg_fill_price, deny_reason)
                SELECT md5(n::text)::uuid, 'ES', CASE WHEN n > %s THEN 'FILLED' ELSE 'DENIED' END, n, n,
                       CASE WHEN n > %s THEN 1650.25 END, CASE WHEN n <= %s THEN 'MAX_POSITION' END
                FROM generate_series(1, %s) AS n
                """,
                (UNFILLED, UNFILLED, UNFILLED, UNFILLED + 1),
            )
        yield schema, role_keys(database_url, schema)["analyst"]
    finally:
        drop_with_companions(database_url, schema)


def test_a_parquet_export_has_its_schema_fixed_up_front_so_later_rows_cannot_break_it(
    world: World, many_orders: tuple[str, str]
) -> None:
    import io

    import pyarrow.parquet as pq

    schema, key = many_orders
    with TestClient(create_app(world.settings(schema=schema, bootstrap=None)), raise_server_exceptions=False) as api:
        response = api.get("/api/export/orders", params={"format": "parquet"}, headers=bearer(key))
    assert response.status_code == 200, response.text[:300]
    table = pq.read_table(io.BytesIO(response.content))
    assert table.num_rows == UNFILLED + 1
    assert str(table.schema.field("avg_fill_price").type) == "string"
    assert table.column("avg_fill_price").to_pylist()[-1] == "1650.25"
    assert str(table.schema.field("fill_count").type) == "int64"


def test_an_export_whose_database_fails_midway_is_a_503_never_a_cut_200(world: World, database_url: str) -> None:
    """A real backend terminated while the export reads: the client learns it, instead of a short file."""
    import threading

    schema = fresh_schema(database_url, "test")
    try:
        with connect(database_url, schema) as conn:
            conn.execute(
                "INSERT INTO orders (order_id, symbol, status, first_time_ms, updated_time_ms)"
                " SELECT md5(n::text)::uuid, 'ES', 'ACCEPTED', n, n FROM generate_series(1, 40000) AS n"
            )
        key = role_keys(database_url, schema)["analyst"]
        killed: list[int] = []

        def kill_the_export() -> None:
            deadline = time.monotonic() + 30
            with connect(database_url, schema) as conn:
                while not killed and time.monotonic() < deadline:
                    row = conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                        " AND datname = current_database() AND (query LIKE 'FETCH%%' OR query LIKE 'DECLARE%%')"
                    ).fetchone()
                    if row is not None and row[0]:
                        killed.append(1)
                    time.sleep(0.01)

        with TestClient(create_app(world.settings(schema=schema, bootstrap=None)), raise_server_exceptions=False) as api:
            killer = threading.Thread(target=kill_the_export)
            killer.start()
            response = api.get("/api/export/orders", params={"format": "csv"}, headers=bearer(key))
            killer.join()
            whole = api.get("/api/export/orders", params={"format": "csv"}, headers=bearer(key))
    finally:
        drop_with_companions(database_url, schema)
    assert killed, "the export finished before it could be killed"
    assert response.status_code == 503 and response.headers["Retry-After"] == "1", response.text[:300]
    assert whole.status_code == 200 and int(whole.headers["Content-Length"]) == len(whole.content)
    assert whole.text.count("\n") == 40_001  # the header and every row


# --- keys: format first, failures limited, no database work -------------------------


def test_a_malformed_key_is_refused_without_asking_the_database(world: World) -> None:
    with TestClient(create_app(world.settings(database_url=NO_DATABASE)), raise_server_exceptions=False) as api:
        response = api.get("/api/signals", headers={"X-API-Key": "ait_anything"})
    assert (response.status_code, _error(response)["code"]) == (401, "unauthenticated"), response.text


def test_a_flood_of_bad_keys_is_rate_limited_per_address_before_any_database_work(world: World) -> None:
    forged = [f"ait_{n:012x}_{'x' * 43}" for n in range(30)]
    with TestClient(create_app(world.settings(auth_failures_per_s=0.1, auth_failure_burst=5)), raise_server_exceptions=False) as api:
        codes = [api.get("/api/signals", headers=bearer(k)).status_code for k in forged]
        refused = api.get("/api/signals", headers=bearer(forged[0]))
        elsewhere = TestClient(api.app, client=("192.0.2.7", 50000), raise_server_exceptions=False)
        other_address = elsewhere.get("/api/signals", headers=bearer(world.keys["analyst"]))
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    assert _error(refused)["code"] == "too_many_failures" and int(refused.headers["Retry-After"]) >= 1
    assert other_address.status_code == 200  # per client address
    # Past the budget nothing reaches the database: against none, well-formed keys are 429s, not 503s.
    with TestClient(
        create_app(world.settings(database_url=NO_DATABASE, auth_failures_per_s=0.1, auth_failure_burst=3)),
        raise_server_exceptions=False,
    ) as api:
        malformed = [api.get("/api/signals", headers=bearer(f"ait_bad{n}")).status_code for n in range(3)]
        then = [api.get("/api/signals", headers=bearer(k)).status_code for k in forged[:10]]
    assert malformed == [401] * 3 and set(then) == {429}, (malformed, then)


# --- cursors ----------------------------------------------------------------------


def _forge(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


def test_a_cursor_built_or_edited_by_a_client_is_refused(client: TestClient, world: World) -> None:
    key = bearer(world.keys["analyst"])
    first = client.get("/api/bars", params={"limit": 2}, headers=key).json()
    cursor = first["next_cursor"]
    assert client.get("/api/bars", params={"limit": 2, "cursor": cursor}, headers=key).status_code == 200
    # A position the client made up, in the unsigned form the API used to accept (fingerprint of no filters).
    import hashlib

    fingerprint = hashlib.sha256(json.dumps(["bars", []]).encode()).hexdigest()[:16]
    built = _forge({"v": 1, "f": fingerprint, "k": [0, "ES"]})
    edited = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    for bad in (built, edited):
        response = client.get("/api/bars", params={"limit": 2, "cursor": bad}, headers=key)
        assert (response.status_code, _error(response)["code"]) == (400, "bad_cursor"), response.text


def test_a_cursor_signed_under_another_deployments_key_is_refused(world: World) -> None:
    key = bearer(world.keys["analyst"])
    with TestClient(create_app(world.settings(cursor_key=b"a" * 32))) as one:
        cursor = one.get("/api/bars", params={"limit": 2}, headers=key).json()["next_cursor"]
        assert one.get("/api/bars", params={"limit": 2, "cursor": cursor}, headers=key).status_code == 200
    with TestClient(create_app(world.settings(cursor_key=b"b" * 32))) as other:
        response = other.get("/api/bars", params={"limit": 2, "cursor": cursor}, headers=key)
    assert (response.status_code, _error(response)["code"]) == (400, "bad_cursor")


# --- the monitor WebSocket: no key in the URL --------------------------------------


def test_the_monitor_refuses_a_key_in_the_query_string(world: World) -> None:
    from starlette.websockets import WebSocketDisconnect

    with TestClient(create_app(world.settings())) as api:
        with api.websocket_connect(f"/api/ws/monitor?key={world.keys['ops']}") as socket:
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_json()
    assert (closed.value.code, closed.value.reason) == (4400, "key_in_query")


def test_the_monitor_takes_its_key_in_the_first_message(world: World) -> None:
    from starlette.websockets import WebSocketDisconnect

    with TestClient(create_app(world.settings())) as api:
        with api.websocket_connect("/api/ws/monitor?types=Signal") as socket:
            socket.send_json({"key": world.keys["ops"]})
            assert socket.receive_json()["type"] == "subscribed"
        with api.websocket_connect("/api/ws/monitor") as socket:
            socket.send_json({"key": world.keys["ops"][:-1] + "?"})
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_json()
    assert (closed.value.code, closed.value.reason) == (4401, "unauthenticated")


# --- revocation from another process ------------------------------------------------


def _revoke_in_another_process(database_url: str, schema: str, key: str) -> None:
    key_id = key.split("_")[1]
    result = subprocess.run(
        [sys.executable, "-m", "aitrader", "users", "revoke", key_id, "--schema", schema],
        env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_key_revoked_by_another_process_is_refused_at_once(world: World, own_keys: tuple[str, dict[str, str]]) -> None:
    schema, made = own_keys
    with TestClient(create_app(world.settings(schema=schema, bootstrap=None))) as api:
        assert api.get("/api/positions", headers=bearer(made["analyst"])).status_code == 200  # verified, so cached
        _revoke_in_another_process(world.database_url, schema, made["analyst"])
        deadline, answer = time.monotonic() + 1.0, 200
        while answer == 200 and time.monotonic() < deadline:
            answer = api.get("/api/positions", headers=bearer(made["analyst"])).status_code
            time.sleep(0.05)
        assert answer == 401
        assert api.get("/api/positions", headers=bearer(made["auditor"])).status_code == 200  # only that key


def test_while_revocations_cannot_be_heard_no_key_is_trusted_from_the_cache(
    world: World, own_keys: tuple[str, dict[str, str]]
) -> None:
    """The listening connection is killed; a revocation meanwhile is missed by LISTEN but not by the API."""
    from api.revocations import APPLICATION

    schema, made = own_keys
    with TestClient(create_app(world.settings(schema=schema, bootstrap=None))) as api:
        authenticator = api.app.state.authenticator  # type: ignore[attr-defined]
        assert authenticator.hearing.wait(10)
        assert api.get("/api/positions", headers=bearer(made["analyst"])).status_code == 200  # cached
        with connect(world.database_url, auth_schema(schema)) as conn:
            (killed,) = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                (APPLICATION,),
            ).fetchone()
            assert killed >= 1
            deadline = time.monotonic() + 5
            while authenticator.hearing.is_set() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not authenticator.hearing.is_set()
            # Revoked without a notification anyone hears (nobody listens now).
            conn.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = %s", (keys.key_id(made["analyst"]),))
        assert api.get("/api/positions", headers=bearer(made["analyst"])).status_code == 401
        assert authenticator.hearing.wait(10)  # back, and still refused
        assert api.get("/api/positions", headers=bearer(made["analyst"])).status_code == 401


def test_revoking_a_key_closes_its_open_monitor_websocket(world: World, own_keys: tuple[str, dict[str, str]]) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect as ws_connect

    schema, made = own_keys
    with served(create_app(world.settings(schema=schema))) as port:
        url = f"ws://127.0.0.1:{port}/api/ws/monitor?types=Signal"
        with ws_connect(url, additional_headers=bearer(made["ops"])) as kept, ws_connect(
            url, additional_headers=bearer(made["auditor"])
        ) as revoked:
            assert json.loads(kept.recv(timeout=10))["type"] == "subscribed"
            assert json.loads(revoked.recv(timeout=10))["type"] == "subscribed"
            _revoke_in_another_process(world.database_url, schema, made["auditor"])
            with pytest.raises(ConnectionClosed) as closed:
                revoked.recv(timeout=5)
            kept.ping().wait(5)  # the other key's socket stays open
    assert closed.value.rcvd is not None and (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "key_revoked")


# --- /ready ------------------------------------------------------------------------


def test_ready_is_public_and_says_nothing_of_the_internals(world: World) -> None:
    with TestClient(create_app(world.settings(database_url=NO_DATABASE, bootstrap="127.0.0.1:1"))) as api:
        down = api.get("/ready")
    assert down.status_code == 503
    assert (down.json()["database"], down.json()["broker"]) == ("unavailable", "unavailable")
    for secret in ("127.0.0.1", "port", "aitrader", "Error", "refused"):
        assert secret not in down.text, down.text


def test_a_flood_of_ready_checks_costs_one_check(world: World) -> None:
    """With the only pooled connection held, /ready still answers within its cache time: no request took one."""
    settings = world.settings(pool_size=1, pool_overflow=0, pool_timeout_s=0.5, ready_cache_s=60)
    with TestClient(create_app(settings), raise_server_exceptions=False) as api:
        assert api.get("/ready").status_code == 200
        with api.app.state.database.models.connect():  # type: ignore[attr-defined]
            started = time.monotonic()
            codes = {api.get("/ready").status_code for _ in range(100)}
            took = time.monotonic() - started
            busy = api.get("/api/positions", headers=bearer(world.keys["analyst"]))
    assert codes == {200} and took < 5
    assert busy.status_code == 503  # the pool really was empty
