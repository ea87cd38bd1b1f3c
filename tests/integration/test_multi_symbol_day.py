"""The multi-symbol day on a real broker: replay --day per partition, across venues, in both modes.

The log is the golden multi-symbol day (``tests/multi_symbol_day.py``, every
28th trade: 48,784 inputs on 3 partitions) with the kernels' outputs, made in
process as the live kernel makes them. Partition 1 holds ES and SYN_NQ (CME)
and SYN_SP500_ETF (NYSE, closed on Labor Day), so its 2013-09-03 begins with
CME's session (09-02 17:00 Chicago) and the NYSE symbol joins it at 08:30.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aitrader.commands.replay import replay
from contract.events import Event, KernelSnapshotTaken
from contract.topics import CATALOG, CONTROL, Namespace
from eventlog.admin import TopicAdmin
from eventlog.producer import EventProducer
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings
from tests.integration.test_replay import _delete_replays, invoke
from tests.multi_symbol_day import SETTINGS, partition_inputs
from tests.seed import SeedReport, put_inputs, seed_partitions
from tests.workers import first_difference, killed_and_restored

RUN_S = 240.0

pytestmark = pytest.mark.infra


@dataclass(frozen=True)
class Day:
    namespace: Namespace
    inputs: dict[int, list[Event]]
    seeded: SeedReport

    def day_ranges(self, day: str) -> dict[int, tuple[int, int]]:
        """Per partition, [first input, end) of ``day``, from the snapshots a pure kernel takes on the same inputs."""
        ranges = {}
        for partition, events in self.inputs.items():
            kernel = TradingKernel(partition, KernelSettings.parse(SETTINGS), BaselineScorer())
            starts: dict[str, int] = {}
            for offset, event in enumerate(events):
                for out in kernel.apply(event, offset):
                    if isinstance(out, KernelSnapshotTaken) and out.reason.startswith("session-start "):
                        starts[out.reason.removeprefix("session-start ")] = offset
            following = [offset for d, offset in starts.items() if d > day]
            ranges[partition] = (starts[day], min(following, default=len(events)))
        return ranges


@pytest.fixture(scope="module")
def day(kafka_bootstrap: str) -> Iterator[Day]:
    space = Namespace(f"test.{secrets.token_hex(4)}.")
    admin = TopicAdmin(kafka_bootstrap, space)
    admin.create()
    inputs = partition_inputs(every=28)
    try:
        yield Day(space, inputs, seed_partitions(kafka_bootstrap, space, inputs, SETTINGS))
    finally:
        _delete_replays(kafka_bootstrap, space)
        admin.delete(CATALOG)


@pytest.mark.parametrize(("day_text", "mode"), [("2013-09-02", "fast"), ("2013-09-03", "fast"), ("2013-09-03", "pipeline")])
def test_replay_of_a_day_runs_each_partition_from_its_own_day_start_and_is_identical(
    day: Day, day_text: str, mode: str, tmp_path: Path
) -> None:
    args = ("--day", day_text, "--mode", mode, "--namespace", day.namespace.prefix, "--into", f"{mode}{day_text}")
    code, out = invoke(replay, *args, "--report", str(tmp_path))
    assert code == 0, out
    assert "deterministic" in out and "DIFFERENT" not in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert {int(p): (r["start"], r["end"]) for p, r in report["inputs"].items()} == day.day_ranges(day_text)
    assert report["determinism"]["topics"]["control"]["replay"]["events"] > 0  # the day's kill switches
    assert report["determinism"]["topics"]["orders"]["replay"]["events"] > 0


def test_the_live_worker_killed_between_apply_and_flush_derives_the_pure_kernels_bytes(
    kafka_bootstrap: str, namespace: Namespace, day: Day, tmp_path: Path
) -> None:
    """The same inputs on a fresh log, the live worker killed mid-day and restarted: halts and REDUCING included."""
    put_inputs(EventProducer(kafka_bootstrap, namespace), day.inputs)
    # Killed once partition 1 has passed the 09-03 session start (its snapshot) and before the day's halt.
    survivor, got, expected = killed_and_restored(kafka_bootstrap, namespace, SETTINGS, tmp_path / "logs", 30_000, RUN_S)
    assert "snapshot after input" in survivor.text(), survivor.tail()  # recovered from a snapshot, not from the start
    assert got == expected, first_difference(got, expected)
    assert {p for topic, p in expected if topic == CONTROL.name} == {0, 1, 2}
