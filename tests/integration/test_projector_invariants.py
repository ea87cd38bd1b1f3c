"""A record that decodes but breaks a read model's invariant stops the projector; ops skip it on the record.

Real broker and PostgreSQL. The log is six ES fills on one partition of
``fills``; two of them have a quantity of zero, which the ledger refuses (the
``fills_quantity_positive`` check; ``oms.positions.Position.apply_fill`` refuses
the same fill with a ValueError). The orders projection accepts them, so it
shows that only the refusing projection stops.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from contract.events import (
    DeadLettered,
    Envelope,
    OrderFilled,
    ProjectionRecordSkipped,
    Side,
    Signal,
)
from contract.ids import id_from_parts
from contract.partitioner import partition_for
from contract.serde import EventCodec
from contract.topics import (
    DEAD_LETTER,
    FILLS,
    OPS_DECISIONS,
    SIGNALS,
    SYMBOL_PARTITIONS,
    Namespace,
)
from eventlog.consumer import LogReader, decode
from eventlog.producer import EventProducer
from projections.db import connect
from projections.projector import ProjectionStopped, Projector
from tests.metric_scrape import METRICS_LINE, scrape, value
from tests.scratch import drop_with_companions, fresh_schema

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
ES_PARTITION = partition_for("ES", SYMBOL_PARTITIONS)
START_MS = 1378184425350  # 2013-09-03, inside the ES session
ORDER_ID = id_from_parts("test-order", 1)
# (side, quantity, price): offsets 2 and 4 are the fills the ledger refuses.
FILL_SPECS = (
    (Side.BUY, "2", "1650"),
    (Side.SELL, "1", "1651"),
    (Side.SELL, "0", "1652"),
    (Side.SELL, "1", "1653"),
    (Side.BUY, "0", "1654"),
    (Side.BUY, "1", "1655"),
)
REFUSED = (2, 4)
LEDGER_TABLES = {"fills": "event_id", "positions": "symbol", "pnl_daily": "symbol, trading_day", "projection_offsets": "projection, topic, partition"}


def _fill(n: int, side: Side, quantity: str, price: str) -> OrderFilled:
    event_id = id_from_parts("test-fill", n)
    envelope = Envelope(event_id, START_MS + 1000 * n, "test", None, event_id)
    return OrderFilled(envelope, ORDER_ID, f"fill-{n}", "ES", side, Decimal(quantity), Decimal(price), Decimal("2.25"), "TAKER")


FILLS_ON_LOG = [_fill(n, *spec) for n, spec in enumerate(FILL_SPECS)]


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    name = fresh_schema(database_url, "test")
    yield name
    drop_with_companions(database_url, name)


@pytest.fixture
def fills_log(kafka_bootstrap: str, namespace: Namespace) -> Namespace:
    producer = EventProducer(kafka_bootstrap, namespace)
    for fill in FILLS_ON_LOG:
        producer.send(FILLS, "ES", fill, partition=ES_PARTITION)
    producer.flush()
    return namespace


def _project(kafka_bootstrap: str, database_url: str, schema: str, namespace: Namespace) -> Exception | None:
    """Runs one pass to the end; returns what it raised, so the tables can be checked before the error."""
    try:
        Projector(kafka_bootstrap, database_url, schema, namespace).run(stop_at_end=True)
    except Exception as exc:  # noqa: BLE001 - the callers assert its type
        return exc
    return None


def _tables(database_url: str, schema: str) -> dict[str, list[tuple]]:
    with connect(database_url, schema) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY {key}").fetchall() for t, key in LEDGER_TABLES.items()}


def _ledger(database_url: str, schema: str, namespace: Namespace) -> dict[str, object]:
    """What the ledger holds, and where each projection's offset on the fills partition is."""
    with connect(database_url, schema) as conn:
        fills = [r[0] for r in conn.execute("SELECT fill_id FROM fills ORDER BY event_time_ms")]
        position = conn.execute("SELECT quantity, realized_pnl, fill_count FROM positions WHERE symbol = 'ES'").fetchone()
        day_fills = conn.execute("SELECT coalesce(sum(fill_count), 0) FROM pnl_daily").fetchone()
        offsets = dict(
            conn.execute(
                "SELECT projection, next_offset FROM projection_offsets WHERE topic = %s AND partition = %s",
                (namespace.topic(FILLS), ES_PARTITION),
            ).fetchall()
        )
    return {"fills": fills, "position": position, "day_fills": day_fills[0] if day_fills else None, "offsets": offsets}


def _events(kafka_bootstrap: str, topic: str) -> list:
    codec = EventCodec()
    with LogReader(kafka_bootstrap) as reader:
        return [decode(codec, r) for batch in reader.read(topic, reader.watermarks(topic)) for r in batch]


def _cli(kafka_bootstrap: str, database_url: str, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "aitrader", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s
    )


def _skip(kafka_bootstrap: str, database_url: str, namespace: Namespace, offset: int, reason: str) -> subprocess.CompletedProcess[str]:
    return _cli(
        kafka_bootstrap, database_url, "projections", "skip", "--projection", "ledger", "--topic", "fills",
        "--partition", str(ES_PARTITION), "--offset", str(offset), "--reason", reason, "--actor", "alice",
        "--namespace", namespace.prefix,
    )


# --- a refused record stops the projection -------------------------------------


def test_a_fill_the_ledger_refuses_stops_the_projection_at_its_offset(
    kafka_bootstrap: str, database_url: str, fills_log: Namespace, schema: str
) -> None:
    stopped = _project(kafka_bootstrap, database_url, schema, fills_log)

    state = _ledger(database_url, schema, fills_log)
    # The fills before the refused one are committed; the refused one and everything after it are not.
    assert state["fills"] == ["fill-0", "fill-1"]
    assert state["position"] == (Decimal(1), Decimal(50), 2)  # long 1 after closing 1 lot at +1 point x 50
    assert state["day_fills"] == 2
    assert state["offsets"] == {"ledger": 2, "orders": 6, "index": 6}  # only the ledger stopped, exactly at the fill
    dead = [e for e in _events(kafka_bootstrap, fills_log.topic(DEAD_LETTER)) if isinstance(e, DeadLettered)]
    assert dead == []  # nothing was dead-lettered: the fill is not gone

    assert isinstance(stopped, ProjectionStopped), repr(stopped)
    assert (stopped.projection, stopped.topic, stopped.partition, stopped.offset) == ("ledger", "fills", ES_PARTITION, 2)
    message = str(stopped)
    refused = FILLS_ON_LOG[2]
    for part in ("ledger", "fills", f"partition {ES_PARTITION}", "offset 2", "OrderFilled", refused.event_id, "fills_quantity_positive"):
        assert part in message, (part, message)
    assert f"aitrader projections skip --projection ledger --topic fills --partition {ES_PARTITION} --offset 2" in message

    # Restarting meets the same record again, and changes nothing.
    before = _tables(database_url, schema)
    again = _project(kafka_bootstrap, database_url, schema, fills_log)
    assert isinstance(again, ProjectionStopped) and str(again) == message
    assert _tables(database_url, schema) == before


def _until(condition: Callable[[], bool], what: str, process: subprocess.Popen[str], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the projector exited with {process.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s}s")
        time.sleep(0.2)


def test_run_projector_waits_at_the_refused_record_says_so_once_and_goes_on_after_the_skip_decisions(
    kafka_bootstrap: str, database_url: str, fills_log: Namespace, schema: str, tmp_path: Path
) -> None:
    """Without --stop-at-end the projector stays up at a refused record: the stopped gauge (the alert's input)
    reads 1, the error is on stderr once, it neither exits nor restarts, and the decision on the log lets it go on."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url}
    stderr = tmp_path / "projector.stderr"
    command = [sys.executable, "-m", "aitrader", "run", "projector", "--namespace", fills_log.prefix, "--schema", schema,
               "--no-migrate", "--metrics-port", "0"]
    with stderr.open("w") as sink:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stderr=sink, text=True)
    try:
        said = lambda: stderr.read_text(errors="replace")  # noqa: E731
        _until(lambda: METRICS_LINE.search(said()) is not None, "metrics address", process)
        url = METRICS_LINE.search(said()).group(1)
        _until(lambda: value(scrape(url), "aitrader_projection_stopped") == 1, "stopped gauge at 1", process)
        assert _ledger(database_url, schema, fills_log)["offsets"]["ledger"] == 2
        time.sleep(6)  # more than one retry: still up, still stopped, the error said once
        assert process.poll() is None and value(scrape(url), "aitrader_projection_stopped") == 1
        text = said()
        assert text.count("projection ledger stopped") == 1 and "offset 2" in text and "restarting" not in text
        assert f"aitrader projections skip --projection ledger --topic fills --partition {ES_PARTITION} --offset 2" in text

        for offset in REFUSED:
            assert _skip(kafka_bootstrap, database_url, fills_log, offset, f"test decision {offset}").returncode == 0
        _until(lambda: _ledger(database_url, schema, fills_log)["offsets"].get("ledger") == len(FILLS_ON_LOG), "ledger at the end", process)
        _until(lambda: value(scrape(url), "aitrader_projection_stopped") == 0, "stopped gauge back at 0", process)
        assert _ledger(database_url, schema, fills_log)["fills"] == ["fill-0", "fill-1", "fill-3", "fill-5"]
    finally:
        process.terminate()
        code = process.wait(timeout=60)
    assert code == 0, said()


# --- the audited skip ------------------------------------------------------------


def test_after_an_audited_skip_the_projector_dead_letters_the_record_and_goes_on(
    kafka_bootstrap: str, database_url: str, fills_log: Namespace, schema: str
) -> None:
    assert isinstance(_project(kafka_bootstrap, database_url, schema, fills_log), ProjectionStopped)
    reasons = {2: "zero-quantity fill from the simulator bug (issue 8)", 4: "same bug, second fill"}

    skipped = _skip(kafka_bootstrap, database_url, fills_log, 2, reasons[2])
    assert skipped.returncode == 0, skipped.stderr
    # Skipped only where a decision says so: the second refused fill stops it again.
    stopped = _project(kafka_bootstrap, database_url, schema, fills_log)
    assert isinstance(stopped, ProjectionStopped) and stopped.offset == 4, repr(stopped)
    assert _ledger(database_url, schema, fills_log)["fills"] == ["fill-0", "fill-1", "fill-3"]

    assert _skip(kafka_bootstrap, database_url, fills_log, 4, reasons[4]).returncode == 0
    assert _project(kafka_bootstrap, database_url, schema, fills_log) is None

    state = _ledger(database_url, schema, fills_log)
    assert state["fills"] == ["fill-0", "fill-1", "fill-3", "fill-5"]
    # Closed 1 at +1 and 1 at +3 points (x 50), then long 1 again.
    assert state["position"] == (Decimal(1), Decimal(200), 4)
    assert state["offsets"] == {"ledger": 6, "orders": 6, "index": 6}

    dead = [e for e in _events(kafka_bootstrap, fills_log.topic(DEAD_LETTER)) if isinstance(e, DeadLettered)]
    assert sorted(d.source_offset for d in dead) == list(REFUSED)
    for letter in dead:
        assert letter.error_type == "SkippedByOps" and letter.stage == "projection:ledger"
        assert reasons[letter.source_offset] in letter.reason and "alice" in letter.reason
        assert "fills_quantity_positive" in letter.reason
        assert letter.value is not None and EventCodec().decode(letter.value) == FILLS_ON_LOG[letter.source_offset]

    decisions = _events(kafka_bootstrap, fills_log.topic(OPS_DECISIONS))
    assert [type(d) for d in decisions] == [ProjectionRecordSkipped, ProjectionRecordSkipped]
    for decision, offset in zip(decisions, REFUSED):
        refused = FILLS_ON_LOG[offset]
        assert (decision.projection, decision.topic, decision.partition, decision.offset) == ("ledger", "fills", ES_PARTITION, offset)
        assert (decision.reason, decision.actor) == (reasons[offset], "alice")
        assert decision.event_time_ms == refused.event_time_ms  # the skipped record's time, not the wall clock
        assert decision.envelope.causation_id == refused.event_id
    assert decisions[0].event_id in skipped.stdout + skipped.stderr  # the command says what it recorded

    # The skips are committed like any other record: a rerun reads nothing and dead-letters nothing.
    rerun = Projector(kafka_bootstrap, database_url, schema, fills_log).run(stop_at_end=True)
    assert (rerun.records, rerun.dead) == (0, 0)


def test_the_skip_command_refuses_what_it_cannot_record(
    kafka_bootstrap: str, database_url: str, fills_log: Namespace
) -> None:
    common = ("--partition", str(ES_PARTITION), "--reason", "why", "--namespace", fills_log.prefix)
    cases = {
        "unknown projection 'nope'": ("--projection", "nope", "--topic", "fills", "--offset", "0"),
        "unknown topic 'nope'": ("--projection", "ledger", "--topic", "nope", "--offset", "0"),
        "projection signals does not read fills": ("--projection", "signals", "--topic", "fills", "--offset", "0"),
        f"no record at fills partition {ES_PARTITION} offset 6": ("--projection", "ledger", "--topic", "fills", "--offset", "6"),
    }
    for expected, args in cases.items():
        result = _cli(kafka_bootstrap, database_url, "projections", "skip", *args, *common)
        assert result.returncode == 2, (expected, result.stdout, result.stderr)
        assert expected in " ".join(result.stderr.split()), (expected, result.stderr)
    assert _events(kafka_bootstrap, fills_log.topic(OPS_DECISIONS)) == []  # nothing was recorded


def test_a_signal_out_of_range_stops_only_the_signals_projection(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, schema: str
) -> None:
    """Another model, another kind of refusal (a CHECK in the signals table): the same stop."""
    producer = EventProducer(kafka_bootstrap, namespace)
    scores = ("0.5", "2", "-0.5")  # 2 is outside signals_score_range
    for n, score in enumerate(scores):
        event_id = id_from_parts("test-signal", n)
        signal = Signal(Envelope(event_id, START_MS + n, "test", None, event_id), "ES", "p", Decimal(score), {"x": 1.0})
        producer.send(SIGNALS, "ES", signal, partition=ES_PARTITION)
    producer.flush()

    stopped = _project(kafka_bootstrap, database_url, schema, namespace)

    assert isinstance(stopped, ProjectionStopped), repr(stopped)
    assert (stopped.projection, stopped.topic, stopped.offset) == ("signals", "signals", 1)
    assert "signals_score_range" in str(stopped) and "Signal" in str(stopped)
    with connect(database_url, schema) as conn:
        scores_kept = [r[0] for r in conn.execute("SELECT score FROM signals")]
        offsets = dict(conn.execute("SELECT projection, next_offset FROM projection_offsets WHERE topic = %s", (namespace.topic(SIGNALS),)).fetchall())
    assert scores_kept == [Decimal("0.5")]
    assert offsets == {"signals": 1, "index": 3}


# --- input we cannot read is still dead-lettered --------------------------------


def test_an_undecodable_record_is_still_dead_lettered_and_passed(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, schema: str
) -> None:
    producer = EventProducer(kafka_bootstrap, namespace)
    producer.send(FILLS, "ES", FILLS_ON_LOG[0], partition=ES_PARTITION)
    producer.send_raw(namespace.topic(FILLS), b"ES", b"\xc3\x01 not avro", START_MS + 500, partition=ES_PARTITION)
    producer.send(FILLS, "ES", FILLS_ON_LOG[1], partition=ES_PARTITION)
    producer.flush()

    assert _project(kafka_bootstrap, database_url, schema, namespace) is None

    state = _ledger(database_url, schema, namespace)
    assert state["fills"] == ["fill-0", "fill-1"]
    assert state["offsets"] == {"ledger": 3, "orders": 3, "index": 3}
    (dead,) = [e for e in _events(kafka_bootstrap, namespace.topic(DEAD_LETTER)) if isinstance(e, DeadLettered)]
    assert (dead.source_offset, dead.error_type, dead.value) == (1, "DecodeError", b"\xc3\x01 not avro")
