"""Projections on a real broker and PostgreSQL: exactly-once offsets, P&L, crashes, poison, rebuilds.

The log is a kernel run over every tenth trade of the sample days (both
trading days), produced the way the live kernel routes its outputs. Each test
projects into its own PostgreSQL schema.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from contract.events import DeadLettered, Envelope, OrderFilled, Signal, Tick
from contract.serde import EventCodec
from contract.topics import (
    CATALOG,
    CONTROL,
    DEAD_LETTER,
    FILLS,
    INPUTS,
    INTENTS,
    ORDERS,
    SIGNALS,
    SNAPSHOTS,
    Namespace,
)
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader, decode
from eventlog.producer import EventProducer
from marketdata.calendar import TradingCalendar
from projections.db import build_schema, connect
from projections.models import READ_MODELS
from projections.projector import Projector
from projections.rebuild import rebuild
from tests.fifo import Lots, book_fill
from tests.refusals import publish_refusals
from tests.scratch import drop_with_companions, fresh_schema
from tests.seed import SeedReport, sample_ticks, seed

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
STEP = 10  # every tenth trade: 50,000 ticks over both trading days
TABLES = {
    "projection_offsets": "projection, topic, partition",
    "event_index": "event_id",
    "signals": "event_id",
    "order_events": "event_id",
    "orders": "order_id",
    "fills": "event_id",
    "positions": "symbol",
    "pnl_daily": "symbol, trading_day",
    "bars_1m": "symbol, start_ms",
    "bar_ticks": "event_id",
}
ES_MULTIPLIER = Decimal(50)


# --- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def log(kafka_bootstrap: str) -> Iterator[tuple[Namespace, SeedReport]]:
    """One seeded namespace for the module's tests (seeding takes a few seconds)."""
    space = Namespace(f"test.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    report = seed(kafka_bootstrap, space, sample_ticks(step=STEP))
    yield space, report
    admin.delete(CATALOG)


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    name = fresh_schema(database_url, "test")
    yield name
    drop_with_companions(database_url, name)


@pytest.fixture(scope="module")
def reference(kafka_bootstrap: str, database_url: str, log: tuple[Namespace, SeedReport]) -> Iterator[tuple[str, dict]]:
    """A clean, uninterrupted projection of the module's log, and its tables."""
    name = fresh_schema(database_url, "test")
    Projector(kafka_bootstrap, database_url, name, log[0]).run(stop_at_end=True)
    yield name, dump(database_url, name)
    drop_with_companions(database_url, name)


def dump(database_url: str, name: str, tables: dict[str, str] = TABLES) -> dict[str, list[tuple]]:
    with connect(database_url, name) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY {key}").fetchall() for t, key in tables.items()}


def applied(database_url: str, name: str) -> int:
    with connect(database_url, name) as conn:
        row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM projection_offsets").fetchone()
    return int(row[0]) if row else 0


# --- P&L against an independent recomputation ---------------------------------


def _log_events(bootstrap: str, topic: str) -> list:
    codec = EventCodec()
    with LogReader(bootstrap) as reader:
        ranges = reader.watermarks(topic)
        return [decode(codec, r) for batch in reader.read(topic, ranges) for r in batch]


def _expected_pnl(fills: list[OrderFilled], ticks: list[Tick]) -> dict[tuple[str, str], dict[str, Decimal | None]]:
    """FIFO P&L per (symbol, trading day), written here from the definitions, not from the projector."""
    calendar = TradingCalendar.for_venue("CME")
    day_of = lambda ms: calendar.session_of(ms).day  # noqa: E731
    marks: dict[tuple[str, str], tuple[tuple[int, int, str], Decimal]] = {}
    for t in ticks:
        key = (t.symbol, day_of(t.event_time_ms))
        order = (t.event_time_ms, t.sequence, t.event_id)
        if key not in marks or order > marks[key][0]:
            marks[key] = (order, t.price)
    lots: dict[str, Lots] = defaultdict(deque)
    realized: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    fees: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    close_lots: dict[tuple[str, str], list[list[Decimal]]] = {}
    for f in fills:
        key = (f.symbol, day_of(f.event_time_ms))
        realized[key] += book_fill(lots[f.symbol], f, ES_MULTIPLIER)
        fees[key] += f.fee
        close_lots[key] = [list(lot) for lot in lots[f.symbol]]
    expected = {}
    for symbol in sorted({s for s, _ in marks} | {s for s, _ in close_lots}):
        carried: list[list[Decimal]] = []
        previous = Decimal(0)
        for day in sorted({d for s, d in marks if s == symbol} | {d for s, d in close_lots if s == symbol}):
            carried = close_lots.get((symbol, day), carried)
            mark = marks.get((symbol, day), (None, None))[1]
            unrealized = None if mark is None else sum(((mark - p) * q * ES_MULTIPLIER for q, p in carried), Decimal(0))
            r, fee = realized[(symbol, day)], fees[(symbol, day)]
            expected[(symbol, day)] = {
                "realized": r,
                "fees": fee,
                "unrealized": unrealized,
                "daily": None if unrealized is None else r - fee + unrealized - previous,
                "position": sum((q for q, _ in carried), Decimal(0)),
            }
            previous = unrealized or Decimal(0)
    return expected


def test_pnl_daily_equals_pnl_recomputed_from_the_fills_on_the_log(
    kafka_bootstrap: str, database_url: str, log: tuple[Namespace, SeedReport], reference: tuple[str, dict]
) -> None:
    space, report = log
    fills = _log_events(kafka_bootstrap, space.topic(FILLS))
    ticks = _log_events(kafka_bootstrap, space.topic(INPUTS))
    assert len(fills) == report.derived["OrderFilled"] > 20
    expected = _expected_pnl(fills, ticks)
    assert len({day for _, day in expected}) == 2  # the slice spans both trading days
    with connect(database_url, reference[0]) as conn:
        rows = conn.execute(
            "SELECT symbol, trading_day::text, realized_pnl, fees, unrealized_pnl, daily_pnl, position_qty FROM pnl_daily"
        ).fetchall()
        position = conn.execute("SELECT quantity, realized_pnl, fees FROM positions WHERE symbol = 'ES'").fetchone()
    actual = {
        (s, d): {"realized": r, "fees": f, "unrealized": u, "daily": dp, "position": q} for s, d, r, f, u, dp, q in rows
    }
    assert actual == expected
    assert any(v["realized"] != 0 for v in expected.values()) and any(v["unrealized"] for v in expected.values())
    last_day = max(expected)
    assert position == (
        expected[last_day]["position"],
        sum((v["realized"] for v in expected.values()), Decimal(0)),
        sum((v["fees"] for v in expected.values()), Decimal(0)),
    )


def test_orders_fills_and_bars_account_for_every_event(
    kafka_bootstrap: str, log: tuple[Namespace, SeedReport], reference: tuple[str, dict]
) -> None:
    space, report = log
    tables = reference[1]
    assert len(tables["event_index"]) == report.ticks + sum(report.derived.values())
    assert len(tables["signals"]) == report.derived["Signal"]
    assert len(tables["fills"]) == report.derived["OrderFilled"]
    assert len(tables["orders"]) == report.derived["OrderInitialized"]
    assert len(tables["bar_ticks"]) == report.ticks
    ticks = _log_events(kafka_bootstrap, space.topic(INPUTS))
    volume = sum((t.size for t in ticks), Decimal(0))
    bars = tables["bars_1m"]
    columns = [c.name for c in READ_MODELS.tables["bars_1m"].columns]
    assert sum(dict(zip(columns, b))["volume"] for b in bars) == volume
    assert sum(dict(zip(columns, b))["trades"] for b in bars) == len(ticks)


# --- exactly once -------------------------------------------------------------


def test_a_second_run_and_duplicated_records_change_nothing(
    kafka_bootstrap: str, database_url: str, log: tuple[Namespace, SeedReport], reference: tuple[str, dict], schema: str
) -> None:
    """Re-reading the log, and the same events produced again at new offsets, leave every model as it was."""
    space, _ = log
    dup_space = Namespace(f"test.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, dup_space)
    admin.create()
    try:
        producer = EventProducer(kafka_bootstrap, dup_space)
        with LogReader(kafka_bootstrap) as reader:
            for spec in (INPUTS, SIGNALS, INTENTS, ORDERS, FILLS, CONTROL, SNAPSHOTS):
                records = [r for b in reader.read(space.topic(spec), reader.watermarks(space.topic(spec))) for r in b]
                # Every record, then all of them again (only the first 1,000 ticks): same events, new offsets.
                again = records[:1000] if spec is INPUTS else records
                for r in records + again:
                    producer.send_raw(dup_space.topic(spec), r.key, r.value, r.timestamp_ms, partition=r.partition)
        producer.flush()
        projector = Projector(kafka_bootstrap, database_url, schema, dup_space)
        first = projector.run(stop_at_end=True)
        second = projector.run(stop_at_end=True)
    finally:
        admin.delete(CATALOG)
    assert first.dead == 0 and second.records == 0
    models = {t: k for t, k in TABLES.items() if t not in ("projection_offsets", "event_index")}
    assert dump(database_url, schema, models) == {t: reference[1][t] for t in models}
    # The index keeps each event once, at its first position.
    assert len(dump(database_url, schema, {"event_index": "event_id"})["event_index"]) == len(reference[1]["event_index"])


def _command(function: str, *args: str) -> list[str]:
    code = f"import typer; from aitrader.commands.projections import {function}; typer.run({function})"
    return [sys.executable, "-c", code, *args]


def _env(kafka_bootstrap: str, database_url: str) -> dict[str, str]:
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url}


def _kill_when(process: subprocess.Popen, progressed: callable, timeout_s: float = 120) -> bool:
    """SIGKILLs ``process`` once ``progressed()`` holds; False when it ended first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if progressed():
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            return True
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the projector made no progress in time")


def test_sigkill_at_several_points_of_a_run_gives_the_clean_tables(
    kafka_bootstrap: str, database_url: str, log: tuple[Namespace, SeedReport], reference: tuple[str, dict], schema: str
) -> None:
    space, _ = log
    total = applied(database_url, reference[0])
    args = ("--namespace", space.prefix, "--schema", schema, "--stop-at-end", "--batch-size", "700", "--no-migrate")
    env = _env(kafka_bootstrap, database_url)
    kills = 0
    for fraction in (0.15, 0.4, 0.7, 0.9):
        process = subprocess.Popen(_command("projector", *args), env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
        kills += _kill_when(process, lambda f=fraction: applied(database_url, schema) >= f * total)
    assert kills >= 3  # killed mid-run at least three times
    assert 0 < applied(database_url, schema) < total
    subprocess.run(_command("projector", *args), env=env, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    assert dump(database_url, schema) == reference[1]


def test_sigkill_during_a_rebuild_then_resume_gives_the_clean_tables(
    kafka_bootstrap: str, database_url: str, log: tuple[Namespace, SeedReport], reference: tuple[str, dict], schema: str
) -> None:
    space, _ = log
    total = applied(database_url, reference[0])
    build = build_schema(schema)
    args = ("--namespace", space.prefix, "--schema", schema, "--batch-size", "700")
    env = _env(kafka_bootstrap, database_url)

    def built() -> int:
        try:
            return applied(database_url, build)
        except psycopg.Error:
            return 0

    kills = 0
    for fraction in (0.2, 0.6):
        process = subprocess.Popen(_command("rebuild_command", *args), env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
        kills += _kill_when(process, lambda f=fraction: built() >= f * total)
    assert kills == 2
    assert dump(database_url, schema)["event_index"] == []  # the live schema is untouched until the swap
    subprocess.run(_command("rebuild_command", *args), env=env, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    assert dump(database_url, schema) == reference[1]
    with connect(database_url, "public") as conn:
        left = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"{schema}\\_\\_%",)).fetchall()
    assert left == []  # neither the build nor the retired schema is left behind


def test_readers_see_the_old_or_the_new_tables_during_a_rebuild_never_a_mix(
    kafka_bootstrap: str, database_url: str, log: tuple[Namespace, SeedReport], reference: tuple[str, dict], schema: str
) -> None:
    space, _ = log
    Projector(kafka_bootstrap, database_url, schema, space).run(stop_at_end=True)
    expected = (len(reference[1]["bars_1m"]), len(reference[1]["fills"]))
    seen: set[tuple[int, int]] = set()
    errors: list[Exception] = []
    done = threading.Event()

    def read() -> None:
        with connect(database_url, schema) as conn:
            while not done.is_set():
                try:
                    with conn.transaction():
                        counts = conn.execute("SELECT (SELECT count(*) FROM bars_1m), (SELECT count(*) FROM fills)").fetchone()
                    seen.add(counts)
                except psycopg.Error as exc:
                    errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        whole = rebuild(kafka_bootstrap, database_url, schema, space)
        some = rebuild(kafka_bootstrap, database_url, schema, space, names=["bars"])
    finally:
        done.set()
        reader.join()
    assert whole.swapped and some.swapped and some.projections == ("bars",)
    assert errors == []
    assert seen == {expected}
    assert dump(database_url, schema) == reference[1]


# --- poison -------------------------------------------------------------------


def test_poison_goes_to_the_dead_letter_topic_and_the_projection_goes_on(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, schema: str
) -> None:
    producer = EventProducer(kafka_bootstrap, namespace)
    good = Signal(Envelope("6a0e7a39-4f7d-5a52-9c53-5c1a0bd1f0a1", 1378100000000, "test", None, "c"), "ES", "p", Decimal("0.5"), {"x": 1.0})
    bad_id = replace(good, envelope=replace(good.envelope, event_id="NOT-A-UUID"))
    after = replace(good, envelope=replace(good.envelope, event_id="6a0e7a39-4f7d-5a52-9c53-5c1a0bd1f0a3"))
    producer.send(SIGNALS, "ES", good)
    producer.flush()
    partition = _partition_with_records(kafka_bootstrap, namespace.topic(SIGNALS))
    producer.send_raw(namespace.topic(SIGNALS), b"ES", b"\xc3\x01 not avro", 1378100000001, partition=partition)
    producer.send(SIGNALS, "ES", bad_id)
    producer.send(SIGNALS, "ES", after)
    producer.flush()

    totals = Projector(kafka_bootstrap, database_url, schema, namespace).run(stop_at_end=True)

    with connect(database_url, schema) as conn:
        ids = [r[0] for r in conn.execute("SELECT event_id::text FROM signals ORDER BY event_id")]
        offsets = conn.execute("SELECT next_offset FROM projection_offsets WHERE projection = 'signals' AND next_offset > 0").fetchall()
    assert ids == [good.event_id, after.event_id]
    assert offsets == [(4,)]  # all four records consumed: the projection went on past the poison
    dead = [e for e in _log_events(kafka_bootstrap, namespace.topic(DEAD_LETTER)) if isinstance(e, DeadLettered)]
    by_offset = {d.source_offset: d for d in dead}
    assert sorted(by_offset) == [1, 2] and totals.dead == 2
    assert by_offset[1].error_type == "DecodeError" and by_offset[1].value == b"\xc3\x01 not avro"
    assert by_offset[2].error_type == "BadEnvelope" and "NOT-A-UUID" in by_offset[2].reason
    # A record that decodes but breaks a model's invariant stops the projection instead: test_projector_invariants.py.
    assert all(d.source_topic == SIGNALS.name for d in dead)  # the catalog's name, as in the kernel's dead letters

    # A rerun does not dead-letter them again: their offsets are committed with the rest.
    assert Projector(kafka_bootstrap, database_url, schema, namespace).run(stop_at_end=True).dead == 0


def _partition_with_records(bootstrap: str, topic: str) -> int:
    """Where the key ES landed, so the raw garbage record sits between the good ones."""
    with LogReader(bootstrap) as reader:
        return next(p for p, (low, high) in reader.watermarks(topic).items() if high > low)


# --- refusals -----------------------------------------------------------------


def test_a_denial_and_an_old_logs_rejection_project_as_what_they_are(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, schema: str
) -> None:
    """Our risk's denial: DENIED with the check's code. A risk refusal an old log holds as OrderRejected: REJECTED."""
    refusals = publish_refusals(kafka_bootstrap, namespace)
    assert Projector(kafka_bootstrap, database_url, schema, namespace).run(stop_at_end=True).dead == 0
    columns = "status, deny_reason, deny_detail, denied_time_ms, reject_reason, reject_detail, rejected_time_ms"
    with connect(database_url, schema) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(f"SELECT order_id::text, {columns} FROM orders")}
        types = dict(conn.execute("SELECT event_id::text, event_type FROM order_events").fetchall())
    for denied in refusals.denied:
        assert rows.pop(denied.order_id) == ("DENIED", "MAX_ORDER_QTY", denied.detail, denied.event_time_ms, None, None, None)
        assert types[denied.event_id] == "OrderDenied"
    old = refusals.old_rejection
    assert rows.pop(old.order_id) == ("REJECTED", None, None, None, "MAX_ORDER_QTY", "quantity 12 > 10", old.event_time_ms)
    assert types[old.event_id] == "OrderRejected"
    assert rows == {}  # every order of the log was refused
