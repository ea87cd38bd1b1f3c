"""Live tick -> fill latency with ticks paced at a fixed rate into one warmed-up worker.

    python -m bench.latency [--rate 5000] [--seconds 60] [--batch-wait-ms N]

Needs a broker (``aitrader stack up`` or KAFKA_BOOTSTRAP_SERVERS). In a fresh
namespace one live worker (``aitrader run processors``, the harness in
tests/workers.py) is started and warmed up: it holds all three input
partitions and has applied, flushed and committed a first slice of ticks (its
kernels built, its code paths run) before the clock starts. The multi-symbol
day's ticks (eventlog/sampledata.py, from ``--since``) then go onto the input
topic at a fixed ``--rate``, each with the header ``aitrader-ingest-wall-ms``
stamped as it is handed to the producer, as ``aitrader ingest`` stamps it. Ahead
of its schedule the pacer flushes before it sleeps, as ``aitrader ingest
--speed`` does, so a tick does not wait out the producer's ``linger.ms``;
behind it, the due ticks go at once and the producer batches them.

Latency of a fill: its broker append time minus the ingest header of the tick
whose apply derived it, which the fill names as its ``causation_id``
(oms/simulator.py). The append time is the broker's own stamp: this bench's
scratch ``fills`` topic alone is switched to ``message.timestamp.type=
LogAppendTime`` (the catalog keeps event times; nothing the worker reads uses a
fill's record time). It is the moment the fill is on the log, and unlike the
time a consumer in this process would see it, it does not depend on how this
process is scheduled on a loaded machine. The broker runs on this host, so both
stamps come from the same clock.

Beside it, the order chain's latency: from the tick that started the chain,
found by walking the ids (fill ``order_id`` -> ``OrderInitialized.intent_id`` ->
``OrderIntent.signal_id`` -> the signal's ``causation_id``). That is what the
worker's own histogram ``aitrader_tick_to_fill_wall_seconds`` observes
(processors/live/observe.py), at its ack rather than the append; it is scraped
from the worker's /metrics before and after the measured phase as a
cross-check. The chain also spans the simulated venue's latency
(``sim.latency_ms`` of event time), which at a fixed rate lasts as many ticks as
the market printed in it, so it says more about the pacing than the kernel.

The pacer's achieved rate and how far it ever fell behind its schedule are
reported: if it cannot hold ``--rate`` here, the figures say what it held.
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from aitrader.stack.endpoints import endpoints
from bench.common import figure, say, scratch_namespace
from contract.events import (
    Event,
    OrderFilled,
    OrderInitialized,
    OrderIntent,
    Signal,
    Tick,
)
from contract.records import decode
from contract.topics import (
    FILLS,
    INPUTS,
    INTENTS,
    ORDERS,
    SIGNALS,
    Namespace,
    TopicSpec,
)
from eventlog.admin import ADMIN_TIMEOUT_S, TopicAdmin
from eventlog.metrics import LATENCY_BUCKETS_S, ingest_wall_header, ingest_wall_ms
from eventlog.producer import EventProducer
from eventlog.sampledata import multi_symbol_ticks
from marketdata.synthetic import settings_text
from tests.metric_scrape import METRICS_LINE, scrape
from tests.workers import CODEC, WorkerGroup, read_records

START_S = 180.0
SETTLE_S = 600.0
WARMUP_S = 2.0  # of ticks at the rate, applied and committed before the clock starts
SINCE = "2013-09-03 08:30"  # the US open: every symbol trades, the strategy fills
UNTIL = "2013-09-03 09:30"  # about 325,000 ticks: 65 s at 5,000/s
QUANTILES = (0.5, 0.9, 0.99, 0.999)
# A busy strategy, so that a minute of ticks gives fills by the thousand (the defaults fill some twenty times a day):
# one-second bars, short averages, no cool-down, every score traded, risk's order rate opened up.
BUSY = {
    "pattern.bar_seconds": "1", "pattern.cooldown_bars": "0", "pattern.ema_fast": "2", "pattern.ema_slow": "4",
    "pattern.vol_window": "5", "pattern.volume_window": "3", "strategy.threshold": "0", "risk.max_orders_per_second": "1000",
}
WALL_HISTOGRAM = "aitrader_tick_to_fill_wall_seconds"


@dataclass(frozen=True)
class Paced:
    """What the pacer did: ticks sent, seconds from the first send to the last, and its worst lag behind schedule."""

    sent: int
    seconds: float
    behind_s: float

    @property
    def rate(self) -> float:
        return (self.sent - 1) / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Encoded:
    """A tick as the pacer sends it: encoded beforehand, so that encoding takes nothing from the rate."""

    event_id: str
    key: bytes
    value: bytes
    time_ms: int

    @classmethod
    def of(cls, tick: Tick) -> Encoded:
        return cls(tick.event_id, tick.symbol.encode(), CODEC.encode(tick), tick.event_time_ms)


def pace(producer: EventProducer, topic: str, ticks: Sequence[Encoded], rate: float) -> Paced:
    """Sends ``ticks`` to ``topic`` at ``rate`` per second, each stamped with the wall clock as it is handed over.

    Tick i is due ``i / rate`` seconds after the first. Behind schedule, the
    due ticks go at once (the producer batches them); ahead of it, the producer
    is flushed before sleeping, as ``aitrader ingest --speed`` does, so what was
    sent is on the broker and not waiting out the producer's linger.
    """
    started = time.monotonic()
    behind = 0.0
    last = started
    for i, tick in enumerate(ticks):
        due = started + i / rate
        now = time.monotonic()
        if now < due:
            producer.flush()
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
        else:
            behind = max(behind, now - due)
        last = time.monotonic()
        producer.send_raw(topic, tick.key, tick.value, tick.time_ms, ingest_wall_header())
    producer.flush()
    return Paced(len(ticks), last - started, behind)


def quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of an ascending sequence."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class Latencies:
    """One latency per fill, in ms, ascending."""

    ms: list[float]

    @classmethod
    def of(cls, values: Iterable[float]) -> Latencies:
        return cls(sorted(values))

    def summary(self) -> dict[str, float]:
        if not self.ms:
            return {"count": 0}
        found = {"count": len(self.ms)}
        found.update({f"p{q * 100:g}": quantile(self.ms, q) for q in QUANTILES})
        found["max"] = self.ms[-1]
        return found


def decoded(bootstrap: str, space: Namespace, spec: TopicSpec) -> list[tuple[int, Event]]:
    """(record time ms, event) of every record of a topic."""
    return [(record.timestamp_ms, decode(CODEC, record)) for record in read_records(bootstrap, space, spec)]


@dataclass(frozen=True)
class FillTiming:
    """One fill's latencies in ms: from its own tick, and from its chain's first; None when that tick was not measured."""

    own_ms: int | None
    chain_ms: int | None


def fill_timings(bootstrap: str, space: Namespace, measured: set[str]) -> list[FillTiming]:
    """Every fill whose own tick or chain's first tick is in ``measured``, in the fills topic's order.

    Every tick's ingest header is read back from the input topic, the fills'
    append times from the fills topic; the chain is walked by ids, never
    matched by time.
    """
    walls = {}
    for record in read_records(bootstrap, space, INPUTS):
        event_id = decode(CODEC, record).event_id
        if event_id in measured:
            walls[event_id] = ingest_wall_ms(record)
    orders = {e.order_id: e.intent_id for _, e in decoded(bootstrap, space, ORDERS) if isinstance(e, OrderInitialized)}
    intents = {e.event_id: e.signal_id for _, e in decoded(bootstrap, space, INTENTS) if isinstance(e, OrderIntent)}
    signals = {e.event_id: e.envelope.causation_id for _, e in decoded(bootstrap, space, SIGNALS) if isinstance(e, Signal)}
    timings = []
    for appended_ms, fill in decoded(bootstrap, space, FILLS):
        if not isinstance(fill, OrderFilled):
            continue
        own, first = walls.get(fill.envelope.causation_id), walls.get(signals[intents[orders[fill.order_id]]])
        if own is not None or first is not None:
            timings.append(FillTiming(None if own is None else appended_ms - own, None if first is None else appended_ms - first))
    return timings


def append_times(bootstrap: str, topic: str) -> None:
    """Has the broker stamp ``topic``'s records with their append time instead of the time the producer gives."""
    entry = ConfigEntry("message.timestamp.type", "LogAppendTime", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])
    admin = TopicAdmin(bootstrap)  # kept until the futures are done: its client's end would cancel them
    for future in admin.client.incremental_alter_configs([resource], request_timeout=ADMIN_TIMEOUT_S).values():
        future.result()


@dataclass(frozen=True)
class WorkerView:
    """What the worker's /metrics says: its wall tick -> fill histogram and its batches (counts since it started)."""

    buckets: dict[float, float]  # cumulative: upper bound (s) -> fills observed at or under it
    batches: float
    batch_s: float  # summed wall time of its apply + produce + flush steps
    inputs: float

    @classmethod
    def scraped(cls, url: str) -> WorkerView:
        found = scrape(url)

        def total(name: str) -> float:
            return sum(sample.value for family in found.values() for sample in family if sample.name == name)

        buckets = {float(s.labels["le"]): s.value for s in found.get(WALL_HISTOGRAM, []) if s.name == f"{WALL_HISTOGRAM}_bucket"}
        return cls(buckets, total("aitrader_batch_seconds_count"), total("aitrader_batch_seconds_sum"), total("aitrader_inputs_total"))

    def since(self, before: WorkerView) -> WorkerView:
        """What happened between ``before`` and this view."""
        buckets = {bound: n - before.buckets.get(bound, 0.0) for bound, n in self.buckets.items()}
        return WorkerView(buckets, self.batches - before.batches, self.batch_s - before.batch_s, self.inputs - before.inputs)


def histogram_quantile(counts: dict[float, float], q: float) -> float:
    """The upper bound (ms) of the bucket holding the ``q`` quantile: the histogram says no more than that."""
    total = counts.get(math.inf, 0.0)
    return next(bound * 1000 for bound, n in sorted(counts.items()) if n >= q * total)


def bucket(bound_ms: float) -> str:
    """A histogram quantile as the histogram can say it: at most a bucket's bound, or past the last one."""
    return f"<= {bound_ms:g} ms" if math.isfinite(bound_ms) else f"> {max(LATENCY_BUCKETS_S):g} s"


@dataclass(frozen=True)
class Run:
    paced: Paced
    fills: list[FillTiming]
    worker: WorkerView  # the worker's own metrics over the measured phase only
    drain_s: float  # from the last tick sent until the worker had committed every input: how far behind it ended

    @property
    def own(self) -> Latencies:
        return Latencies.of(f.own_ms for f in self.fills if f.own_ms is not None)

    @property
    def chain(self) -> Latencies:
        return Latencies.of(f.chain_ms for f in self.fills if f.chain_ms is not None)


def run(bootstrap: str, ticks: Sequence[Encoded], rate: float, warmup: int, scratch: Path, worker_args: Sequence[str]) -> Run:
    settings = scratch / "settings.conf"
    settings.write_text(settings_text() + "\n" + "".join(f"{key}={value}\n" for key, value in BUSY.items()))
    with scratch_namespace(bootstrap) as space:
        append_times(bootstrap, space.topic(FILLS))
        producer, topic = EventProducer(bootstrap, space), space.topic(INPUTS)
        with WorkerGroup(bootstrap, space, scratch / "logs", settings) as group:
            worker = group.start(args=worker_args)
            group.wait_until_shared(START_S)
            url = worker.wait_for(METRICS_LINE.pattern, START_S).group(1)
            say(f"worker holds every input partition; warming up with {warmup:,} ticks")
            pace(producer, topic, ticks[:warmup], rate)
            group.wait_until_committed(SETTLE_S)
            before = WorkerView.scraped(url)
            say(f"pacing {len(ticks) - warmup:,} ticks at {rate:,.0f}/s")
            paced = pace(producer, topic, ticks[warmup:], rate)
            drain_s = group.wait_until_committed(SETTLE_S)
            after = WorkerView.scraped(url)
            group.stop()
        fills = fill_timings(bootstrap, space, {tick.event_id for tick in ticks[warmup:]})
    return Run(paced, fills, after.since(before), drain_s)


def day_ticks(count: int, since: str, until: str) -> list[Encoded]:
    """The multi-symbol day's first ``count`` ticks from ``since`` (fewer if ``until`` comes first), encoded."""
    say(f"reading the multi-symbol day from {since} to {until}")
    return [Encoded.of(tick) for tick in itertools.islice(multi_symbol_ticks(since=since, until=until), count)]


def measure(
    rate: float = 5000.0, seconds: float = 60.0, since: str = SINCE, until: str = UNTIL, batch_wait_ms: int | None = None
) -> dict:
    """Prints the figures and returns them."""
    bootstrap = endpoints()[0]
    warmup = round(rate * WARMUP_S)
    ticks = day_ticks(warmup + round(rate * seconds), since, until)
    worker_args = [] if batch_wait_ms is None else ["--batch-wait-ms", str(batch_wait_ms)]
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as scratch:
        result = run(bootstrap, ticks, rate, warmup, Path(scratch), worker_args)
    paced, own, chain = result.paced, result.own, result.chain
    wait = "the worker's default" if batch_wait_ms is None else f"{batch_wait_ms} ms"
    print(f"multi-symbol day from {since}: {paced.sent:,} ticks paced at {rate:,.0f}/s after {warmup:,} warm-up ticks; "
          f"batch wait {wait}")
    print(f"pacer held {paced.rate:,.0f} ticks/s over {paced.seconds:.1f} s, at worst {paced.behind_s * 1000:,.1f} ms behind schedule")
    print(f"the worker had committed every input {result.drain_s:.1f} s after the last tick was sent")
    header = "".join(f"{name:>10}" for name in ("fills", *(f"p{q * 100:g}" for q in QUANTILES), "max"))
    print(f"{'tick -> fill append, ms':<34}{header}")
    for label, latencies in (("from the fill's own tick", own), ("from the chain's first tick", chain)):
        row = latencies.summary()
        print(f"{label:<34}{row['count']:>10,}" + "".join(f"{value:>10.1f}" for key, value in row.items() if key != "count"))
    worker = result.worker
    histogram, observed = worker.buckets, worker.buckets.get(math.inf, 0.0)
    if observed:
        under = histogram.get(0.01, 0.0) / observed
        bounds = ", ".join(f"p{q * 100:g} {bucket(histogram_quantile(histogram, q))}" for q in QUANTILES)
        print(f"worker's {WALL_HISTOGRAM} (chain, at its ack): {observed:,.0f} fills, {under:.1%} within 10 ms; {bounds}")
    if worker.batches:
        # Where the time goes: a tick waits for its batch to close (--batch-wait-ms, or the batch before it), then
        # for the batch's apply + produce + flush.
        print(f"worker: {worker.batches:,.0f} batches, {worker.inputs / worker.batches:,.1f} inputs and "
              f"{worker.batch_s / worker.batches * 1000:,.1f} ms of apply + produce + flush each on average")
    figures = [
        figure("ticks/s the pacer held", paced.rate, "ticks/s"),
        figure("fills measured", len(own.ms), "fills"),
        figure("worker done after the last tick", result.drain_s * 1000, "ms"),
        *(figure(f"tick -> fill: {key}", value, "ms") for key, value in own.summary().items() if key != "count"),
        *(figure(f"chain's first tick -> fill: {key}", value, "ms") for key, value in chain.summary().items() if key != "count"),
    ]
    return {"bench": "latency", "rate": rate, "ticks": paced.sent, "batch_wait_ms": batch_wait_ms, "figures": figures,
            "worker_histogram": {str(bound): n for bound, n in sorted(histogram.items())},
            "worker_batches": worker.batches, "worker_batch_seconds": worker.batch_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0, help="ticks per second to pace at (default 5000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the measured phase at the rate (default 60)")
    parser.add_argument("--since", default=SINCE, help=f"CME time the ticks start at (default {SINCE!r})")
    parser.add_argument("--until", default=UNTIL, help=f"CME time the ticks may run to (default {UNTIL!r}); fewer ticks, a shorter run")
    parser.add_argument("--batch-wait-ms", type=int, help="the worker's --batch-wait-ms (default: its own default)")
    options = parser.parse_args()
    measure(options.rate, options.seconds, options.since, options.until, options.batch_wait_ms)


if __name__ == "__main__":
    main()
