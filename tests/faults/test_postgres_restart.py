"""PostgreSQL restarted mid-transaction: the projector and the API recover unattended, and nothing is lost.

A private PostgreSQL (``tests/faults/private_stack.py``: the stack's own server
and setup code, its own directory and port; the shared cluster is never
touched) holds the read models of a slice of the multi-symbol day, which the
live worker derives on the shared broker. While the projector holds a batch
whose rows and offsets are written inside its transaction and not committed (a
``hold-before-commit`` fault, so the restart lands mid-transaction rather than
whenever timing allows), the database is stopped as ``pg_ctlcluster stop``
stops it (fast: sessions cut, open transactions rolled back) and started
again; then the batch goes on, its commit fails, and the projector must start
over from the stored offsets by itself. The notary and the account monitor use
no database and are left out.

What the API answers while the database is down, decided here: ``/health`` is
200 (the process is up), ``/ready`` is 503 with ``database`` unreachable, and
a read endpoint is 503 ``database_unavailable`` with ``Retry-After`` whether
its key is cached or must be checked in the database: a client can tell
"retry shortly" from a bad request, and never gets a 500. Once the database is
back the same requests answer 200 with no restart.

Afterwards no process has exited and the read models equal the log
(``tests/faults/checks.py``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aitrader.commands.common import parse_settings
from api import keys
from contract.topics import Namespace
from eventlog.consumer import LogReader
from eventlog.sampledata import write_multi_symbol_day
from kernel.settings import KernelSettings
from projections.db import auth_schema, connect
from projections.status import lags
from tests.faults.chaos import Chaos, Kind, committed_to_end
from tests.faults.checks import assert_nothing_lost
from tests.faults.private_stack import PrivatePostgres, free_port
from tests.scratch import drop_with_companions, fresh_schema
from tests.workers import ingest

pytestmark = pytest.mark.infra

SINCE, UNTIL = "2013-09-01 17:00", "2013-09-02 09:00"
EVERY = 80
HOLD_AFTER = 1_000  # records projected before the batch that is held across the restart
RUN_S = 600.0
TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def database() -> Iterator[PrivatePostgres]:
    private = PrivatePostgres.make()
    try:
        private.up()
        yield private
    finally:
        private.remove()


def _projected_to_end(bootstrap: str, database_url: str, schema: str, namespace: Namespace) -> bool:
    with connect(database_url, schema) as conn, LogReader(bootstrap) as ends:
        return all(lag.lag == 0 for lag in lags(conn, ends, namespace))


def _answers(client: httpx.Client, key: str) -> dict[str, tuple[int, str | None, str | None]]:
    """Status, error code and Retry-After of each probe: a cached key, an unchecked key, and the open endpoints."""
    checked = {"Authorization": f"Bearer {key}"}
    unchecked = {"X-API-Key": key + "x"}  # well formed, never verified: only the database can say it is wrong
    got = {}
    for name, path, headers in (("health", "/health", {}), ("ready", "/ready", {}), ("fills", "/api/fills?limit=5", checked),
                                ("unchecked key", "/api/fills?limit=5", unchecked)):
        response = client.get(path, headers=headers)
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        code = body.get("error", {}).get("code") if isinstance(body.get("error"), dict) else None
        got[name] = (response.status_code, code, response.headers.get("retry-after"))
    return got


def test_a_postgres_restart_mid_transaction_is_survived_unattended(
    kafka_bootstrap: str, namespace: Namespace, database: PrivatePostgres, tmp_path: Path
) -> None:
    url = database.url
    schema = fresh_schema(url, "pgrestart")
    try:
        with connect(url, auth_schema(schema)) as conn:
            _, key = keys.create(conn, "fault test", "analyst")
        day = write_multi_symbol_day(tmp_path / "day", every=EVERY, since=SINCE, until=UNTIL)
        gate, keys_dir, prefix, port = tmp_path / "gate", tmp_path / "notary", namespace.prefix, free_port()
        gate.touch()
        kinds = (
            Kind("processors", ("run", "processors", "--namespace", prefix, "--settings", str(day.settings), "--batch", "500"), (), 0),
            Kind("projector", ("run", "projector", "--namespace", prefix, "--schema", schema, "--no-migrate", "--batch-size", "500"),
                 (), 0),
            Kind("api", ("run", "api", "--port", str(port), "--schema", schema, "--namespace", prefix, "--rate-limit", "1000"), (), 0),
        )
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": url,
               "AITRADER_CURSOR_KEY": secrets.token_hex(32)}
        chaos = Chaos(env, tmp_path / "logs", {"projector": [f"hold-before-commit:{HOLD_AFTER}:{gate}"]})
        try:
            for kind in kinds:
                chaos.start(kind)
            ingest(kafka_bootstrap, namespace, day)
            chaos.current("projector").wait_for("fault hold-before-commit: holding", RUN_S)
            chaos.current("api").wait_for("Uvicorn running", RUN_S)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT_S) as client:
                before = client.get("/api/fills?limit=5", headers={"Authorization": f"Bearer {key}"})
                assert before.status_code == 200, before.text  # the key is verified, and cached
                database.down()
                try:
                    outage = _answers(client, key)
                finally:
                    database.up()
                gate.unlink()
                chaos.supervise(lambda: committed_to_end(kafka_bootstrap, namespace)
                                and _projected_to_end(kafka_bootstrap, url, schema, namespace), RUN_S)
                after = _answers(client, key)
                with connect(url, schema) as conn:
                    fills = conn.execute("SELECT count(*) FROM fills").fetchone()[0]
                listed = client.get("/api/fills?limit=1000", headers={"Authorization": f"Bearer {key}"}).json()
        finally:
            chaos.stop_all()
        print(f"while PostgreSQL was down: {outage}\nonce it was back: {after}")
        assert outage == {"health": (200, None, None), "ready": (503, None, None),
                          "fills": (503, "database_unavailable", "1"), "unchecked key": (503, "database_unavailable", "1")}
        assert after == {"health": (200, None, None), "ready": (200, None, None), "fills": (200, None, None),
                         "unchecked key": (401, "unauthenticated", None)}
        assert fills > 0 and len(listed["data"]) == min(fills, 1000)
        # Released after the restart, the held batch's commit meets the cut session: the projector says so and starts over.
        released = chaos.current("projector").text().partition("fault hold-before-commit: released")[2]
        assert "projector failed (AdminShutdown" in released, "the restart did not land in the projector's transaction"
        assert chaos.kills == []
        assert [len(lives) for lives in chaos.lives.values()] == [1, 1, 1], "a process was restarted"
        chaos.finish("notary", ("run", "notary", "--namespace", prefix, "--key-dir", str(keys_dir), "--once"))
        settings = KernelSettings.parse(parse_settings(day.settings, []))
        print(f"records checked: {assert_nothing_lost(kafka_bootstrap, url, namespace, settings, schema, keys_dir, chaos)}")
    finally:
        drop_with_companions(url, schema)
