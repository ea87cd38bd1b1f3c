"""Ops' control events reach the kernel through its input topic, stamped with the partition's event time."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aitrader.cli import app
from contract.events import ConfigChanged, Tick, TradingState, TradingStateChanged
from contract.partitioner import partition_for
from contract.serde import EventCodec
from contract.topics import INPUTS, Namespace
from eventlog.consumer import LogReader, decode
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.runner import KernelRunner
from kernel.settings import KernelSettings

pytestmark = pytest.mark.infra

ROWS = "DateTime,Price,Volume\n2013-09-03 08:30:00.000,1640.25,3\n2013-09-03 08:30:01.500,1640.50,1\n"


def _inputs(bootstrap: str, namespace: Namespace) -> list:  # type: ignore[type-arg]
    topic = namespace.topic(INPUTS)
    with LogReader(bootstrap) as reader:
        return [r for batch in reader.read(topic, reader.watermarks(topic)) for r in batch]


def test_halt_lands_behind_the_ticks_with_their_event_time_and_the_kernel_obeys(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    data = tmp_path / "day.csv"
    data.write_text(ROWS)
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(data), "--namespace", namespace.prefix]).exit_code == 0
    result = runner.invoke(app, ["control", "halt", "--symbol", "ES", "--reason", "drill", "--namespace", namespace.prefix])
    assert result.exit_code == 0, result.output

    records = _inputs(kafka_bootstrap, namespace)
    codec = EventCodec()
    events = [decode(codec, r) for r in records]
    assert [type(e) for e in events] == [Tick, Tick, TradingStateChanged]
    assert {r.partition for r in records} == {partition_for("ES", INPUTS.partitions)}
    halt = events[-1]
    assert halt.event_time_ms == events[1].event_time_ms == records[-1].timestamp_ms  # not the wall clock
    assert (halt.state, halt.symbol, halt.reason) == (TradingState.HALTED, "ES", "drill")

    kernel = KernelRunner(TradingKernel(records[0].partition, KernelSettings.parse(), BaselineScorer()))
    for record in records:
        kernel.apply(record)
    assert kernel.kernel.symbols["ES"].book.trading_state is TradingState.HALTED


def test_settings_go_to_every_partition_and_bad_ones_are_refused_before_writing(
    kafka_bootstrap: str, namespace: Namespace
) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["control", "set", "risk.max_order_qty=-1", "--reason", "x", "--namespace", namespace.prefix])
    assert bad.exit_code == 2 and "risk.max_order_qty" in bad.output
    assert _inputs(kafka_bootstrap, namespace) == []

    good = runner.invoke(app, ["control", "set", "strategy.threshold=0.5", "--reason", "calmer", "--namespace", namespace.prefix])
    assert good.exit_code == 0, good.output
    records = _inputs(kafka_bootstrap, namespace)
    assert sorted(r.partition for r in records) == list(range(INPUTS.partitions))
    changes = [decode(EventCodec(), r) for r in records]
    assert all(isinstance(c, ConfigChanged) and c.settings == {"strategy.threshold": "0.5"} for c in changes)
    assert len({c.event_id for c in changes}) == INPUTS.partitions
