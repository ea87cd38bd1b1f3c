"""SASL/SCRAM and ACLs on a real Kafka 3.9 (KRaft) broker: who may write the log, and who is refused.

One secured broker per session (``aitrader stack up --secure``, beside the open
one), the ACL matrix of ``aitrader/acl.py`` for a private namespace, and every
client logging in the way a service does: ``KAFKA_SECURITY_PROTOCOL``,
``KAFKA_SASL_USERNAME`` and ``KAFKA_SASL_PASSWORD_FILE``. On the open broker
every write below succeeds and every login "works": each refusal is the ACLs'
or SCRAM's doing.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from fastapi.testclient import TestClient

from aitrader import acl
from aitrader.stack import kafka as local_kafka
from aitrader.stack import secure
from aitrader.stack.paths import StackPaths
from api import keys
from api.app import create_app
from api.settings import ApiSettings
from contract.partitioner import partition_for
from contract.topics import CATALOG, INPUTS, SIGNALS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader
from eventlog.kafka_security import KafkaSecurity, client_config
from eventlog.producer import DeliveryError, EventProducer
from projections.db import auth_schema, connect
from tests.scratch import drop_with_companions, fresh_schema

pytestmark = pytest.mark.infra
EVENT_TIME_MS = 1_378_000_000_000  # 2013: the log's era


@dataclass(frozen=True)
class Secured:
    bootstrap: str
    paths: StackPaths
    namespace: Namespace

    def env(self, principal: str, password_file: Path | None = None) -> dict[str, str]:
        return {
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "KAFKA_SASL_USERNAME": principal,
            "KAFKA_SASL_PASSWORD_FILE": str(password_file or secure.password_file(self.paths, principal)),
        }


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


@pytest.fixture(scope="session")
def secured() -> Iterator[Secured]:
    paths = StackPaths.current(secure=True)
    was_running = local_kafka.running_pid(paths) is not None
    bootstrap = local_kafka.up(secured=True)
    space = Namespace(f"sec.{secrets.token_hex(4)}.")
    world = Secured(bootstrap, paths, space)
    secure.ensure_acls(secure.admin_client(paths), acl.grants(space))
    with environment(world.env(acl.ADMIN)):
        admin = TopicAdmin(bootstrap, space)
        admin.create()
    try:
        yield world
    finally:
        with environment(world.env(acl.ADMIN)):
            admin.delete(CATALOG)
        if not was_running:
            local_kafka.down(secured=True)


def write(secured: Secured, principal: str, topic: str) -> None:
    """One record onto ``topic`` as ``principal``; DeliveryError when the broker refuses it."""
    with environment(secured.env(principal)):
        producer = EventProducer(secured.bootstrap, secured.namespace)
    producer.send_raw(topic, b"ES", b"payload", EVENT_TIME_MS)
    producer.flush(timeout_s=20)


def login_errors(bootstrap: str, security: KafkaSecurity) -> list[KafkaError]:
    """The errors a client reports while asking for metadata (none when it logs in)."""
    errors: list[KafkaError] = []
    client = AdminClient({**client_config(bootstrap, security), "error_cb": errors.append, "log_level": 0})
    try:
        client.list_topics(timeout=5)
    except KafkaException as exc:
        errors.append(exc.args[0])
    client.poll(1)  # serves error_cb
    return errors


@pytest.mark.parametrize("principal", [acl.INGEST, acl.OPS])
def test_ingest_and_ops_may_write_inputs(secured: Secured, principal: str) -> None:
    write(secured, principal, secured.namespace.topic(INPUTS))


@pytest.mark.parametrize("principal", [acl.API, acl.PROJECTOR, acl.KERNEL, acl.NOTARY])
def test_every_other_principal_is_refused_on_inputs(secured: Secured, principal: str) -> None:
    with pytest.raises(DeliveryError, match="Topic authorization failed"):
        write(secured, principal, secured.namespace.topic(INPUTS))


def test_the_kernel_writes_what_it_derives(secured: Secured) -> None:
    write(secured, acl.KERNEL, secured.namespace.topic(SIGNALS))
    with pytest.raises(DeliveryError, match="Topic authorization failed"):
        write(secured, acl.INGEST, secured.namespace.topic(SIGNALS))


def test_readers_read_what_was_written(secured: Secured) -> None:
    topic = secured.namespace.topic(INPUTS)
    write(secured, acl.OPS, topic)
    with environment(secured.env(acl.PROJECTOR)), LogReader(secured.bootstrap) as reader:
        ranges = reader.watermarks(topic)
        records = [r for batch in reader.read(topic, ranges) for r in batch]
    assert records and all(r.value == b"payload" for r in records)


def test_a_wrong_password_is_refused(secured: Secured, tmp_path: Path) -> None:
    wrong = tmp_path / "ingest.password"
    wrong.write_text("not-the-password\n")
    with environment(secured.env(acl.INGEST, wrong)):
        errors = login_errors(secured.bootstrap, KafkaSecurity.from_env())
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors


def test_no_credentials_get_no_answer(secured: Secured) -> None:
    errors = login_errors(secured.bootstrap, KafkaSecurity())
    assert errors, "an unauthenticated client got metadata from the secured broker"


@pytest.fixture(scope="module")
def ops_key(database_url: str) -> Iterator[tuple[str, str]]:
    """A scratch read-model schema and an ops API key in it."""
    schema = fresh_schema(database_url, "creds")
    with connect(database_url, auth_schema(schema)) as conn:
        key = keys.create(conn, "creds ops", "ops")[1]
    try:
        yield schema, key
    finally:
        drop_with_companions(database_url, schema)


@pytest.mark.parametrize("with_control_login", [True, False])
def test_the_apis_control_endpoints_write_inputs_with_the_control_login_only(
    secured: Secured, database_url: str, ops_key: tuple[str, str], with_control_login: bool
) -> None:
    """The API reads as `api`, which may not write `inputs`; its kill switch writes as ops or not at all."""
    schema, key = ops_key
    login = KafkaSecurity.from_env(secured.env(acl.OPS)) if with_control_login else None
    settings = ApiSettings(database_url, schema, secured.bootstrap, secured.namespace, control_login=login)
    with environment(secured.env(acl.API)), TestClient(create_app(settings)) as client:
        answer = client.post(
            "/api/control/trading-state",
            json={"state": "HALTED", "symbol": "ES", "reason": "credentials drill"},
            headers={"X-API-Key": key},
        )
    if with_control_login:
        assert answer.status_code == 202, answer.text
        assert answer.json()["events"][0]["partition"] == partition_for("ES", INPUTS.partitions)
    else:
        assert answer.status_code == 503, answer.text
        assert "Topic authorization failed" in answer.json()["error"]["message"]
