"""Several live workers sharing the input partitions, killed, added and rebalanced, on a real broker.

Whatever the group goes through, what it puts on the derived topics,
deduplicated by event id, must be byte for byte what the pure kernel derives
from the same input records, per partition. The multi-symbol day's slice used
here touches all three input partitions (SYN_YM on 0; ES and SYN_NQ on 1;
SYN_ZN on 2). Faults come from ``AITRADER_FAULT`` (``eventlog/faults.py``),
never from timing luck; the harness is ``tests/workers.py``.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from aitrader.commands.common import parse_settings
from contract.topics import FILLS, INPUTS, Namespace
from eventlog.kafka_security import client_config
from eventlog.sampledata import WrittenDay, write_multi_symbol_day
from kernel.settings import KernelSettings
from processors.live.app import group_id
from tests.workers import (
    WorkerGroup,
    as_outputs,
    batch_ranges,
    copies_on_log,
    derived_on_log,
    first_difference,
    ingest,
    pure_kernel,
    read_records,
)

pytestmark = pytest.mark.infra

# Every 10th trade from the Sunday open through Labor Day to NYSE's first half hour on 2013-09-03: 45,000 ticks,
# two venues, the session-start snapshots of 09-03, and outputs every few hundred inputs on every partition.
EVERY, SINCE, MIDDLE, UNTIL = 10, "2013-09-01 17:00", "2013-09-03 05:00", "2013-09-03 09:00"
START_S = 90.0  # starting Python, Faust and the first rebalance on two busy cores
RUN_S = 240.0
# A worker applying a batch (a kernel rebuilt from the log, on two busy cores) answers a rebalance after it.
REBALANCE_S = 150.0


def _day(tmp_path: Path, name: str, since: str, until: str, every: int = EVERY) -> WrittenDay:
    return write_multi_symbol_day(tmp_path / name, every=every, since=since, until=until)


def _settings(day: WrittenDay) -> KernelSettings:
    return KernelSettings.parse(parse_settings(day.settings, []))


def _groups_of(bootstrap: str, namespace: Namespace) -> dict[str, int]:
    """The consumer groups the broker knows for this namespace's kernel, and how many members each has now."""
    admin = AdminClient(client_config(bootstrap))
    names = [g.group_id for g in admin.list_consumer_groups().result().valid if g.group_id.startswith(group_id(namespace))]
    described = admin.describe_consumer_groups(names) if names else {}
    return {name: len(future.result().members) for name, future in described.items()}


def _assert_group_derived_what_the_kernel_derives(group: WorkerGroup, settings: KernelSettings) -> None:
    inputs = read_records(group.bootstrap, group.namespace, INPUTS)
    expected = as_outputs(pure_kernel(inputs, settings))
    assert {p for topic, p in expected if topic == FILLS.name} == {0, 1, 2}, "the slice must trade on every partition"
    got = derived_on_log(group.bootstrap, group.namespace)
    assert got == expected, f"the group and the pure kernel disagree: {first_difference(got, expected)}"


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_workers_sharing_the_partitions_derive_what_one_kernel_per_partition_derives(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path, workers: int
) -> None:
    day = _day(tmp_path, "day", SINCE, UNTIL)
    with WorkerGroup(kafka_bootstrap, namespace, tmp_path / "logs", day.settings) as group:
        for _ in range(workers):
            group.start()
        shares = group.wait_until_shared(START_S)
        # Only the kernel's consumers are members of the kernel's group; Faust, the host, joins no group.
        assert _groups_of(kafka_bootstrap, namespace) == {group_id(namespace): workers}
        ingest(kafka_bootstrap, namespace, day)
        group.wait_until_committed(RUN_S)
        codes = group.stop()
    assert set(codes.values()) == {0}, group.tails()
    # Each worker rebuilt exactly the kernels of the partitions it was given, and no other.
    for worker in group.workers:
        assert set(worker.recovered()) == shares[worker.name], group.tails()
    _assert_group_derived_what_the_kernel_derives(group, _settings(day))


@pytest.mark.parametrize(
    "every, middle, until, kill_after",
    [
        pytest.param(EVERY, MIDDLE, UNTIL, 2_000, id="45k-ticks"),
        # 183,000 ticks: the doomed worker runs for seconds (Faust commits every 2.8 s), so the survivor takes over
        # from a committed offset and a snapshot, not from the start.
        pytest.param(2, "2013-09-03 08:00", "2013-09-03 08:40", 8_000, id="183k-ticks", marks=pytest.mark.long),
    ],
)
def test_a_survivor_takes_over_a_killed_worker_then_shares_with_a_worker_added_mid_run(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path, every: int, middle: str, until: str, kill_after: int
) -> None:
    first, second = _day(tmp_path, "first", SINCE, middle, every), _day(tmp_path, "second", middle, until, every)
    gate = tmp_path / "gate"
    with WorkerGroup(kafka_bootstrap, namespace, tmp_path / "logs", first.settings) as group:
        # Small batches, so the doomed worker flushes some before the one it dies in; each partition has more
        # than ``kill_after`` inputs in the first part, so it dies there whichever partitions it holds.
        doomed = group.start(fault=f"kill-after-apply:{kill_after}", args=["--batch", "1000"])
        survivor = group.start(fault=f"hold-before-apply:0:{gate}", args=["--batch", "1000"])
        shares = group.wait_until_shared(START_S)
        ingest(kafka_bootstrap, namespace, first)

        # Killed after applying a batch, before flushing it: its outputs never reached the broker.
        assert doomed.process.wait(timeout=RUN_S) == -signal.SIGKILL, group.tails()
        assert "fault kill-after-apply: SIGKILL after" in doomed.text()
        group.wait_until_committed(RUN_S)
        assert group.alive == [survivor]
        # The doomed worker held its partitions from before the first input until it died: the survivor
        # rebuilt their kernels after the kill (from the log, as far as the doomed worker had committed).
        assert survivor.assignments()[-1] == {0, 1, 2}, group.tails()
        assert set(shares[doomed.name]) <= set(survivor.recovered()), group.tails()

        # More input while the survivor holds a batch of it; a new worker joins and takes a share.
        gate.touch()
        mark = len(survivor.text())
        ingest(kafka_bootstrap, namespace, second)
        survivor.wait_for("fault hold-before-apply: holding", START_S, since=mark)
        added = group.start()
        added.wait_for("recovered partition", REBALANCE_S)
        gate.unlink()
        group.wait_until_committed(RUN_S)
        codes = group.stop()
    assert codes[survivor.name] == codes[added.name] == 0, group.tails()
    assert added.recovered() and set(added.recovered()) < {0, 1, 2}, group.tails()
    _assert_group_derived_what_the_kernel_derives(group, _settings(first))


def test_records_in_hand_for_a_revoked_partition_are_neither_applied_nor_produced(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    day = _day(tmp_path, "day", SINCE, UNTIL)
    ingest(kafka_bootstrap, namespace, day)  # all of it waits: the first worker's batches are full
    gate = tmp_path / "gate"
    gate.touch()
    with WorkerGroup(kafka_bootstrap, namespace, tmp_path / "logs", day.settings) as group:
        # Batches fill up to 5,000 instead of leaving after the default wait.
        first = group.start(fault=f"hold-before-apply:1:{gate}", args=["--batch-wait-ms", "2000"])
        held = batch_ranges(first.wait_for(r"fault hold-before-apply: holding.*", START_S).group(0))
        second = group.start()
        # Rebalances are eager: before the second worker got its share, the first gave up every partition,
        # those of the held batch included, whichever of them it got back.
        second.wait_for(r"assigned input partitions \[\d", REBALANCE_S)
        gate.unlink()
        group.wait_until_committed(RUN_S)
        group.stop()

    # Their outputs are on the log once, from the partitions' owners after the rebalance: the held batch was
    # neither applied nor produced, and its records were read again from the committed offsets.
    derived = pure_kernel(read_records(kafka_bootstrap, namespace, INPUTS), _settings(day))
    caught = [d for d in derived if d.input_partition in held and held[d.input_partition][0] <= d.input_offset <= held[d.input_partition][1]]
    assert caught, "the held records derive nothing: hold a later batch"
    copies = copies_on_log(kafka_bootstrap, namespace)
    twice = [d for d in caught if copies.get(d.event_id, 0) != 1]
    assert twice == [], (
        f"{len(twice)} of the {len(caught)} events derived from held inputs of revoked partitions {sorted(held)} "
        f"are on the log {sorted({copies.get(d.event_id, 0) for d in twice})} times\n{group.tails()}"
    )
    for partition, (low, high) in held.items():
        assert f"not applied: partition {partition} offsets {low}-{high}" in first.text(), group.tails()
    _assert_group_derived_what_the_kernel_derives(group, _settings(day))


def test_a_worker_killed_between_apply_and_flush_has_committed_no_offset_of_that_batch(
    kafka_bootstrap: str, namespace: Namespace, tmp_path: Path
) -> None:
    day = _day(tmp_path, "day", SINCE, UNTIL)
    ingest(kafka_bootstrap, namespace, day)
    with WorkerGroup(kafka_bootstrap, namespace, tmp_path / "logs", day.settings) as group:
        # Batches of 1,000: several are flushed and committed before the one the worker dies in.
        doomed = group.start(fault="kill-after-apply:6000", args=["--batch", "1000"])
        assert doomed.process.wait(timeout=START_S + RUN_S) == -signal.SIGKILL, group.tails()
        killed = batch_ranges(re.search(r"fault kill-after-apply: SIGKILL after .*", doomed.text()).group(0))
        committed = group.committed()
    assert killed, doomed.tail()
    assert any(offset > 0 for offset in committed.values()), f"no batch was committed before the kill: {committed}"
    # Applied, its outputs queued, not flushed: none of its offsets may be committed.
    past = {p: (low, committed[p]) for p, (low, _) in killed.items() if committed[p] > low}
    assert not past, f"committed past the first offset of the batch in hand (partition: (first, committed)): {past}"
    # And every input that is committed has its outputs on the log.
    on_log = copies_on_log(kafka_bootstrap, namespace)
    expected = pure_kernel(read_records(kafka_bootstrap, namespace, INPUTS), _settings(day))
    missing = [d for d in expected if d.input_offset < committed.get(d.input_partition, -1) and d.event_id not in on_log]
    assert not missing, f"{len(missing)} outputs of committed inputs are not on the log, first {missing[0]}"
