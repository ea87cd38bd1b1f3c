"""Live pipeline throughput: ticks/s through the live worker on the broker against the pure kernel.

    python -m bench.pipeline

Needs a broker (``aitrader stack up`` or KAFKA_BOOTSTRAP_SERVERS). Puts the
whole sample day in a fresh namespace and reports, over the same ticks:

- the pure ``TradingKernel`` in one process (decoded ticks in, events out);
- recovery: the same kernel fed by the group-less log reader (fetch + decode +
  apply, outputs discarded), which is how a worker rebuilds state on start;
- the live worker (``processors/live/app.py``): consume, apply, produce every
  output, wait for the acks, commit; from its first input to its last flush,
  and wall time with start-up.
"""

from __future__ import annotations

import logging
import time

from aitrader.stack.endpoints import endpoints
from bench.common import figure, rate, sample_ticks, scratch_namespace
from contract.events import Event, Tick
from contract.topics import INPUTS
from eventlog.producer import EventProducer
from inference.baseline import BaselineScorer
from inference.scorer import Scorer
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings
from marketdata.calendar import VenueCalendars
from processors.live.app import LiveWorker, PipelineConfig, end_offsets
from processors.live.recovery import recover_kernel

CALENDARS = VenueCalendars()


def pure_kernel(ticks: list[Tick], scorer: Scorer | None = None, kernel: TradingKernel | None = None) -> list[Event]:
    """The events ``kernel`` (by default an empty one on the built-in settings, scoring with ``scorer``) derives from ``ticks``."""
    kernel = kernel or TradingKernel(0, KernelSettings.parse(), scorer or BaselineScorer(), CALENDARS)
    out: list[Event] = []
    for offset, tick in enumerate(ticks):
        out += kernel.apply(tick, offset)
    return out


def measure(limit: int | None = None) -> dict:
    """Prints the figures (the sample's first ``limit`` ticks, or all) and returns them."""
    ticks = sample_ticks(limit)
    n = len(ticks)
    CALENDARS("CME").session_of(ticks[0].event_time_ms)  # warm the calendar's year cache
    derived: list[Event] = []
    pure_s, pure_rate = rate(n, lambda: derived.extend(pure_kernel(ticks)))

    bootstrap = endpoints()[0]
    with scratch_namespace(bootstrap) as space:
        producer = EventProducer(bootstrap, space)
        for tick in ticks:
            producer.send(INPUTS, tick.symbol, tick)
        producer.flush()
        partition = next(p for p, end in end_offsets(bootstrap, space).items() if end)

        scorer = BaselineScorer()
        settings = KernelSettings.parse()
        recovery_s, recovery_rate = rate(
            n, lambda: recover_kernel(bootstrap, space, partition, n, settings, scorer, CALENDARS)
        )

        worker = LiveWorker(PipelineConfig(bootstrap, space, settings, scorer, stop_at_end=True), loglevel="warning")
        started = time.monotonic()
        code = worker.run()
        wall_s = time.monotonic() - started
        stats = worker.pipeline.stats
    if code or stats.inputs != n:
        raise SystemExit(f"the worker stopped with code {code} after {stats.inputs:,} of {n:,} inputs")
    live_rate = stats.inputs / stats.busy_seconds

    print(f"ticks                          {n:>12,}")
    print(f"derived events (pure kernel)   {len(derived):>12,}   worker: {stats.outputs:,} in {stats.batches:,} batches")
    print(f"pure TradingKernel             {pure_rate:>12,.0f} ticks/s  ({pure_s:.2f} s)")
    print(f"recovery (log reader + kernel) {recovery_rate:>12,.0f} ticks/s  ({recovery_s:.2f} s)")
    print(f"live worker, first to last     {live_rate:>12,.0f} ticks/s  ({stats.busy_seconds:.2f} s)")
    wall_rate = n / wall_s
    print(f"live worker, wall w/ start-up  {wall_rate:>12,.0f} ticks/s  ({wall_s:.2f} s)")
    print(f"live worker / pure kernel      {live_rate / pure_rate:>12.3f}")
    return {
        "bench": "pipeline",
        "ticks": n,
        "figures": [
            figure("pure TradingKernel", pure_rate, "ticks/s"),
            figure("recovery (log reader + kernel)", recovery_rate, "ticks/s"),
            figure("live worker, first to last", live_rate, "ticks/s"),
            figure("live worker, wall w/ start-up", wall_rate, "ticks/s"),
            figure("live worker / pure kernel", live_rate / pure_rate, "x"),
        ],
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    measure()


if __name__ == "__main__":
    main()
