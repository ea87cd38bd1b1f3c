"""The local stack and the infra fixtures, against a real broker and database.

No mocks: each test would fail if the broker config, the start/stop logic or
the fixtures were wrong. Tests about the local stack's own processes (pids,
restart) run only when the fixtures picked the local stack, and say so when not.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy
from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from typer.testing import CliRunner

from aitrader.stack import endpoints
from aitrader.stack import kafka as local_kafka
from aitrader.stack import postgres as local_postgres
from aitrader.stack.cli import stack_app
from aitrader.stack.paths import StackPaths
from tests.infra import Endpoint

# The sample data's era: a broker with time-based retention or a tight
# timestamp window would reject or delete this record.
OLD_TS_MS = int(datetime(2013, 1, 2, 14, 30, tzinfo=UTC).timestamp() * 1000)
PAYLOAD = b'{"symbol":"AAPL","px":549.03}'


def _require_local(endpoint: Endpoint) -> None:
    if endpoint.source != "local":
        pytest.skip(f"tests the local stack's processes; this session's endpoint comes from {endpoint.source}")


def _read_all(bootstrap: str, topic: str, expect: int, timeout: float = 20.0) -> list:
    """Read a 1-partition topic from offset 0 with a fresh consumer (no group offsets)."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"aitrader-test-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
    })
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        records: list = []
        deadline = time.monotonic() + timeout
        while len(records) < expect and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            records.append(msg)
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        assert (low, high) == (0, expect), "records were deleted or never written"
        return records
    finally:
        consumer.close()


def _produce_one(bootstrap: str, topic: str) -> None:
    """Write the 2013 record; the producer is gone when this returns (no reconnect noise later)."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    errors: list = []
    producer.produce(topic, key=b"AAPL", value=PAYLOAD, timestamp=OLD_TS_MS,
                     on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(30) == 0, "record not delivered within 30 s"
    assert errors == [None], f"broker rejected the 2013 record: {errors}"


@pytest.fixture(scope="module")
def old_record_topic(kafka_bootstrap: str) -> Iterator[str]:
    """A throwaway topic holding one record stamped 2013-01-02; deleted afterwards."""
    topic = f"aitrader-test-stack-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)
    try:
        _produce_one(kafka_bootstrap, topic)
        yield topic
    finally:
        # A fresh client: the restart test may have bounced the broker. Keep a
        # reference until the future resolves, or the handle dies under it.
        cleanup = AdminClient({"bootstrap.servers": kafka_bootstrap})
        cleanup.delete_topics([topic])[topic].result(timeout=30)


# ---------------------------------------------------------------- no infra


def test_server_properties_keep_old_records(tmp_path) -> None:
    text = local_kafka.server_properties(StackPaths(tmp_path))
    props = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert props["log.retention.ms"] == "-1"
    assert props["log.message.timestamp.before.max.ms"] == str(2**63 - 1)
    assert props["log.message.timestamp.type"] == "CreateTime"
    assert props["auto.create.topics.enable"] == "false"
    assert props["process.roles"] == "broker,controller"
    assert props["log.dirs"] == str(tmp_path / "kafka" / "data")
    assert "log.retention.hours" not in props


def test_endpoints_prefer_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker.test:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.test:5433/x")
    # A bare postgresql:// would make SQLAlchemy look for psycopg2.
    assert endpoints() == ("broker.test:9092", "postgresql+psycopg://u:p@db.test:5433/x")
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS")
    monkeypatch.setenv("AITRADER_KAFKA_PORT", "29092")
    assert endpoints()[0] == "127.0.0.1:29092"


# ---------------------------------------------------------------- broker


@pytest.mark.infra
def test_broker_answers_metadata(kafka_bootstrap: str) -> None:
    meta = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)
    assert meta.brokers, "metadata lists no broker"


@pytest.mark.infra
def test_record_with_2013_timestamp_round_trips(kafka_bootstrap: str, old_record_topic: str) -> None:
    [msg] = _read_all(kafka_bootstrap, old_record_topic, expect=1)
    assert msg.value() == PAYLOAD
    assert msg.key() == b"AAPL"
    assert msg.timestamp() == (TIMESTAMP_CREATE_TIME, OLD_TS_MS)


@pytest.mark.infra
def test_topics_keep_records_forever(kafka_bootstrap: str, old_record_topic: str) -> None:
    # Retention runs every 5 minutes, too slow to observe: check the effective config instead.
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, old_record_topic)
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    assert config["retention.ms"].value == "-1"


@pytest.mark.infra
def test_auto_topic_creation_is_off(kafka_bootstrap: str) -> None:
    # Topics come from the catalog; a typo must fail, not create a topic.
    topic = f"aitrader-test-typo-{uuid.uuid4().hex[:10]}"
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.timeout.ms": 1500})
    errors: list = []
    producer.produce(topic, value=b"x", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(10)
    del producer
    assert errors and errors[0] is not None
    assert topic not in AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics


# ---------------------------------------------------------------- database


@pytest.mark.infra
def test_postgres_select_1(database_url: str) -> None:
    assert database_url.startswith("postgresql+psycopg://")
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT 1")).scalar_one() == 1
            assert conn.execute(sqlalchemy.text("SELECT current_database()")).scalar_one() == "aitrader"
    finally:
        engine.dispose()


# ---------------------------------------------------------------- local stack


@pytest.mark.infra
def test_up_is_idempotent(kafka_endpoint: Endpoint, database_endpoint: Endpoint) -> None:
    _require_local(kafka_endpoint)
    paths = StackPaths.current()
    pid = local_kafka.running_pid(paths)
    assert pid is not None
    assert local_kafka.up() == kafka_endpoint.url
    assert local_kafka.running_pid(paths) == pid, "second `up` started another broker"
    if database_endpoint.source == "local":
        assert local_postgres.up() == database_endpoint.url


@pytest.mark.infra
def test_status_command_exits_0(kafka_bootstrap: str, database_url: str) -> None:
    result = CliRunner().invoke(stack_app, ["status"])
    assert result.exit_code == 0, result.output
    assert "kafka" in result.output and "postgres" in result.output


@pytest.mark.infra
def test_record_survives_down_and_up(kafka_endpoint: Endpoint, old_record_topic: str) -> None:
    """`down` must stop the broker, never the data. Kept last: it bounces the broker."""
    _require_local(kafka_endpoint)
    paths = StackPaths.current()
    old_pid = local_kafka.down()
    assert old_pid is not None
    assert local_kafka.running_pid(paths) is None
    assert local_kafka.up() == kafka_endpoint.url
    assert local_kafka.running_pid(paths) not in (None, old_pid)
    [msg] = _read_all(kafka_endpoint.url, old_record_topic, expect=1)
    assert msg.timestamp() == (TIMESTAMP_CREATE_TIME, OLD_TS_MS)
