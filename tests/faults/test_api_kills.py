"""The API SIGKILLed while an export is mid-body: the client sees a broken download, never a complete one.

``aitrader run api`` serves a read model whose CSV export is several send
blocks long. A ``kill-mid-export`` fault (``eventlog/faults.py``) SIGKILLs the
process once an export's status, headers and first block are handed to the
server and more of its body is to come, so the kill lands mid-body, not by
timing luck. The export carries its ``Content-Length`` (``api/routers/export.py``
writes the file whole before sending), so the client's HTTP library must raise
a protocol error for the short body: the bytes it got are a prefix of the file,
fewer than announced, and nothing marks them complete. The chaos harness
(``tests/faults/chaos.py``) restarts the API unattended, and the new process
serves the same answers: the whole export, of the length the broken one
announced and starting with the bytes it sent, and the same pages, a cursor
handed out before the kill included (cursors are signed with the deployment's
key, not the process's).

The rows are written straight into the read model: what is under test is the
API process, not the projection.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import httpx
import pytest

from api import keys
from api.routers.export import SEND_BYTES
from projections.db import auth_schema, connect
from tests.faults.chaos import API_POINTS, Chaos, Kind
from tests.faults.private_stack import free_port
from tests.scratch import drop_with_companions, fresh_schema

pytestmark = pytest.mark.infra

BARS = 20_000  # about 1.3 MB of CSV: more than one send block
START_S = 60.0
TIMEOUT_S = 30.0


def _bars(database_url: str, schema: str, count: int) -> None:
    """``count`` one-minute bars of two symbols, written as the bars projection would hold them."""
    with connect(database_url, schema) as conn:
        conn.execute(
            "INSERT INTO bars_1m SELECT CASE WHEN mod(i, 2) = 0 THEN 'ES' ELSE 'NQ' END, i / 2 * 60000, "
            "4000 + mod(i, 7), 4001 + mod(i, 7), 3999 + mod(i, 7), 4000.25 + mod(i, 5), 10 + mod(i, 9), 40000.5 * (10 + mod(i, 9)), 3 + mod(i, 4), "
            "i / 2 * 60000 + 10, 3 * i, gen_random_uuid(), i / 2 * 60000 + 59000, 3 * i + 2, gen_random_uuid() "
            "FROM generate_series(0, %s - 1) AS i", (count,))


def _healthy(client: httpx.Client) -> bool:
    try:
        return client.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def _download(client: httpx.Client, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, Exception | None]:
    """Status, headers, the body bytes received, and the error that cut the body short (None: the library took it whole)."""
    got = bytearray()
    with client.stream("GET", path, headers=headers) as response:
        try:
            for chunk in response.iter_raw():
                got += chunk
        except httpx.TransportError as exc:
            return response.status_code, dict(response.headers), bytes(got), exc
        return response.status_code, dict(response.headers), bytes(got), None


def test_an_api_killed_mid_export_breaks_the_download_cleanly_and_serves_the_same_answers_again(
    database_url: str, tmp_path: Path
) -> None:
    schema = fresh_schema(database_url, "apikill")
    try:
        _bars(database_url, schema, BARS)
        with connect(database_url, auth_schema(schema)) as conn:
            _, key = keys.create(conn, "fault test", "analyst")
        auth = {"Authorization": f"Bearer {key}"}
        port = free_port()
        api = Kind("api", ("run", "api", "--port", str(port), "--schema", schema, "--rate-limit", "1000"), API_POINTS, 0)
        env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
        env.update(DATABASE_URL=database_url, AITRADER_CURSOR_KEY=secrets.token_hex(32))  # one key for both lives
        chaos = Chaos(env, tmp_path / "logs", {"api": ["kill-mid-export:1"]})
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT_S) as client:
                chaos.start(api)
                deadline = time.monotonic() + START_S
                while not _healthy(client):
                    assert chaos.current("api").alive and time.monotonic() < deadline, chaos.tails()
                    time.sleep(0.2)
                first = client.get("/api/bars?limit=500", headers=auth).json()
                second = client.get("/api/bars", params={"limit": 500, "cursor": first["next_cursor"]}, headers=auth).json()
                cut = _download(client, "/api/export/bars", auth)
                chaos.supervise(lambda: _healthy(client), START_S)
                whole = _download(client, "/api/export/bars", auth)
                again = client.get("/api/bars", params={"limit": 500, "cursor": first["next_cursor"]}, headers=auth).json()
        finally:
            chaos.stop_all()
        status, headers, body, error = cut
        print(f"killed mid-export: {chaos.kills[0].line if chaos.kills else 'no kill'}\n"
              f"the client got status {status}, {len(body):,} of {headers.get('content-length')} bytes, then {error!r}")
        assert [kill.fault for kill in chaos.kills] == ["kill-mid-export:1"], chaos.tails()
        assert status == 200 and isinstance(error, httpx.RemoteProtocolError), "a cut body must be an error, not a complete answer"
        assert len(body) < int(headers["content-length"])

        status, complete, full, error = whole
        assert status == 200 and error is None
        assert int(complete["content-length"]) == len(full) == int(headers["content-length"]) > SEND_BYTES
        assert full.startswith(body) and complete["x-as-of"] == headers["x-as-of"]
        assert full.count(b"\n") == BARS + 1  # the header and every bar
        assert again == second, "a cursor from before the kill must give the same page after the restart"
    finally:
        drop_with_companions(database_url, schema)
