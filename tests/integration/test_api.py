"""The REST API against real PostgreSQL read models projected from a real log.

Auth (401/403/429), filters, keyset pagination while rows arrive, bad
parameters as 4xx with a code, decimal strings, zoned times and the as-of
watermark on every response.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aitrader.commands.projections import users_app
from api import keys
from api.app import create_app
from api.serialize import iso_time
from api.settings import ApiSettings
from contract.events import Envelope, Tick
from contract.ids import id_from_parts
from contract.topics import CATALOG, INPUTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.producer import EventProducer
from projections.db import auth_schema, connect
from projections.projector import Projector
from tests.refusals import publish_refusals
from tests.scratch import drop_with_companions, fresh_schema
from tests.seed import sample_ticks, seed

pytestmark = pytest.mark.infra

STEP = 20  # every twentieth trade of the sample days: 25,000 ticks, both trading days
T0 = 1378100000000  # 2013-09-02 05:33:20 UTC


@pytest.fixture(scope="module")
def projected(kafka_bootstrap: str, database_url: str) -> Iterator[tuple[Namespace, str]]:
    """A kernel run on the log, projected to its end into a schema of its own."""
    space = Namespace(f"test.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    name = fresh_schema(database_url, "test")
    seed(kafka_bootstrap, space, sample_ticks(step=STEP))
    Projector(kafka_bootstrap, database_url, name, space).run(stop_at_end=True)
    yield space, name
    admin.delete(CATALOG)
    drop_with_companions(database_url, name)


@pytest.fixture(scope="module")
def role_keys(database_url: str, projected: tuple[Namespace, str]) -> dict[str, str]:
    with connect(database_url, auth_schema(projected[1])) as conn:
        return {role: keys.create(conn, f"test {role}", role)[1] for role in ("analyst", "auditor", "ops")}


@pytest.fixture(scope="module")
def client(kafka_bootstrap: str, database_url: str, projected: tuple[Namespace, str]) -> Iterator[TestClient]:
    settings = ApiSettings(database_url, projected[1], kafka_bootstrap, projected[0], rate_per_s=10_000, max_lag=0)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _all(client: TestClient, path: str, key: str, **query: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = client.get(path, params={**query, **({"cursor": cursor} if cursor else {})}, headers=_h(key)).json()
        rows += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


def _sql(database_url: str, schema: str, query: str, *args: Any) -> list[tuple]:
    with connect(database_url, schema) as conn:
        return conn.execute(query, args).fetchall()


# --- auth ---------------------------------------------------------------------


def test_open_endpoints_need_no_key(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["database"] == "ok" and ready.json()["broker"] == "ok"
    assert client.get("/docs").status_code == 200
    assert "/api/signals" in client.get("/openapi.json").json()["paths"]
    assert "aitrader_api_requests_total" in client.get("/metrics").text


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/signals", {"analyst", "auditor"}),
        ("/api/orders", {"analyst", "auditor"}),
        ("/api/fills", {"analyst", "auditor"}),
        ("/api/positions", {"analyst", "auditor"}),
        ("/api/pnl", {"analyst", "auditor"}),
        ("/api/bars", {"analyst", "auditor"}),
        ("/api/status", {"ops", "auditor"}),
    ],
)
def test_every_endpoint_wants_a_key_with_an_allowed_role(
    client: TestClient, role_keys: dict[str, str], path: str, allowed: set[str]
) -> None:
    missing = client.get(path)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthenticated"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert client.get(path, headers=_h("ait_000000000000_" + "x" * 43)).status_code == 401
    assert client.get(path, headers={"X-API-Key": role_keys["auditor"][:-1] + "?"}).status_code == 401
    for role, key in role_keys.items():
        response = client.get(path, headers=_h(key))
        assert response.status_code == (200 if role in allowed else 403), (role, response.json())
        if role not in allowed:
            assert response.json()["error"]["code"] == "forbidden"


def test_users_add_prints_a_working_key_once_and_stores_only_its_hash(
    database_url: str, client: TestClient, projected: tuple[Namespace, str]
) -> None:
    app = typer.Typer()
    app.add_typer(users_app, name="users")
    result = CliRunner().invoke(
        app, ["users", "add", "dana", "--role", "analyst", "--schema", projected[1]], env={"DATABASE_URL": database_url}
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("ait_")
    assert client.get("/api/signals", headers=_h(key)).status_code == 200
    stored = _sql(database_url, auth_schema(projected[1]), "SELECT key_hash, role FROM api_keys WHERE name = 'dana'")
    assert stored == [(keys.digest(key), "analyst")] and key not in str(stored)
    bad = CliRunner().invoke(app, ["users", "add", "eve", "--role", "root", "--schema", projected[1]], env={"DATABASE_URL": database_url})
    assert bad.exit_code != 0


def test_a_key_over_its_rate_gets_429_with_retry_after(
    kafka_bootstrap: str, database_url: str, projected: tuple[Namespace, str], role_keys: dict[str, str]
) -> None:
    settings = ApiSettings(database_url, projected[1], None, projected[0], rate_per_s=0.5, burst=3)
    with TestClient(create_app(settings)) as limited:
        codes = [limited.get("/api/positions", headers=_h(role_keys["analyst"])).status_code for _ in range(5)]
        over = limited.get("/api/positions", headers=_h(role_keys["analyst"]))
        other = limited.get("/api/positions", headers=_h(role_keys["auditor"]))
    assert codes == [200, 200, 200, 429, 429]
    assert over.status_code == 429 and over.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(over.headers["Retry-After"]) <= 2
    assert other.status_code == 200  # per key


# --- shapes -------------------------------------------------------------------


def test_money_is_decimal_strings_times_are_zoned_and_every_answer_has_an_as_of(
    client: TestClient, role_keys: dict[str, str], projected: tuple[Namespace, str]
) -> None:
    body = client.get("/api/fills", params={"limit": 5}, headers=_h(role_keys["analyst"])).json()
    fill = body["data"][0]
    for field in ("quantity", "price", "fee", "realized_pnl", "position_after"):
        assert isinstance(fill[field], str) and Decimal(fill[field]).is_finite()
    assert fill["event_time"].endswith("Z") and "T" in fill["event_time"]
    as_of = body["as_of"]
    assert as_of["latest_event_time"].endswith("Z") and as_of["latest_event_time_ms"] > T0 - 10**9
    assert as_of["offsets"][projected[0].topic(INPUTS)]  # per topic and partition
    pnl = client.get("/api/pnl", headers=_h(role_keys["analyst"])).json()
    assert {r["trading_day"] for r in pnl["data"]} == {"2013-09-02", "2013-09-03"}
    assert all(isinstance(r["daily_pnl"], str) for r in pnl["data"])
    position = client.get("/api/positions", params={"symbol": "ES"}, headers=_h(role_keys["analyst"])).json()["data"]
    assert [p["symbol"] for p in position] == ["ES"] and isinstance(position[0]["unrealized_pnl"], str)


def test_an_order_comes_with_its_event_history(
    client: TestClient, role_keys: dict[str, str], database_url: str, projected: tuple[Namespace, str]
) -> None:
    (order_id,) = _sql(database_url, projected[1], "SELECT order_id::text FROM orders WHERE fill_count > 0 LIMIT 1")[0]
    body = client.get(f"/api/orders/{order_id}", headers=_h(role_keys["analyst"])).json()
    order = body["data"]
    types = [e["event_type"] for e in order["events"]]
    assert order["order_id"] == order_id and order["status"] == "FILLED"
    assert types[:2] == ["OrderInitialized", "OrderAccepted"] and "OrderFilled" in types
    assert Decimal(order["filled_qty"]) == Decimal(order["quantity"])
    times = [e["event_time"] for e in order["events"]]
    assert times == sorted(times) and "as_of" in body
    missing = client.get("/api/orders/00000000-0000-5000-8000-000000000000", headers=_h(role_keys["analyst"]))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    event = order["events"][0]["event_id"]
    located = client.get(f"/api/events/{event}", headers=_h(role_keys["auditor"])).json()["data"]
    assert located["event_type"] == "OrderInitialized" and located["topic"] == projected[0].topic("orders")
    assert client.get(f"/api/events/{event}", headers=_h(role_keys["analyst"])).status_code == 403


# --- filters ------------------------------------------------------------------


def test_filters_select_what_sql_selects(
    client: TestClient, role_keys: dict[str, str], database_url: str, projected: tuple[Namespace, str]
) -> None:
    key, schema = role_keys["analyst"], projected[1]
    strong = _all(client, "/api/signals", key, min_score="0.5", symbol="ES")
    assert [s["event_id"] for s in strong] == [
        r[0] for r in _sql(database_url, schema, "SELECT event_id::text FROM signals WHERE score >= 0.5 ORDER BY event_time_ms, event_id")
    ]
    assert all(Decimal(s["score"]) >= Decimal("0.5") for s in strong)
    start, end = "2013-09-03T08:30:00-05:00", "2013-09-03T10:00:00-05:00"
    bars = _all(client, "/api/bars", key, symbol="ES", **{"from": start, "to": end}, limit=50)
    expected = _sql(
        database_url, schema, "SELECT count(*) FROM bars_1m WHERE start_ms >= 1378215000000 AND start_ms < 1378220400000"
    )[0][0]
    assert len(bars) == expected == 90
    assert bars[0]["start"] == "2013-09-03T13:30:00.000Z"
    filled = _all(client, "/api/orders", key, status="FILLED")
    assert len(filled) == _sql(database_url, schema, "SELECT count(*) FROM orders WHERE status = 'FILLED'")[0][0] > 0
    assert _all(client, "/api/orders", key, status="REJECTED") == []
    order_id = filled[0]["order_id"]
    assert {f["order_id"] for f in _all(client, "/api/fills", key, order_id=order_id)} == {order_id}
    day = _all(client, "/api/pnl", key, from_day="2013-09-03", to_day="2013-09-03")
    assert [d["trading_day"] for d in day] == ["2013-09-03"]
    assert _all(client, "/api/signals", key, symbol="NQ") == []


@pytest.mark.parametrize(
    ("path", "query", "status", "code"),
    [
        ("/api/signals", {"cursor": "not-a-cursor"}, 400, "bad_cursor"),
        ("/api/signals", {"cursor": "eyJ2IjoxfQ"}, 400, "bad_cursor"),
        ("/api/signals", {"from": "2013-09-03T10:00:00Z", "to": "2013-09-03T09:00:00Z"}, 400, "inverted_time_range"),
        ("/api/fills", {"from": "2013-09-03T10:00:00"}, 400, "time_zone_required"),
        ("/api/fills", {"to": "yesterday"}, 400, "bad_time"),
        ("/api/bars", {"symbol": "es; drop table"}, 400, "bad_symbol"),
        ("/api/bars", {"limit": 0}, 400, "limit_out_of_range"),
        ("/api/bars", {"limit": 100_000}, 400, "limit_out_of_range"),
        ("/api/bars", {"limit": "many"}, 400, "bad_parameter"),
        ("/api/orders", {"status": "DONE"}, 400, "bad_status"),
        ("/api/signals", {"min_score": "2"}, 400, "bad_score"),
        ("/api/signals", {"min_score": "NaN"}, 400, "bad_score"),
        ("/api/fills", {"order_id": "42"}, 400, "bad_id"),
        ("/api/orders/42", {}, 400, "bad_id"),
        ("/api/pnl", {"from_day": "2013-09-04", "to_day": "2013-09-02"}, 400, "inverted_time_range"),
        ("/api/pnl", {"from_day": "Sept 2"}, 400, "bad_date"),
        ("/api/nothing", {}, 404, "not_found"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_reason(
    client: TestClient, role_keys: dict[str, str], path: str, query: dict[str, Any], status: int, code: str
) -> None:
    response = client.get(path, params=query, headers=_h(role_keys["auditor"]))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_a_cursor_only_works_with_the_filters_it_was_made_for(client: TestClient, role_keys: dict[str, str]) -> None:
    key = role_keys["analyst"]
    cursor = client.get("/api/bars", params={"symbol": "ES", "limit": 3}, headers=_h(key)).json()["next_cursor"]
    assert cursor
    assert client.get("/api/bars", params={"symbol": "ES", "limit": 3, "cursor": cursor}, headers=_h(key)).status_code == 200
    other = client.get("/api/bars", params={"limit": 3, "cursor": cursor}, headers=_h(key))
    assert other.status_code == 400 and other.json()["error"]["code"] == "cursor_mismatch"
    elsewhere = client.get("/api/fills", params={"cursor": cursor}, headers=_h(key))
    assert elsewhere.json()["error"]["code"] == "cursor_mismatch"


# --- refusals -----------------------------------------------------------------


def test_a_denial_is_shown_as_our_risks_and_an_old_logs_rejection_as_a_rejection(
    kafka_bootstrap: str, database_url: str, namespace: Namespace
) -> None:
    refusals = publish_refusals(kafka_bootstrap, namespace)
    schema = fresh_schema(database_url, "test")
    try:
        Projector(kafka_bootstrap, database_url, schema, namespace).run(stop_at_end=True)
        with connect(database_url, auth_schema(schema)) as conn:
            key = keys.create(conn, "test refusals", "analyst")[1]
        settings = ApiSettings(database_url, schema, kafka_bootstrap, namespace, rate_per_s=10_000, max_lag=0)
        with TestClient(create_app(settings)) as client:
            denied = _all(client, "/api/orders", key, status="DENIED")
            rejected = _all(client, "/api/orders", key, status="REJECTED")
            first = client.get(f"/api/orders/{refusals.denied[0].order_id}", headers=_h(key)).json()["data"]
            listing = client.get("/openapi.json").json()["paths"]["/api/orders"]["get"]
    finally:
        drop_with_companions(database_url, schema)
    shown = ("status", "deny_reason", "deny_detail", "denied_time", "reject_reason", "reject_detail", "rejected_time")
    assert [o["order_id"] for o in denied] == [d.order_id for d in refusals.denied]
    for order, event in zip(denied, refusals.denied):
        assert {k: order[k] for k in shown} == dict(
            zip(shown, ("DENIED", "MAX_ORDER_QTY", event.detail, iso_time(event.event_time_ms), None, None, None))
        )
    old = refusals.old_rejection
    assert [{k: o[k] for k in ("order_id", *shown)} for o in rejected] == [
        dict(zip(("order_id", *shown), (old.order_id, "REJECTED", None, None, None, "MAX_ORDER_QTY", old.detail, iso_time(old.event_time_ms))))
    ]
    # Within one millisecond the history is in event-id order, not log order: compare as a set.
    assert sorted(e["event_type"] for e in first["events"]) == ["OrderDenied", "OrderInitialized"]
    assert "DENIED: our pre-trade risk" in listing["description"] and "REJECTED: a venue" in listing["description"]


# --- pagination while rows arrive ---------------------------------------------


def _ticks(symbol: str, start_ms: int, count: int, every_ms: int, first_seq: int) -> list[Tick]:
    out = []
    for n in range(count):
        event_id = id_from_parts("test-tick", symbol, first_seq + n)
        out.append(
            Tick(Envelope(event_id, start_ms + n * every_ms, "test", None, event_id), symbol, "CME", first_seq + n,
                 Decimal("1600") + Decimal(n % 40) / 4, Decimal(1 + n % 3))
        )
    return out


def test_paging_while_rows_arrive_never_repeats_or_skips_a_row(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, role_keys: dict[str, str]
) -> None:
    schema = fresh_schema(database_url, "test")
    try:
        producer = EventProducer(kafka_bootstrap, namespace)

        def land(ticks: list[Tick]) -> None:
            for t in ticks:
                producer.send(INPUTS, t.symbol, t)
            producer.flush()
            Projector(kafka_bootstrap, database_url, schema, namespace).run(stop_at_end=True)

        land(_ticks("ES", T0, 3000, 10_000, 0))  # 500 one-minute bars
        with connect(database_url, auth_schema(schema)) as conn:
            key = keys.create(conn, "pager", "analyst")[1]
        with TestClient(create_app(ApiSettings(database_url, schema, rate_per_s=10_000))) as api:
            before = {(r[0], r[1]) for r in _sql(database_url, schema, "SELECT symbol, start_ms FROM bars_1m")}
            seen: list[tuple[str, str]] = []
            cursor, pages = None, 0
            while True:
                body = api.get("/api/bars", params={"limit": 37, **({"cursor": cursor} if cursor else {})}, headers=_h(key)).json()
                seen += [(b["symbol"], b["start"]) for b in body["data"]]
                cursor, pages = body["next_cursor"], pages + 1
                if pages == 3:
                    # New bars arrive: some before the cursor (another symbol, early), some after (later minutes).
                    land(_ticks("NQ", T0, 60, 60_000, 10_000) + _ticks("ES", T0 + 3000 * 10_000, 600, 10_000, 20_000))
                if cursor is None:
                    break
        after = {(r[0], iso_time(r[1])) for r in _sql(database_url, schema, "SELECT symbol, start_ms FROM bars_1m")}
        behind = {row for row in after if row[0] == "NQ"}  # all earlier than the cursor when they arrived
        assert len(seen) == len(set(seen))  # nothing twice
        assert before_iso(before) <= set(seen)  # nothing that was there is skipped
        assert set(seen) == after - behind  # and the later arrivals are there too
        assert len(after - before_iso(before) - behind) >= 100
        assert [b for _, b in seen] == sorted(b for _, b in seen)  # one stable order
    finally:
        drop_with_companions(database_url, schema)


def before_iso(rows: set[tuple[str, int]]) -> set[tuple[str, str]]:
    return {(s, iso_time(ms)) for s, ms in rows}


def test_ready_is_503_when_the_projections_lag_behind(
    kafka_bootstrap: str, database_url: str, namespace: Namespace
) -> None:
    schema = fresh_schema(database_url, "test")
    try:
        producer = EventProducer(kafka_bootstrap, namespace)
        for t in _ticks("ES", T0, 20, 1000, 0):
            producer.send(INPUTS, t.symbol, t)
        producer.flush()
        settings = ApiSettings(database_url, schema, kafka_bootstrap, namespace, max_lag=5, ready_cache_s=0)
        with TestClient(create_app(settings)) as api:
            lagging = api.get("/ready")
            Projector(kafka_bootstrap, database_url, schema, namespace).run(stop_at_end=True)
            caught_up = api.get("/ready")
        assert lagging.status_code == 503 and lagging.json()["lag"]["records"] >= 20
        assert caught_up.status_code == 200 and caught_up.json()["lag"]["records"] == 0
    finally:
        drop_with_companions(database_url, schema)


def test_ready_says_what_is_unreachable(database_url: str, kafka_bootstrap: str, projected: tuple[Namespace, str]) -> None:
    no_database = ApiSettings("postgresql+psycopg://aitrader:aitrader@127.0.0.1:1/aitrader", projected[1], kafka_bootstrap, projected[0])
    with TestClient(create_app(no_database)) as api:
        down = api.get("/ready")
        assert api.get("/health").status_code == 200
        unanswered = api.get("/api/signals", headers={"X-API-Key": "ait_000000000000_" + "x" * 43})
    # Public: what is down, never why (hosts and users stay in the server log).
    assert down.status_code == 503 and down.json()["database"] == "unavailable"
    # Not a 500: a database that cannot answer is a 503 the client may retry.
    assert unanswered.status_code == 503 and unanswered.headers["Retry-After"] == "1"
    assert unanswered.json()["error"]["code"] == "database_unavailable"
    no_broker = ApiSettings(database_url, projected[1], "127.0.0.1:1", projected[0])
    with TestClient(create_app(no_broker)) as api:
        down = api.get("/ready")
    assert down.status_code == 503 and down.json()["broker"] == "unavailable"
    assert down.json()["database"] == "ok"


def test_no_request_reaches_a_500(client: TestClient, role_keys: dict[str, str]) -> None:
    key = role_keys["auditor"]
    odd = [
        ("/api/signals", {"from": "9999-12-31T23:59:59+14:00"}),
        ("/api/signals", {"from": "0001-01-01T00:00:00-12:00"}),
        ("/api/bars", {"cursor": "eyJ2IjoxLCJmIjoiIiwiayI6WzEsMl19"}),
        ("/api/orders", {"cursor": "%%%"}),
        ("/api/pnl", {"from_day": "2013-02-30"}),
        ("/api/signals", {"pattern": "x" * 65}),
        ("/api/positions", {"symbol": ""}),
    ]
    for path, query in odd:
        response = client.get(path, params=query, headers=_h(key))
        assert response.status_code < 500, (path, query, response.text)


# --- export -------------------------------------------------------------------


def test_export_streams_a_model_as_csv_or_parquet_with_its_as_of(
    client: TestClient, role_keys: dict[str, str], database_url: str, projected: tuple[Namespace, str]
) -> None:
    import csv
    import io
    import json

    import pyarrow.parquet as pq

    key = role_keys["analyst"]
    fills = _all(client, "/api/fills", key, limit=1000)
    response = client.get("/api/export/fills", params={"format": "csv"}, headers=_h(key))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["event_id"] for r in rows] == [f["event_id"] for f in fills]
    assert rows[0]["price"] == fills[0]["price"] and rows[0]["event_time"] == fills[0]["event_time"]
    assert json.loads(response.headers["X-As-Of"])["latest_event_time_ms"] > T0 - 10**9
    parquet = client.get("/api/export/bars", params={"format": "parquet", "symbol": "ES"}, headers=_h(key))
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == _sql(database_url, projected[1], "SELECT count(*) FROM bars_1m")[0][0]
    assert table.schema.field("trades").type == "int64" and table.schema.field("close").type == "string"
    window = client.get(
        "/api/export/signals", params={"from": "2013-09-03T00:00:00Z", "to": "2013-09-03T00:00:00Z"}, headers=_h(key)
    )
    assert window.status_code == 400 and window.json()["error"]["code"] == "inverted_time_range"
    assert client.get("/api/export/secrets", headers=_h(key)).status_code == 404
    assert client.get("/api/export/fills", params={"format": "xlsx"}, headers=_h(key)).json()["error"]["code"] == "bad_format"
    assert client.get("/api/export/fills", headers=_h(role_keys["ops"])).status_code == 403


# --- the live monitor -----------------------------------------------------------


def _signal(symbol: str, n: int, score: str = "0.5") -> Any:
    from contract.events import Signal

    event_id = id_from_parts("test-signal", symbol, n)
    return Signal(Envelope(event_id, T0 + n, "test", None, event_id), symbol, "test", Decimal(score), {"n": float(n)})


@pytest.fixture
def live_api(kafka_bootstrap: str, database_url: str, namespace: Namespace) -> Iterator[tuple[TestClient, dict[str, str]]]:
    schema = fresh_schema(database_url, "test")
    with connect(database_url, auth_schema(schema)) as conn:
        role = {r: keys.create(conn, r, r)[1] for r in ("analyst", "auditor", "ops")}
    settings = ApiSettings(database_url, schema, kafka_bootstrap, namespace, monitor_buffer=50)
    try:
        with TestClient(create_app(settings)) as api:
            yield api, role
    finally:
        drop_with_companions(database_url, schema)


def test_the_monitor_streams_live_events_matching_its_filters(
    kafka_bootstrap: str, namespace: Namespace, live_api: tuple[TestClient, dict[str, str]]
) -> None:
    from contract.topics import SIGNALS

    api, role = live_api
    with api.websocket_connect("/api/ws/monitor?symbol=ES&types=Signal", headers=_h(role["ops"])) as socket:
        hello = socket.receive_json()
        assert hello == {"type": "subscribed", "symbols": ["ES"], "types": ["Signal"], "buffer": 50}
        producer = EventProducer(kafka_bootstrap, namespace)
        for n, symbol in enumerate(["NQ", "ES", "NQ", "ES"]):
            producer.send(SIGNALS, symbol, _signal(symbol, n))
        producer.flush()
        got = [socket.receive_json(), socket.receive_json()]
    assert [(m["type"], m["event"]["symbol"], m["event"]["features"]["n"]) for m in got] == [("Signal", "ES", 1.0), ("Signal", "ES", 3.0)]
    assert got[0]["topic"] == namespace.topic(SIGNALS) and got[0]["event"]["score"] == "0.50000000"


@pytest.mark.parametrize(
    ("query", "key_role", "code", "reason"),
    [
        ("", None, 4401, "unauthenticated"),
        ("?types=Nonsense", "ops", 4400, "bad_types"),
        ("?symbol=lower", "ops", 4400, "bad_symbol"),
    ],
)
def test_the_monitor_refuses_with_a_close_code_and_reason(
    live_api: tuple[TestClient, dict[str, str]], query: str, key_role: str | None, code: int, reason: str
) -> None:
    from starlette.websockets import WebSocketDisconnect

    api, role = live_api
    headers = _h(role[key_role]) if key_role else {}
    with api.websocket_connect(f"/api/ws/monitor{query}", headers=headers) as socket:
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert (closed.value.code, closed.value.reason) == (code, reason)


def test_a_slow_monitor_client_is_dropped_with_a_reason(
    kafka_bootstrap: str, database_url: str, namespace: Namespace
) -> None:
    """A real server and a client that does not read: the server's buffer for it fills and it is closed."""
    import socket as sockets
    import threading
    import time

    import uvicorn
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect as ws_connect

    schema = fresh_schema(database_url, "test")
    with connect(database_url, auth_schema(schema)) as conn:
        key = keys.create(conn, "slow", "ops")[1]
    with sockets.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ApiSettings(database_url, schema, kafka_bootstrap, namespace, monitor_buffer=20)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        with ws_connect(
            f"ws://127.0.0.1:{port}/api/ws/monitor?types=Tick", additional_headers=_h(key), max_size=None, max_queue=4
        ) as client:
            assert client.recv(timeout=10)  # subscribed
            producer = EventProducer(kafka_bootstrap, namespace)
            for tick in _ticks("ES", T0, 40_000, 10, 0):
                producer.send(INPUTS, tick.symbol, tick)
            producer.flush()
            time.sleep(8)  # the client reads nothing meanwhile
            received = 0
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    client.recv(timeout=20)
                    received += 1
        assert closed.value.rcvd is not None and (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, "slow_consumer")
        assert received < 40_000
    finally:
        server.should_exit = True
        thread.join(10)
        drop_with_companions(database_url, schema)
