"""The read side takes instruments from the log: projections and the account monitor on the multi-symbol day.

Before, the projector and the monitor built an empty context: every symbol got
ES's multiplier (50) and the CME calendar whatever the kernel was configured
with. Here the kernels announce their settings (``ConfigApplied``) and the read
side must value each fill exactly as its kernel booked it: SYN_NQ at 20 a point,
SYN_ZN at 1,000, the NYSE symbol's days by the NYSE calendar.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

import pytest

from contract.events import OrderFilled
from contract.serde import EventCodec
from contract.topics import CATALOG, FILLS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader, decode
from marketdata.synthetic import DEFAULT_SYMBOLS
from oms.account import AccountLimits, AccountMonitor
from processors.live.monitor import AccountWatch, Detection
from projections.db import connect
from projections.projector import Projector
from tests.multi_symbol_day import SETTINGS, partition_inputs
from tests.scratch import drop_with_companions, fresh_schema
from tests.seed import SeedReport, seed_partitions

MULTIPLIERS = {d.symbol: d.multiplier for d in DEFAULT_SYMBOLS}

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def day(kafka_bootstrap: str) -> Iterator[tuple[Namespace, SeedReport]]:
    space = Namespace(f"test.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    try:
        yield space, seed_partitions(kafka_bootstrap, space, partition_inputs(every=28), SETTINGS)
    finally:
        admin.delete(CATALOG)


def test_projections_value_every_symbol_as_its_kernel_booked_it(
    kafka_bootstrap: str, database_url: str, day: tuple[Namespace, SeedReport]
) -> None:
    space, seeded = day
    schema = fresh_schema(database_url, "ref")
    try:
        Projector(kafka_bootstrap, database_url, schema, space).run(stop_at_end=True)
        with connect(database_url, schema) as conn:
            realized = dict(conn.execute("SELECT symbol, state->>'realized_pnl' FROM positions WHERE state IS NOT NULL").fetchall())
            days = conn.execute("SELECT symbol, array_agg(DISTINCT trading_day ORDER BY trading_day) FROM fills GROUP BY symbol").fetchall()
    finally:
        drop_with_companions(database_url, schema)
    books = {s: state.book for kernel in seeded.kernels.values() for s, state in kernel.symbols.items()}
    assert set(realized) == {"ES", "SYN_NQ", "SYN_SP500_ETF", "SYN_YM", "SYN_ZN"}
    assert {s: Decimal(v) for s, v in realized.items()} == {s: books[s].realized_pnl for s in realized}
    assert any(books[s].realized_pnl for s in ("SYN_NQ", "SYN_ZN"))  # a multiplier other than 50 was exercised
    # The NYSE symbol trades on 2013-09-03 only (Labor Day); fills' days follow each symbol's own venue.
    assert [str(d) for d in dict(days)["SYN_SP500_ETF"]] == ["2013-09-03"]


def test_the_account_monitor_values_fills_with_the_announced_instruments(
    kafka_bootstrap: str, day: tuple[Namespace, SeedReport]
) -> None:
    space, _ = day
    detections: list[Detection] = []
    monitor = AccountMonitor(AccountLimits(max_gross_exposure=Decimal(0), max_daily_loss=Decimal(0)))
    watch = AccountWatch(kafka_bootstrap, space, monitor, detections.append)
    watch.run(stop_at_end=True)
    assert watch.waiting_for is None and detections == []
    # Gross exposure from the fills alone: each symbol's net quantity at its last fill price, times its multiplier.
    codec, net, last = EventCodec(), defaultdict(Decimal), {}
    with LogReader(kafka_bootstrap) as reader:
        topic = space.topic(FILLS)
        for batch in reader.read(topic, reader.watermarks(topic)):
            for fill in (decode(codec, r) for r in batch):
                assert isinstance(fill, OrderFilled)
                net[fill.symbol] += fill.last_qty if fill.side.value == "BUY" else -fill.last_qty
                last[fill.symbol] = fill.last_price
    expected = sum(abs(net[s]) * last[s] * MULTIPLIERS[s] for s in net)
    assert any(net[s] for s in ("SYN_NQ", "SYN_ZN", "SYN_YM"))  # exposure held in a multiplier other than 50
    assert monitor.gross_exposure == expected
    assert monitor.day == "2013-09-03"
