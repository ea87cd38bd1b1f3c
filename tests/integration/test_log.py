"""The log on a real broker: topic catalog, ingest, read-back by time, bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
)
from typer.testing import CliRunner

from aitrader.cli import app
from contract.events import Tick
from contract.ids import id_from_parts
from contract.partitioner import partition_for
from contract.sequencing import sequence_time_ms
from contract.serde import EventCodec
from contract.topics import CATALOG, INPUTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader, decode
from eventlog.ingest import SAMPLE_DAY as SAMPLE

pytestmark = pytest.mark.infra

CHICAGO_2013_09_03 = 1378184400000  # 2013-09-03 00:00 America/Chicago (CDT, UTC-5)
CHICAGO_2013_09_04 = CHICAGO_2013_09_03 + 86_400_000


def test_topic_creation_is_idempotent_and_reports_drift(kafka_bootstrap: str, namespace: Namespace) -> None:
    admin = TopicAdmin(kafka_bootstrap, namespace)
    assert admin.create() == []  # the fixture created them already
    states = admin.state()
    assert [s.broker_name for s in states] == [namespace.topic(s) for s in CATALOG]
    assert all(s.exists and not s.drift for s in states)
    assert all(s.partitions == s.spec.partitions for s in states)

    resource = ConfigResource(
        ConfigResource.Type.TOPIC,
        namespace.topic(INPUTS),
        incremental_configs=[ConfigEntry("retention.ms", "604800000", incremental_operation=AlterConfigOpType.SET)],
    )
    client = AdminClient({"bootstrap.servers": kafka_bootstrap})  # kept alive until the futures resolve
    for future in client.incremental_alter_configs([resource]).values():
        future.result()
    drifted = {s.broker_name: s.drift for s in admin.state() if s.drift}
    assert drifted == {namespace.topic(INPUTS): ("retention.ms=604800000 (catalog -1)",)}
    result = CliRunner().invoke(app, ["topics", "create", "--namespace", namespace.prefix])
    assert result.exit_code == 1
    assert "drift" in result.output


def test_ingest_puts_the_whole_day_on_the_log_and_a_time_window_reads_back_exactly(
    kafka_bootstrap: str, namespace: Namespace
) -> None:
    result = CliRunner().invoke(app, ["ingest", str(SAMPLE), "--namespace", namespace.prefix])
    assert result.exit_code == 0, result.output
    assert "published 500,000 ticks" in result.output

    topic = namespace.topic(INPUTS)
    codec = EventCodec()
    with LogReader(kafka_bootstrap) as reader:
        marks = reader.watermarks(topic)
        partition = partition_for("ES", INPUTS.partitions)  # librdkafka's murmur2_random agrees with Java's
        assert {p: high for p, (_, high) in marks.items()} == {
            p: (500_000 if p == partition else 0) for p in range(INPUTS.partitions)
        }
        window = reader.window(topic, CHICAGO_2013_09_03, CHICAGO_2013_09_04)
        records = [r for batch in reader.read(topic, window) for r in batch]

    assert len(records) == 433_679
    ticks = [decode(codec, r) for r in records]
    assert all(isinstance(t, Tick) for t in ticks)
    assert all(CHICAGO_2013_09_03 <= t.event_time_ms < CHICAGO_2013_09_04 for t in ticks)
    assert all(r.timestamp_ms == t.event_time_ms for r, t in zip(records, ticks))
    sequences = [t.sequence for t in ticks]
    assert sequences == sorted(set(sequences))  # one tick per sequence, in log order
    assert all(sequence_time_ms(t.sequence) == t.event_time_ms for t in ticks)

    # The first tick of the window is the file's first row dated 2013-09-03 (ids come from file and line).
    with gzip.open(SAMPLE, "rt") as lines:
        first_line = next((n, line) for n, line in enumerate(lines, start=1) if line.startswith("2013-09-03"))
    assert ticks[0].event_id == id_from_parts("tick", SAMPLE.name, "ES", first_line[0])
    assert first_line[1].strip().endswith(f",{ticks[0].price.normalize()},{ticks[0].size.normalize()}")


def test_a_bad_row_stops_the_load_with_its_line_number_and_writes_nothing(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "DateTime,Price,Volume\n"
        "2013-09-01 17:00:00.083,1640.25,8\n"
        "2013-09-01 17:00:00.084,1640.50,1\n"
        "2013-09-01 17:00:00.085,oops,1\n"
        "2013-09-01 17:00:00.086,1640.75,2\n"
    )
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(bad), "--namespace", namespace.prefix])
    assert result.exit_code == 1  # a bad row in the file: a failure, not a usage error
    assert "line 4" in result.output and "nothing was written" in result.output
    with LogReader(kafka_bootstrap) as reader:
        assert sum(high for _, high in reader.watermarks(namespace.topic(INPUTS)).values()) == 0

    result = runner.invoke(app, ["ingest", str(bad), "--namespace", namespace.prefix, "--skip-bad"])
    assert result.exit_code == 0, result.output
    assert "published 3 ticks (1 bad rows skipped)" in result.output
    with LogReader(kafka_bootstrap) as reader:
        assert sum(high for _, high in reader.watermarks(namespace.topic(INPUTS)).values()) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "fast"], "--speed takes a positive number"),
        (["--tz", "America/Chicago"], "No such option"),  # the instrument's venue decides the zone
        (["--symbol", "E S"], "unknown instrument 'E S'"),
    ],
)
def test_bad_cli_arguments_get_a_clear_error(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(SAMPLE), *args])
    assert result.exit_code == 2
    assert message in result.output
