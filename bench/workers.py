"""Live throughput with 1, 2 and 3 live workers sharing the three input partitions.

    python -m bench.workers [--every 4] [--since ...] [--until ...]

Needs a broker (``aitrader stack up`` or KAFKA_BOOTSTRAP_SERVERS). For each
worker count, in a fresh namespace: the multi-symbol day (every Nth trade) is
ingested, then the workers are started as an operator starts them
(``aitrader run processors``, the harness in tests/workers.py) with their
first batch held at a closed gate (``AITRADER_FAULT=hold-before-apply``), so
that start-up and the rebalances as they join are over before the clock runs.
Reported per count:

- processing: from opening the gate until the group's committed offsets reach
  the inputs' end offsets, i.e. every output durable (the broker is asked);
- wall: from starting the workers until then, start-up and rebalances included;
- each worker's own rate (its inputs from its first to its last flush).

A partition is one kernel on one worker, so the group can go no faster than
the worker holding the busiest partition: on this day partition 1 (ES, SYN_NQ,
SYN_SP500_ETF) has most of the inputs. Workers are separate processes, so on a
machine with fewer cores than workers they also compete for the same CPUs; the
figures say what this machine does, no more.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aitrader.stack.endpoints import endpoints
from bench.common import figure, scratch_namespace
from contract.topics import INPUTS
from eventlog.sampledata import WrittenDay, write_multi_symbol_day
from tests.workers import WorkerGroup, end_offsets, ingest

COUNTS = (1, 2, 3)
START_S = 180.0
RUN_S = 1800.0
SUMMARY = re.compile(r"processed ([\d,]+) inputs .*: ([\d,]+) inputs/s")


@dataclass(frozen=True)
class Run:
    workers: int
    partitions: dict[int, int]  # inputs per input partition
    processing_s: float
    wall_s: float
    per_worker: list[tuple[int, int]]  # (inputs, inputs/s) from each worker's final summary


def measure_count(bootstrap: str, day: WrittenDay, workers: int, logs: Path) -> Run:
    with scratch_namespace(bootstrap) as space:
        ingest(bootstrap, space, day)
        partitions = end_offsets(bootstrap, space, INPUTS)
        logs.mkdir(parents=True, exist_ok=True)
        gate = logs / f"gate-{workers}"
        gate.touch()
        started = time.monotonic()
        with WorkerGroup(bootstrap, space, logs / f"{workers}-workers", day.settings) as group:
            for _ in range(workers):
                group.start(fault=f"hold-before-apply:0:{gate}")
            group.wait_until_shared(START_S)
            for worker in group.workers:
                worker.wait_for("fault hold-before-apply: holding", START_S)
            released = time.monotonic()
            gate.unlink()
            group.wait_until_committed(RUN_S)
            done = time.monotonic()
            group.stop()
        summaries = [SUMMARY.search(worker.text()) for worker in group.workers]
    per_worker = [(int(s.group(1).replace(",", "")), int(s.group(2).replace(",", ""))) for s in summaries if s is not None]
    return Run(workers, partitions, done - released, done - started, per_worker)


def rate(run: Run) -> float:
    return sum(run.partitions.values()) / run.processing_s


def measure(every: int = 10, since: str | None = None, until: str | None = None) -> dict:
    """Prints the figures and returns them."""
    bootstrap = endpoints()[0]
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as scratch:
        directory = Path(scratch)
        day = write_multi_symbol_day(directory / "day", every=every, since=since, until=until)
        runs = [measure_count(bootstrap, day, count, directory / "logs") for count in COUNTS]

    counts = runs[0].partitions
    shares = ", ".join(f"[{p}] {n:,}" for p, n in sorted(counts.items()))
    print(f"multi-symbol day, every {every}: {sum(counts.values()):,} inputs ({shares})")
    print("workers  processing        inputs/s   wall w/ start-up   each worker (inputs @ inputs/s first to last flush)")
    for run in runs:
        each = ", ".join(f"{n:,} @ {per_s:,}" for n, per_s in run.per_worker)
        print(f"{run.workers:>7}  {run.processing_s:>8.1f} s  {rate(run):>12,.0f}   {run.wall_s:>13.1f} s   {each}")
    print("speed-up over one worker: " + ", ".join(f"{r.workers}: {rate(r) / rate(runs[0]):.2f}x" for r in runs))
    return {
        "bench": "workers",
        "inputs": sum(counts.values()),
        "figures": [
            figure(f"{run.workers} worker{'s' if run.workers > 1 else ''}: processing", rate(run), "inputs/s") for run in runs
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=10, help="keep every Nth trade of the sample (default 10)")
    parser.add_argument("--since", help="CME time, e.g. '2013-09-02 17:00' (default: the sample's start)")
    parser.add_argument("--until", help="CME time (default: the sample's end)")
    options = parser.parse_args()
    measure(options.every, options.since, options.until)


if __name__ == "__main__":
    main()
