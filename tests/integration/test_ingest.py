"""``aitrader ingest`` on a real broker: idempotent per (venue, symbol), several files merged in time, never late."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from aitrader.cli import app
from contract.events import Envelope, Tick
from contract.partitioner import partition_for
from contract.serde import EventCodec
from contract.topics import INPUTS, Namespace
from eventlog.consumer import LogReader, RawRecord, decode
from eventlog.ingest import read_ticks
from eventlog.producer import EventProducer
from eventlog.sampledata import write_multi_symbol_day
from tests.seed import sample_slice

pytestmark = pytest.mark.infra

ES_PARTITION = partition_for("ES", INPUTS.partitions)


def _ingest(namespace: Namespace, *args: str) -> Result:
    return CliRunner().invoke(app, ["ingest", *args, "--namespace", namespace.prefix])


def _records(bootstrap: str, namespace: Namespace) -> dict[int, list[RawRecord]]:
    topic = namespace.topic(INPUTS)
    with LogReader(bootstrap) as reader:
        marks = reader.watermarks(topic)
        found: dict[int, list[RawRecord]] = {p: [] for p in marks}
        for batch in reader.read(topic, marks):
            found[batch[0].partition] += batch
    return found


def _ends(bootstrap: str, namespace: Namespace) -> dict[int, int]:
    with LogReader(bootstrap) as reader:
        return {p: high for p, (_, high) in reader.watermarks(namespace.topic(INPUTS)).items()}


def test_the_same_file_ingested_twice_is_written_once(kafka_bootstrap: str, namespace: Namespace, tmp_path: Path) -> None:
    path = sample_slice(tmp_path, "es_first_20000.csv", 0, 20_000)
    first = _ingest(namespace, str(path))
    assert first.exit_code == 0, first.output
    assert "published 20,000 ticks" in first.output
    again = _ingest(namespace, str(path))
    assert again.exit_code == 0, again.output
    assert "ES: all 20,000 ticks already on the log; nothing to write" in again.output
    assert "published 0 ticks" in again.output
    assert _ends(kafka_bootstrap, namespace) == {p: (20_000 if p == ES_PARTITION else 0) for p in range(INPUTS.partitions)}


def test_a_file_cut_in_half_then_the_whole_file_writes_exactly_the_missing_half(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    half = sample_slice(tmp_path / "cut", "es.csv", 0, 10_000)  # same name: same ids for the same lines
    whole = sample_slice(tmp_path / "whole", "es.csv", 0, 20_000)
    assert _ingest(namespace, str(half)).exit_code == 0
    result = _ingest(namespace, str(whole))
    assert result.exit_code == 0, result.output
    last_of_half = list(read_ticks(half))[-1]
    assert f"ES: resuming after sequence {last_of_half.sequence}" in result.output
    assert "10,000 of 20,000 ticks to write" in result.output
    assert "published 10,000 ticks" in result.output

    codec = EventCodec()
    on_log = [decode(codec, r) for r in _records(kafka_bootstrap, namespace)[ES_PARTITION]]
    assert on_log == list(read_ticks(whole))  # every tick once, in order, with the ids a single load gives


def test_files_of_symbols_sharing_a_partition_go_in_together_in_time_order(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    day = write_multi_symbol_day(tmp_path / "day", until="2013-09-01 19:00")  # ~5,600 ES rows
    result = _ingest(namespace, *day.ingest_args(), "--settings", str(day.settings))
    assert result.exit_code == 0, result.output

    codec = EventCodec()
    records = _records(kafka_bootstrap, namespace)
    symbols = {p: {decode(codec, r).symbol for r in rs} for p, rs in records.items()}  # type: ignore[attr-defined]
    assert symbols[ES_PARTITION] == {"ES", "SYN_NQ"}  # SYN_SP500_ETF waits for NYSE's open on 9/3
    assert symbols[partition_for("SYN_ZN", INPUTS.partitions)] == {"SYN_ZN"}
    for partition, rs in records.items():
        stamps = [r.timestamp_ms for r in rs]
        assert stamps == sorted(stamps), f"timestamps go down on partition {partition}"
    written = sum(len(rs) for rs in records.values())
    assert written > 8_000
    assert f"published {written:,} ticks" in result.output


def test_ticks_older_than_their_partition_are_refused_whole_before_anything_is_written(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    later_es = sample_slice(tmp_path, "es_later.csv", 10_000, 20_000)  # from 2013-09-01 20:44 CT
    assert _ingest(namespace, str(later_es)).exit_code == 0
    day = write_multi_symbol_day(tmp_path / "day", until="2013-09-01 18:00")  # SYN_NQ from 17:00, same partition
    nq = dict(day.files)["SYN_NQ"]
    result = _ingest(namespace, f"SYN_NQ={nq}", "--settings", str(day.settings))
    assert result.exit_code == 1, result.output  # refused by what the log holds: a failure, not a usage error
    assert "late" in result.output and "together" in result.output and "nothing was written" in result.output
    assert _ends(kafka_bootstrap, namespace)[ES_PARTITION] == 10_000


@pytest.mark.parametrize("form", ["SYMBOL=FILE", "--symbol"])
def test_an_unknown_symbol_is_refused_naming_the_settings_to_define(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path, form: str
) -> None:
    path = sample_slice(tmp_path, "foo.csv", 0, 100)
    args = [f"FOO={path}"] if form == "SYMBOL=FILE" else ["--symbol", "FOO", str(path)]
    result = _ingest(namespace, *args)
    assert result.exit_code == 2, result.output
    assert "instrument.FOO.venue" in result.output and "--settings" in result.output
    assert sum(_ends(kafka_bootstrap, namespace).values()) == 0


def test_a_log_holding_line_number_sequences_is_refused_not_loaded_twice(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    path = sample_slice(tmp_path, "es.csv", 0, 100)
    legacy = next(read_ticks(path))
    old = Tick(Envelope(legacy.event_id, legacy.event_time_ms, "ingest/0.0.0", None, legacy.event_id), "ES", "CME", 2, legacy.price, legacy.size)
    producer = EventProducer(kafka_bootstrap, namespace)
    producer.send(INPUTS, "ES", old)
    producer.flush()
    result = _ingest(namespace, str(path))
    assert result.exit_code == 1, result.output  # refused by what the log holds
    assert "sequence 2" in result.output and "line number" in result.output
    assert _ends(kafka_bootstrap, namespace)[ES_PARTITION] == 1
