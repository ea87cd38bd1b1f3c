"""``aitrader replay`` on a real broker: a replayed day derives live's events byte for byte.

"Live" is produced here the way the live worker does it: a ``KernelRunner`` per
input partition over the namespace's input records, outputs produced with the
idempotent ``EventProducer``. The ES slice spans a session boundary
(2013-09-02 00:00 to 2013-09-03 03:00 Chicago), so the live kernel takes a
``session-start 2013-09-03`` snapshot, and interval snapshots every 20,000 inputs.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from aitrader.commands.replay import replay
from contract.events import KernelSnapshotTaken, OrderFilled, Tick
from contract.records import RawRecord, decode
from contract.serde import EventCodec
from contract.topics import CATALOG, FILLS, INPUTS, SNAPSHOTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader
from eventlog.ingest import CHICAGO, read_ticks
from eventlog.producer import EventProducer
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.runner import KernelRunner
from kernel.settings import KernelSettings
from processors.replay.tally import PROGRESS_EVERY, InputSpan, ReplayRun
from processors.replay.window import parse_offsets

pytestmark = pytest.mark.infra

ES_PARTITION = 1  # murmur2("ES") % 3, as every producer of ours partitions
SNAPSHOT_EVERY = 20_000
DAY_START = "session-start 2013-09-03"


def chicago_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=CHICAGO).timestamp() * 1000)


def sample_ticks(from_ms: int | None = None, to_ms: int | None = None) -> list[Tick]:
    ticks = []
    for tick in read_ticks():
        if to_ms is not None and tick.event_time_ms >= to_ms:
            break
        if from_ms is None or tick.event_time_ms >= from_ms:
            ticks.append(tick)
    return ticks


@dataclass(frozen=True)
class LiveLog:
    namespace: Namespace
    inputs: int
    snapshots: dict[str, int]  # reason of the first snapshot with it -> input_offset
    duplicated_fill: str


def publish_and_run_live(bootstrap: str, space: Namespace, ticks: list[Tick]) -> LiveLog:
    producer = EventProducer(bootstrap, space)
    for tick in ticks:
        producer.send(INPUTS, tick.symbol, tick)
    producer.flush()
    codec = EventCodec()
    snapshots: dict[str, int] = {}
    duplicated = ""
    with LogReader(bootstrap) as reader:
        for partition, (low, high) in reader.watermarks(space.topic(INPUTS)).items():
            kernel = TradingKernel(partition, KernelSettings.parse(), BaselineScorer(), snapshot_every=SNAPSHOT_EVERY)
            runner = KernelRunner(kernel, codec)
            for batch in reader.read(space.topic(INPUTS), {partition: (low, high)}):
                for record in batch:
                    for routed in runner.apply(record):
                        producer.send(routed.spec, routed.key, routed.event, partition=routed.partition)
                        if isinstance(routed.event, KernelSnapshotTaken):
                            snapshots.setdefault(routed.event.reason, routed.event.input_offset)
                        if isinstance(routed.event, OrderFilled) and not duplicated and DAY_START in snapshots:
                            # What a crash between produce and commit leaves: the same event twice (within the day).
                            producer.send(routed.spec, routed.key, routed.event, partition=routed.partition)
                            duplicated = routed.event.event_id
    producer.flush()
    return LiveLog(space, len(ticks), snapshots, duplicated)


@pytest.fixture(scope="module")
def live_log(kafka_bootstrap: str) -> Iterator[LiveLog]:
    space = Namespace(f"test.replay.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    try:
        yield publish_and_run_live(kafka_bootstrap, space, sample_ticks(chicago_ms("2013-09-02T00:00"), chicago_ms("2013-09-03T03:00")))
    finally:
        admin.delete(CATALOG)
        _delete_replays(kafka_bootstrap, space)


def _delete_replays(bootstrap: str, space: Namespace) -> None:
    admin = TopicAdmin(bootstrap)
    names = [n for n in admin.existing() if n.startswith(f"{space.prefix}replay.")]
    if names:
        for future in admin.client.delete_topics(names, operation_timeout=30).values():
            future.result()


def invoke(command: typer.Typer | Callable[..., None], *args: str) -> tuple[int, str]:
    """(exit code, stdout and stderr) of a typer app or of one command function run as an app."""
    if isinstance(command, typer.Typer):
        app = command
    else:
        app = typer.Typer()
        app.command()(command)
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _replay(*args: str) -> tuple[int, str]:
    return invoke(replay, *args)


def test_a_replayed_day_is_identical_to_live_and_reports_it(live_log: LiveLog, tmp_path: Path) -> None:
    code, out = _replay("--day", "2013-09-03", "--namespace", live_log.namespace.prefix, "--into", "day", "--report", str(tmp_path))
    assert code == 0, out
    start = live_log.snapshots[DAY_START] + 1
    assert f"inputs[{ES_PARTITION}] offsets [{start:,}, {live_log.inputs:,})" in out
    assert "session-start 2013-09-03" in out
    assert "deterministic" in out and "DIFFERENT" not in out

    report = json.loads((tmp_path / "report.json").read_text())
    determinism = report["determinism"]
    assert determinism["identical"] is True
    topics = determinism["topics"]
    assert set(topics) == {"signals", "intents", "orders", "fills", "control"}
    assert all(t["live"]["sha256"] == t["replay"]["sha256"] for t in topics.values())
    assert topics["intents"]["replay"]["events"] > 0 and topics["fills"]["replay"]["events"] > 0
    assert topics["fills"]["live"]["duplicates"] == 1  # the re-sent fill counted once
    assert report["inputs"][str(ES_PARTITION)] == {"start": start, "end": live_log.inputs,
                                                   "start_state": report["inputs"][str(ES_PARTITION)]["start_state"]}
    assert report["counts"]["inputs"] == live_log.inputs - start
    assert report["timing"]["inputs_per_second"] > 0
    assert report["manifest"]["partitions"][str(ES_PARTITION)]["scorer"]["name"] == "baseline"
    fills = (tmp_path / "fills.csv").read_text().splitlines()
    assert len(fills) - 1 == topics["fills"]["replay"]["events"]
    assert (tmp_path / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((tmp_path / "equity.csv").read_text().splitlines()) > 100  # one sample a minute at least


def test_an_explicit_range_from_an_interval_snapshot_across_the_session_boundary_is_identical(live_log: LiveLog) -> None:
    after = live_log.snapshots["interval"]  # the first interval snapshot, before the session boundary
    end = live_log.inputs - 1234  # stop mid-stream: the end boundary is matched by time and id
    code, out = _replay(
        "--from-offsets", f"{ES_PARTITION}:{after + 1}", "--to-offsets", f"{ES_PARTITION}:{end}",
        "--namespace", live_log.namespace.prefix, "--into", "range",
    )
    assert code == 0, out
    assert f"offsets [{after + 1:,}, {end:,})" in out and "(interval, after input" in out
    assert "deterministic" in out


def test_a_what_if_threshold_diverges_and_the_first_difference_is_pinpointed(live_log: LiveLog) -> None:
    code, out = _replay(
        "--day", "2013-09-03", "--namespace", live_log.namespace.prefix, "--into", "whatif",
        "--set", "strategy.threshold=0.5", "--compare",
    )
    assert code == 1, out
    assert "DIVERGED" in out
    lines = out.splitlines()
    signals = next(line for line in lines if line.strip().startswith("signals"))
    assert "identical" in signals  # patterns do not read the strategy's threshold
    assert f"first difference: intents[{ES_PARTITION}]" in out
    assert any(line.strip().startswith("live  : offset") and "OrderIntent" in line for line in lines)
    assert any(line.strip().startswith("field ") for line in lines)


def test_a_model_what_if_with_the_recorded_model_reports_no_difference(live_log: LiveLog, tmp_path: Path) -> None:
    code, out = _replay("--day", "2013-09-03", "--namespace", live_log.namespace.prefix, "--into", "samemodel",
                        "--model", "baseline@1.0.0", "--compare", "--report", str(tmp_path))
    assert code == 0, out
    assert "deterministic" in out and "no difference in intents, fills or P&L" in out
    report = json.loads((tmp_path / "report.json").read_text())
    what_if = report["what_if"]
    assert what_if["live"] == what_if["replay"] and what_if["live"]["intents"] > 0 and what_if["live"]["fills"] > 0
    assert what_if["difference"] == {"intents": 0, "fills": 0, "pnl": {"ES": "0"}}
    # The fills folded onto the opening position are the day's P&L the replayed kernel booked itself.
    assert Decimal(what_if["live"]["pnl"]["ES"]) == Decimal(report["pnl"]["ES"]["daily_pnl"])


def test_a_what_if_without_compare_skips_the_comparison_and_a_bad_setting_is_refused(live_log: LiveLog) -> None:
    prefix = live_log.namespace.prefix
    code, out = _replay("--day", "2013-09-03", "--namespace", prefix, "--into", "whatif2", "--set", "strategy.threshold=0.5")
    assert code == 0, out
    assert "comparison with live skipped: a what-if run" in out
    code, out = _replay("--day", "2013-09-03", "--namespace", prefix, "--into", "bad", "--set", "strategy.threshold=7")
    assert code == 2 and "strategy.threshold" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--day", "2013-09-03", "--mode", "pipeline", "--flat"], "--flat is for --mode fast"),
        (["--from-offsets", f"{ES_PARTITION}:100"], "no kernel snapshot right before input offset 100"),
        (["--day", "2013-09-01"], "no partition has a 'session-start 2013-09-01' snapshot"),
        (["--day", "2013-09-03", "--from-offsets", "1:5"], "exactly one of --day or --from-offsets"),
        (["--from-offsets", "1:x"], "expected PARTITION:OFFSET"),
        (["--day", "2013-09-03", "--symbols", "NQ"], "no inputs in that range"),  # NQ hashes to partition 0, empty here
    ],
)
def test_replays_that_cannot_be_run_say_why(live_log: LiveLog, args: list[str], message: str) -> None:
    code, out = _replay(*args, "--namespace", live_log.namespace.prefix)
    assert code == 2
    assert message in " ".join(out.split())


def test_flat_replay_starts_empty_and_skips_the_comparison(live_log: LiveLog) -> None:
    code, out = _replay("--day", "2013-09-03", "--namespace", live_log.namespace.prefix, "--into", "flat", "--flat")
    assert code == 0, out
    assert "empty (--flat; settings of the snapshot)" in out
    assert "comparison with live skipped: --flat" in out


def test_the_replay_writes_only_to_its_own_topics(live_log: LiveLog, kafka_bootstrap: str) -> None:
    with LogReader(kafka_bootstrap) as reader:
        before = {s.name: reader.watermarks(live_log.namespace.topic(s)) for s in CATALOG}
        code, out = _replay("--day", "2013-09-03", "--namespace", live_log.namespace.prefix, "--into", "isolated", "--symbols", "ES")
        assert code == 0, out
        after = {s.name: reader.watermarks(live_log.namespace.topic(s)) for s in CATALOG}
        replay_space = Namespace(f"{live_log.namespace.prefix}replay.isolated.")
        replayed = reader.watermarks(replay_space.topic(FILLS))
        snapshots = [decode(EventCodec(), r) for b in reader.read(replay_space.topic(SNAPSHOTS), reader.watermarks(replay_space.topic(SNAPSHOTS))) for r in b]
    assert before == after
    assert sum(high for _, high in replayed.values()) > 0
    assert all(isinstance(s, KernelSnapshotTaken) for s in snapshots)


@pytest.mark.slow
def test_the_whole_sample_day_replays_identically(kafka_bootstrap: str) -> None:
    space = Namespace(f"test.replayday.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    try:
        live = publish_and_run_live(kafka_bootstrap, space, sample_ticks())
        code, out = _replay("--day", "2013-09-03", "--namespace", space.prefix, "--into", "day")
        assert code == 0, out
        assert f"offsets [{live.snapshots[DAY_START] + 1:,}, {live.inputs:,})" in out
        assert "deterministic" in out
    finally:
        admin.delete(CATALOG)
        _delete_replays(kafka_bootstrap, space)


# --- the pure helpers of the replay window (no broker needed) -------------------


@pytest.mark.parametrize(
    ("stamps", "head", "tail"),
    [
        ([5, 5, 6, 7, 7], [10, 11], [13, 14]),
        ([5, 6, 7], [10], [12]),
        ([5, 5, 5], [10, 11, 12], [10, 11, 12]),
        ([5, 6, 6, 5], [10], [13]),  # a step back in time still ends a run of equal stamps
        ([5, 6, 5, 5], [10], [12, 13]),  # the first millisecond's head ends at its first other stamp
    ],
)
def test_input_span_keeps_the_offsets_sharing_the_first_and_last_millisecond(stamps: list[int], head: list[int], tail: list[int]) -> None:
    records = [RawRecord("inputs", 0, offset, stamp, None, None, ()) for offset, stamp in enumerate(stamps, start=10)]
    # Record by record, as one batch, and split in two at every place: the replay observes whole read batches.
    splits = [[records[i : i + 1] for i in range(len(records))], [records]] + [[records[:cut], records[cut:]] for cut in range(len(records) + 1)]
    for batches in splits:
        span = InputSpan(0)
        for batch in batches:
            span.observe(batch)
        assert (span.head, span.tail) == (head, tail)
        assert (span.first_offset, span.last_offset, span.inputs) == (10, 9 + len(stamps), len(stamps))
        assert (span.first_ms, span.last_ms) == (stamps[0], stamps[-1])


@pytest.mark.parametrize("batch", [1, 7, PROGRESS_EVERY - 1, PROGRESS_EVERY, 3 * PROGRESS_EVERY])
def test_a_run_hears_its_progress_at_each_multiple_whatever_the_batches(batch: int) -> None:
    heard: list[int] = []
    run = ReplayRun({}, {}, progress=heard.append)
    total = 2 * PROGRESS_EVERY + 5
    records = [RawRecord("inputs", 0, offset, offset // 3, None, None, ()) for offset in range(total)]
    for start in range(0, total, batch):
        run.take(records[start : start + batch], [])
    assert heard == [PROGRESS_EVERY, 2 * PROGRESS_EVERY]
    assert (run.inputs, run.spans[0].inputs, run.spans[0].last_offset) == (total, total, total - 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0:5", {0: 5}), ("1:42158, 2:0", {1: 42158, 2: 0}), ("x", None), ("1:2,1:3", None), ("", None), ("1:-2", None)],
)
def test_offsets_are_parsed_strictly(text: str, expected: dict[int, int] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_offsets(text)
    else:
        assert parse_offsets(text) == expected
