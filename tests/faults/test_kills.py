"""Every long-running process SIGKILLed at seeded points of a multi-symbol day's run, restarted, and nothing lost.

The live worker, the projector, the notary and the account monitor run over
one namespace while a slice of the multi-symbol day (``tests/multi_symbol_day.py``
settings, three input partitions) flows through them; each is killed where its
own fault point says work is in flight (``eventlog/faults.py``) and restarted by
the harness (``tests/faults/chaos.py``). Afterwards nothing is lost or doubled
(``tests/faults/checks.py``: the pure kernel's bytes, every fill once, the read
models of a clean projection, every topic verified against the checkpoints).

The seed is printed and ``AITRADER_CHAOS_SEED`` replays it.
"""

from __future__ import annotations

import os
import random
import sys
from collections import Counter
from pathlib import Path

import pytest

from aitrader.commands.common import parse_settings
from contract.topics import FILLS, INPUTS, Namespace
from eventlog.audit.onlog import EVENT_TOPICS
from eventlog.sampledata import write_multi_symbol_day
from kernel.settings import KernelSettings
from projections.registry import TOPICS
from tests.faults.chaos import (
    MONITOR_POINTS,
    NOTARY_POINTS,
    PROJECTOR_POINTS,
    WORKER_POINTS,
    Chaos,
    Kind,
    chaos_seed,
    committed_to_end,
    plan,
)
from tests.faults.checks import assert_nothing_lost
from tests.scratch import drop_with_companions, fresh_schema
from tests.workers import (
    ingest,
    pure_kernel,
    read_records,
)

pytestmark = pytest.mark.infra

SINCE, UNTIL = "2013-09-01 17:00", "2013-09-03 09:00"
WORKER_BATCH = 500
PROJECTOR_BATCH = 500
SEAL_EVERY = 1_000


def _run(kafka_bootstrap: str, database_url: str, namespace: Namespace, tmp_path: Path, every: int, kills: int,
         timeout_s: float) -> None:
    seed = chaos_seed()
    print(f"chaos seed {seed} (AITRADER_CHAOS_SEED={seed} replays it)", file=sys.stderr)
    rng = random.Random(seed)
    day = write_multi_symbol_day(tmp_path / "day", every=every, since=SINCE, until=UNTIL)
    ingest(kafka_bootstrap, namespace, day)
    settings = KernelSettings.parse(parse_settings(day.settings, []))
    inputs = read_records(kafka_bootstrap, namespace, INPUTS)
    derived = pure_kernel(inputs, settings)
    fills = [d for d in derived if d.topic == FILLS.name]
    assert {d.partition for d in fills} == {0, 1, 2}, "the slice must trade on every partition"

    schema = fresh_schema(database_url, "chaos")
    try:
        prefix, keys = namespace.prefix, tmp_path / "notary"
        projected = len(inputs) + sum(d.topic in {s.name for s in TOPICS} for d in derived)
        # Checkpoints the notary makes at least: one per SEAL_EVERY records of a partition, and one for each tail.
        held = Counter((INPUTS.name, r.partition) for r in inputs) + Counter(
            (d.topic, d.partition) for d in derived if d.topic in {s.name for s in EVENT_TOPICS})
        seals = sum(max(1, n // SEAL_EVERY) for n in held.values())
        worker = Kind("processors", ("run", "processors", "--namespace", prefix, "--settings", str(day.settings),
                                     "--batch", str(WORKER_BATCH)), WORKER_POINTS, len(inputs), WORKER_BATCH)
        projector_args = ("run", "projector", "--namespace", prefix, "--schema", schema, "--batch-size", str(PROJECTOR_BATCH),
                          "--no-migrate")
        projector = Kind("projector", projector_args, PROJECTOR_POINTS, projected)
        notary_args = ("run", "notary", "--namespace", prefix, "--key-dir", str(keys), "--every", str(SEAL_EVERY))
        notary = Kind("notary", (*notary_args, "--seal-after", "1", "--poll", "0.2"), NOTARY_POINTS, seals)
        monitor = Kind("monitor", ("run", "monitor", "--namespace", prefix), MONITOR_POINTS, len(fills))
        kinds = (worker, projector, notary, monitor)
        plans = {kind.name: plan(rng, kind, kills) for kind in kinds}
        print(f"kill plans: {plans}", file=sys.stderr)
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url}
        chaos = Chaos(env, tmp_path / "logs", {name: list(faults) for name, faults in plans.items()})
        try:
            for kind in kinds:
                chaos.start(kind)
            chaos.supervise(lambda: committed_to_end(kafka_bootstrap, namespace), timeout_s)
            # The monitor acts by writing inputs: it stops first, then the kernel finishes what it wrote.
            chaos.stop(monitor.name)
            chaos.supervise(lambda: committed_to_end(kafka_bootstrap, namespace), timeout_s)
        finally:
            chaos.stop_all()
        # The projector's and the notary's last lives run to the end of the log and exit.
        chaos.finish(projector.name, (*projector_args, "--stop-at-end"))
        chaos.finish(notary.name, (*notary_args, "--once"))

        survived = Counter(kill.kind for kill in chaos.kills)
        print(f"kills survived: {dict(survived)}", file=sys.stderr)
        for kill in chaos.kills:
            print(f"  {kill.kind} life {kill.life} ({kill.fault}): {kill.line}", file=sys.stderr)
        assert survived == {kind.name: kills for kind in kinds}, chaos.tails()

        checked = assert_nothing_lost(kafka_bootstrap, database_url, namespace, settings, schema, keys, chaos)
        print(f"records checked: {checked}", file=sys.stderr)
    finally:
        drop_with_companions(database_url, schema)


def test_every_process_killed_twice_mid_work_loses_nothing(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, tmp_path: Path
) -> None:
    _run(kafka_bootstrap, database_url, namespace, tmp_path, every=40, kills=2, timeout_s=420.0)


@pytest.mark.long
@pytest.mark.timeout(2 * 1800 + 1200)  # two supervised phases, then the last lives and the checks
def test_fifty_kills_across_the_processes_lose_nothing(
    kafka_bootstrap: str, database_url: str, namespace: Namespace, tmp_path: Path
) -> None:
    _run(kafka_bootstrap, database_url, namespace, tmp_path, every=10, kills=13, timeout_s=1800.0)
