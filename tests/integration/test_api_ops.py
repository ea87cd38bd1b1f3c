"""The ops and auditor endpoints against a real broker and PostgreSQL.

The audit stream of decoded records, the kill switch and settings over HTTP
(stamped with the partition's event time), replays run as background jobs
(one identical to live, one what-if that diverges), the kernel's lag and the
model in use on /api/status, role checks, and bad requests as 4xx with a code.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient

from api import keys
from api.app import create_app
from api.replay_jobs import FINISHED
from api.routers.replays import REPORTS_ROOT
from api.serialize import iso_time
from api.settings import ApiSettings
from contract.events import ConfigChanged, TradingState, TradingStateChanged
from contract.partitioner import partition_for
from contract.serde import EventCodec
from contract.topics import CATALOG, INPUTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader, RawRecord, decode
from eventlog.producer import EventProducer
from inference.baseline import BaselineScorer
from kernel.engine import config_hash
from processors.live.app import group_id
from processors.live.manifest import record_manifest
from projections.db import auth_schema, connect
from tests.integration.test_api import _h
from tests.integration.test_replay import (
    ES_PARTITION,
    LiveLog,
    _delete_replays,
    chicago_ms,
    publish_and_run_live,
    sample_ticks,
)
from tests.scratch import drop_with_companions, fresh_schema

pytestmark = pytest.mark.infra

ROLES = ("analyst", "auditor", "ops")
# Two hours around the 2013-09-03 session's open (2013-09-02 17:00 Chicago): 2,848 ticks, a few orders and fills.
SLICE = ("2013-09-02T15:00", "2013-09-02T19:00")
JOB_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Api:
    client: TestClient
    keys: dict[str, str]
    schema: str


@pytest.fixture(scope="module")
def schema_keys(database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    schema = fresh_schema(database_url, "test")
    with connect(database_url, auth_schema(schema)) as conn:
        made = {role: keys.create(conn, f"test {role}", role)[1] for role in ROLES}
    try:
        yield schema, made
    finally:
        drop_with_companions(database_url, schema)
        shutil.rmtree(REPORTS_ROOT / schema, ignore_errors=True)


@contextmanager
def _api(database_url: str, bootstrap: str, space: Namespace, schema_keys: tuple[str, dict[str, str]]) -> Iterator[Api]:
    schema, made = schema_keys
    settings = ApiSettings(database_url, schema, bootstrap, space, rate_per_s=10_000)
    with TestClient(create_app(settings)) as client:
        yield Api(client, made, schema)


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str) -> Iterator[LiveLog]:
    """The slice on the inputs, the live kernel's outputs beside it, and a run manifest."""
    space = Namespace(f"test.ops.{secrets.token_hex(4)}.")
    with ExitStack() as cleanup:
        admin = TopicAdmin(kafka_bootstrap, space)
        cleanup.callback(_delete_replays, kafka_bootstrap, space)  # the replay jobs' topics
        cleanup.callback(admin.delete, CATALOG)
        admin.create()
        log = publish_and_run_live(kafka_bootstrap, space, sample_ticks(*(chicago_ms(t) for t in SLICE)))
        record_manifest(kafka_bootstrap, space, {}, BaselineScorer())  # stamped with the inputs' latest event time
        yield log


@pytest.fixture(scope="module")
def api(kafka_bootstrap: str, database_url: str, live: LiveLog, schema_keys: tuple[str, dict[str, str]]) -> Iterator[Api]:
    with _api(database_url, kafka_bootstrap, live.namespace, schema_keys) as made:
        yield made


def _lines(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def _audit(api: Api, **query: Any) -> Any:
    return api.client.get("/api/audit/events", params=query, headers=_h(api.keys["auditor"]))


# --- the auditors' event stream -------------------------------------------------


def test_an_auditor_reads_decoded_records_by_offset_in_log_order(api: Api, live: LiveLog) -> None:
    lines = _lines(_audit(api, topic="inputs", partition=ES_PARTITION, from_offset=10, to_offset=15))
    assert [(l["partition"], l["offset"]) for l in lines] == [(ES_PARTITION, o) for o in range(10, 15)]
    first = lines[0]
    assert first["topic"] == live.namespace.topic(INPUTS) and first["type"] == "Tick" and first["key"] == "ES"
    assert set(first) >= {"timestamp_ms", "headers", "schema_fingerprint", "event"}
    assert first["event"]["envelope"]["event_time_ms"] == first["timestamp_ms"]
    assert first["event"]["price"] and isinstance(first["event"]["price"], str)

    orders = _lines(_audit(api, topic="orders"))
    assert len(orders) == 4 and [l["offset"] for l in orders] == sorted(l["offset"] for l in orders)
    assert {l["type"] for l in orders} == {"OrderInitialized", "OrderAccepted"}
    assert all(l["event"]["envelope"]["causation_id"] and l["event"]["envelope"]["correlation_id"] for l in orders)

    capped = _audit(api, topic="inputs", limit=3)
    assert [l["offset"] for l in _lines(capped)] == [0, 1, 2]
    assert json.loads(capped.headers["X-Offset-Ranges"]) == {"0": [0, 0], "1": [0, 3], "2": [0, 0]}


def test_an_auditor_reads_an_event_time_window(api: Api) -> None:
    head = _lines(_audit(api, topic="inputs", partition=ES_PARTITION, to_offset=400))
    start, end = head[100]["timestamp_ms"], head[300]["timestamp_ms"]
    chicago = lambda ms: iso_time(ms).replace("Z", "+00:00")  # noqa: E731 - a zone other than Z
    window = _lines(_audit(api, topic="inputs", from_time=chicago(start), to_time=iso_time(end), limit=1000))
    assert [l["offset"] for l in window] == [l["offset"] for l in head if start <= l["timestamp_ms"] < end]
    assert window[0]["timestamp_ms"] == start and window[-1]["timestamp_ms"] < end


# --- roles --------------------------------------------------------------------

STATE = {"state": "HALTED", "symbol": "ES", "reason": "role check"}
ENDPOINTS = [
    ("GET", "/api/audit/events?topic=inputs&limit=1", None, {"auditor"}),
    ("POST", "/api/control/trading-state", STATE, {"ops"}),
    ("POST", "/api/control/settings", {"settings": {"strategy.threshold": "0.4"}, "reason": "role check"}, {"ops"}),
    ("POST", "/api/replays", {"day": "2013-09-03"}, {"ops"}),
    ("GET", "/api/replays", None, {"ops", "auditor"}),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_only_the_right_roles_get_in(api: Api, method: str, path: str, body: Any, allowed: set[str]) -> None:
    missing = api.client.request(method, path, json=body)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthenticated"
    for role in set(ROLES) - allowed:
        refused = api.client.request(method, path, json=body, headers=_h(api.keys[role]))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden", (role, refused.text)
    if method == "GET":  # the POSTs with an allowed key write to the log: their own tests do that
        for role in allowed:
            assert api.client.get(path, headers=_h(api.keys[role])).status_code == 200


# --- bad requests -------------------------------------------------------------

AUDIT_BAD = [
    ({"topic": "secrets"}, 400, "unknown_topic"),
    ({"topic": "inputs", "partition": 3}, 400, "partition_out_of_range"),
    ({"topic": "inputs", "partition": "one"}, 400, "bad_parameter"),
    ({"topic": "inputs", "from_offset": 5, "from_time": "2013-09-02T22:00:00Z"}, 400, "conflicting_range"),
    ({"topic": "inputs", "to_offset": 5, "to_time": "2013-09-02T22:00:00Z"}, 400, "conflicting_range"),
    ({"topic": "inputs", "from_offset": 9, "to_offset": 3}, 400, "inverted_offset_range"),
    ({"topic": "inputs", "from_time": "2013-09-03T00:00:00Z", "to_time": "2013-09-02T00:00:00Z"}, 400, "inverted_time_range"),
    ({"topic": "inputs", "from_time": "2013-09-03T00:00:00"}, 400, "time_zone_required"),
    ({"topic": "inputs", "to_time": "tomorrow"}, 400, "bad_time"),
    ({"topic": "inputs", "from_offset": -1}, 400, "bad_offset"),
    ({"topic": "inputs", "limit": 0}, 400, "limit_out_of_range"),
    ({"topic": "inputs", "limit": 10**6}, 400, "limit_out_of_range"),
    ({}, 400, "bad_parameter"),
]


@pytest.mark.parametrize(("query", "status", "code"), AUDIT_BAD)
def test_bad_audit_queries_get_a_4xx_with_a_reason(api: Api, query: dict[str, Any], status: int, code: str) -> None:
    response = _audit(api, **query)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text


def test_odd_but_valid_audit_queries_answer_without_a_500(api: Api) -> None:
    odd = [
        {"topic": "inputs", "from_time": "0001-01-01T00:00:00-12:00", "limit": 2},
        {"topic": "inputs", "from_time": "9999-12-31T23:59:59+14:00"},
        {"topic": "fills", "from_offset": 10**12},
        {"topic": "audit.checkpoints"},
    ]
    counts = [len(_lines(_audit(api, **query))) for query in odd]
    assert counts == [2, 0, 0, 0]


POSTS_BAD = [
    ("/api/control/trading-state", {"state": "PANIC", "reason": "x"}, 400, "bad_parameter"),
    ("/api/control/trading-state", {"state": "HALTED"}, 400, "bad_parameter"),
    ("/api/control/trading-state", {"state": "HALTED", "reason": ""}, 400, "bad_parameter"),
    ("/api/control/trading-state", {"state": "HALTED", "reason": "x", "symbol": "es!"}, 400, "bad_symbol"),
    ("/api/control/settings", {"settings": {"risk.max_order_qty": "-1"}, "reason": "x"}, 422, "settings_refused"),
    ("/api/control/settings", {"settings": {"colour": "red"}, "reason": "x"}, 422, "settings_refused"),
    ("/api/control/settings", {"settings": {}, "reason": "x"}, 400, "bad_parameter"),
    ("/api/replays", {}, 400, "bad_replay_range"),
    ("/api/replays", {"day": "2013-09-03", "from_offsets": {"1": 5}}, 400, "bad_replay_range"),
    ("/api/replays", {"from_offsets": {"1": 5}, "to_offsets": {"1": 2}}, 400, "inverted_offset_range"),
    ("/api/replays", {"from_offsets": {"1": 5}, "to_offsets": {"2": 9}}, 400, "bad_offsets"),
    ("/api/replays", {"from_offsets": {"one": 5}}, 400, "bad_offsets"),
    ("/api/replays", {"to_offsets": {"1": 5}, "day": "2013-09-03"}, 400, "bad_replay_range"),
    ("/api/replays", {"day": "Sept 3"}, 400, "bad_date"),
    ("/api/replays", {"day": "2013-09-03", "into": "../etc"}, 400, "bad_into"),
    ("/api/replays", {"day": "2013-09-03", "symbols": ["es"]}, 400, "bad_symbol"),
    ("/api/replays", {"day": "2013-09-03", "set": {"strategy.threshold": "7"}}, 422, "settings_refused"),
    ("/api/replays", {"day": "2013-09-03", "speed": "ludicrous"}, 400, "bad_parameter"),
    ("/api/replays", {"day": "2013-09-03", "model": "baseline"}, 400, "bad_model"),
]


@pytest.mark.parametrize(("path", "body", "status", "code"), POSTS_BAD)
def test_bad_control_and_replay_requests_are_refused_before_anything_is_written(
    api: Api, live: LiveLog, kafka_bootstrap: str, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    with LogReader(kafka_bootstrap) as reader:
        before = reader.watermarks(live.namespace.topic(INPUTS))
        response = api.client.post(path, json=body, headers=_h(api.keys["ops"]))
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
        assert reader.watermarks(live.namespace.topic(INPUTS)) == before


def test_unknown_and_malformed_replay_ids(api: Api) -> None:
    key = _h(api.keys["ops"])
    unknown = api.client.get("/api/replays/00000000-0000-5000-8000-000000000000", headers=key)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert api.client.get("/api/replays/42", headers=key).json()["error"]["code"] == "bad_id"


# --- control ------------------------------------------------------------------


def _records(bootstrap: str, topic: str) -> list[RawRecord]:
    with LogReader(bootstrap) as reader:
        return [r for batch in reader.read(topic, reader.watermarks(topic)) for r in batch]


def test_control_writes_events_stamped_with_the_partitions_event_time(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, schema_keys: tuple[str, dict[str, str]]
) -> None:
    ticks = sample_ticks(chicago_ms("2013-09-03T08:30"), chicago_ms("2013-09-03T08:31"))
    producer = EventProducer(kafka_bootstrap, namespace)
    for tick in ticks:
        producer.send(INPUTS, tick.symbol, tick)
    producer.flush()
    topic = namespace.topic(INPUTS)
    with _api(database_url, kafka_bootstrap, namespace, schema_keys) as api:
        key = _h(api.keys["ops"])
        halted = api.client.post("/api/control/trading-state", json={"state": "HALTED", "symbol": "ES", "reason": "drill"}, headers=key)
        refused = api.client.post("/api/control/settings", json={"settings": {"strategy.threshold": "2"}, "reason": "x"}, headers=key)
        written = _records(kafka_bootstrap, topic)
        changed = api.client.post("/api/control/settings", json={"settings": {"strategy.threshold": "0.5"}, "reason": "calmer"}, headers=key)
    assert halted.status_code == 202, halted.text
    (sent,) = halted.json()["events"]
    assert sent["partition"] == partition_for("ES", INPUTS.partitions) == ES_PARTITION
    codec = EventCodec()
    halt = decode(codec, written[-1])
    assert isinstance(halt, TradingStateChanged) and halt.event_id == sent["event_id"]
    assert (halt.state, halt.symbol, halt.reason, halt.actor) == (TradingState.HALTED, "ES", "drill", "test ops")
    assert halt.event_time_ms == written[-1].timestamp_ms == ticks[-1].event_time_ms  # the partition's time, not now
    assert sent["event_time"] == iso_time(ticks[-1].event_time_ms)

    assert refused.status_code == 422 and "strategy.threshold" in refused.json()["error"]["message"]
    assert len(written) == len(ticks) + 1  # the refusal wrote nothing
    assert changed.status_code == 202
    events = changed.json()["events"]
    assert sorted(e["partition"] for e in events) == list(range(INPUTS.partitions))
    seen = {(r.partition, r.offset) for r in written}
    new = [r for r in _records(kafka_bootstrap, topic) if (r.partition, r.offset) not in seen]
    configs = [decode(codec, r) for r in new]
    assert all(isinstance(c, ConfigChanged) and c.settings == {"strategy.threshold": "0.5"} and c.actor == "test ops" for c in configs)
    assert {c.event_id for c in configs} == {e["event_id"] for e in events}
    times = {e["partition"]: e["event_time_ms"] for e in events}
    # Empty partitions take the log's latest event time: a timestamp of 0 would be stamped with the wall clock.
    assert times[ES_PARTITION] == times[0] == times[2] == ticks[-1].event_time_ms
    assert {r.timestamp_ms for r in new} == {ticks[-1].event_time_ms}


def test_undecodable_records_are_lines_that_say_why(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, schema_keys: tuple[str, dict[str, str]]
) -> None:
    producer = EventProducer(kafka_bootstrap, namespace)
    producer.send_raw(namespace.topic(INPUTS), b"ES", b"not avro", 1378159200000, partition=0)
    producer.flush()
    with _api(database_url, kafka_bootstrap, namespace, schema_keys) as api:
        (line,) = _lines(_audit(api, topic="inputs"))
    assert (line["partition"], line["offset"], line["timestamp_ms"]) == (0, 0, 1378159200000)
    assert line["undecodable"] and "event" not in line


# --- replays ------------------------------------------------------------------


def _finished(api: Api, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        job = api.client.get(location, headers=_h(api.keys["auditor"])).json()
        if job["state"] in FINISHED or time.monotonic() > deadline:
            return job
        time.sleep(0.25)


def test_replay_jobs_run_in_the_background_and_report_identical_or_diverged(api: Api, live: LiveLog) -> None:
    key = _h(api.keys["ops"])
    same = api.client.post("/api/replays", json={"day": "2013-09-03", "into": "api-same", "symbols": ["ES"]}, headers=key)
    what_if = api.client.post(
        "/api/replays", json={"day": "2013-09-03", "into": "api-whatif", "set": {"strategy.threshold": "1"}, "compare": True}, headers=key
    )
    assert same.status_code == what_if.status_code == 202, (same.text, what_if.text)
    assert same.headers["Location"] == f"/api/replays/{same.json()['id']}"
    assert same.json()["state"] in ("queued", "running") and what_if.json()["state"] == "queued"  # one at a time

    done = _finished(api, same.headers["Location"])
    assert done["state"] == "succeeded", done
    assert done["exit_code"] == 0 and done["result"]["compared"] is True and done["result"]["identical"] is True
    digests = done["result"]["digests"]
    assert digests["fills"]["live"] == digests["fills"]["replay"] and digests["fills"]["live"]["events"] == 2
    assert done["inputs"][str(ES_PARTITION)]["start"] == 0 and done["inputs"][str(ES_PARTITION)]["end"] == live.inputs
    assert done["replay_topics"] == f"{live.namespace.prefix}replay.api-same.*"
    assert {"report.json", "fills.csv", "replay.log"} <= set(done["report"]["files"])
    assert done["timing"]["seconds"] > 0 and done["timing"]["finished_at"].endswith("Z")

    diverged = _finished(api, what_if.headers["Location"])
    assert diverged["state"] == "diverged", diverged
    # The day starts at the log's first tick, where the kernel announces the settings it starts with: the what-if's
    # differ, so that announcement is the first difference; the intents differ too.
    assert diverged["result"]["identical"] is False and diverged["result"]["first_divergence"]["topic"] == "control"
    intents = diverged["result"]["digests"]["intents"]
    assert intents["live"]["sha256"] != intents["replay"]["sha256"]
    assert diverged["request"]["overrides"] == {"strategy.threshold": "1"}
    listed = api.client.get("/api/replays", headers=key).json()["data"]
    assert [j["id"] for j in listed] == [same.json()["id"], what_if.json()["id"]]


def test_a_replay_the_log_does_not_allow_fails_with_the_commands_reason(api: Api) -> None:
    response = api.client.post("/api/replays", json={"from_offsets": {str(ES_PARTITION): 100}}, headers=_h(api.keys["ops"]))
    assert response.status_code == 202
    job = _finished(api, response.headers["Location"])
    assert job["state"] == "failed" and job["exit_code"] == 2
    assert "no kernel snapshot right before input offset 100" in " ".join(job["error"].split())


# --- status -------------------------------------------------------------------


def test_status_shows_the_kernels_lag_and_the_model_in_use(api: Api, live: LiveLog, kafka_bootstrap: str) -> None:
    group = group_id(live.namespace)
    before = api.client.get("/api/status", headers=_h(api.keys["ops"])).json()
    assert before["kernel_lag"]["group"] == group
    assert before["kernel_lag"]["records"] == live.inputs  # the group never committed
    committer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        committer.commit(offsets=[TopicPartition(live.namespace.topic(INPUTS), ES_PARTITION, live.inputs - 7)], asynchronous=False)
    finally:
        committer.close()
    after = api.client.get("/api/status", headers=_h(api.keys["auditor"])).json()
    es = next(p for p in after["kernel_lag"]["partitions"] if p["partition"] == ES_PARTITION)
    assert (es["committed"], es["end_offset"], es["lag"]) == (live.inputs - 7, live.inputs, 7)
    assert after["kernel_lag"]["records"] == 7
    running = after["model_in_use"]
    assert running["model"]["name"] == "baseline" and running["model"]["sha256"] == BaselineScorer().sha256
    assert running["config_hash"] == config_hash({})
    last_tick = _lines(_audit(api, topic="inputs", from_offset=live.inputs - 1))[0]["timestamp_ms"]
    assert running["recorded_at"] == iso_time(last_tick)
