"""The account monitor on a real broker: fills in, a kill switch on every input partition out."""

from __future__ import annotations

from decimal import Decimal

import pytest
import typer
from typer.testing import CliRunner

from aitrader.commands.monitor import monitor
from contract.events import (
    Envelope,
    OrderFilled,
    Side,
    TradingState,
    TradingStateChanged,
)
from contract.serde import EventCodec
from contract.topics import FILLS, INPUTS, Namespace
from eventlog.consumer import LogReader, decode
from eventlog.producer import EventProducer

pytestmark = pytest.mark.infra

T0 = 1378207800000  # 2013-09-03 06:30 America/Chicago


def _fill(n: int, symbol: str, side: Side, price: str) -> OrderFilled:
    envelope = Envelope(f"fill-{n}", T0 + n, "test", None, f"sig-{n}")
    return OrderFilled(envelope, f"order-{n}", f"fill-{n}", symbol, side, Decimal(1), Decimal(price), Decimal(0), "TAKER")


def test_a_daily_loss_across_symbols_halts_every_partition(kafka_bootstrap: str, namespace: Namespace) -> None:
    producer = EventProducer(kafka_bootstrap, namespace)
    # ES only until instruments reach the monitor from the log: any other symbol is unknown to it.
    for fill in [_fill(1, "ES", Side.BUY, "1650"), _fill(2, "ES", Side.BUY, "1650"), _fill(3, "ES", Side.SELL, "1640"), _fill(4, "ES", Side.SELL, "1640")]:
        producer.send(FILLS, fill.symbol, fill)
    producer.flush()

    app = typer.Typer()
    app.command()(monitor)
    args = ["--max-daily-loss", "900", "--namespace", namespace.prefix, "--stop-at-end"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "HALTED" in result.output

    topic = namespace.topic(INPUTS)
    with LogReader(kafka_bootstrap) as reader:
        records = [r for batch in reader.read(topic, reader.watermarks(topic)) for r in batch]
    events = [decode(EventCodec(), r) for r in records]
    assert sorted(r.partition for r in records) == list(range(INPUTS.partitions))
    assert all(isinstance(e, TradingStateChanged) and e.state is TradingState.HALTED and e.symbol is None for e in events)
    # Folded on start, so the breach is re-asserted once, with the loss that caused it.
    assert {e.reason for e in events} == {"re-asserted on start: daily loss 1000 > 900"}
