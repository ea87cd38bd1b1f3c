"""Scaling: one fixed tick budget split across 1, 10 and 100 symbols, through every stage the other benches time.

    python -m bench.scaling [--every 5] [--since ...] [--until ...] [--counts 1,10,100] [--no-worker]

Needs a broker (``aitrader stack up`` or KAFKA_BOOTSTRAP_SERVERS). The symbols
are ``marketdata.synthetic.scaled_symbols``: ES-like futures that share the
sample day's rows out (symbol k takes rows k, k + N, ...), spread over the
input partitions by their keys, so every symbol count has the same ticks to
handle. For each count, on the same ticks:

- kernel only: one ``TradingKernel`` holding every symbol, on decoded ticks
  (``bench.pipeline.pure_kernel``);
- decode: the day's input records into the kernel's types (as ``bench.decode``);
- fast replay: trading day 2013-09-03 from its session-start snapshots, every
  partition (read + decode + kernel + produce + acks; ``bench.replay``);
- live worker: one live worker over the ingested files, gate opened to the
  last commit (``bench.workers`` with 1 worker);
- memory: the kernel's state as a snapshot holds it (canonical JSON bytes), the
  peak of Python allocations while the kernel runs (``tracemalloc``, outputs
  dropped), and this process's peak RSS so far (it only grows: counts go up).

Then the table, which stage saturates first (the lowest rate) at each count,
how each stage's rate moves from the fewest to the most symbols, and, from a
profile of the kernel at both ends, the kernel functions whose calls per input
grow most with the symbol count (why the kernel slows, if it does).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import tempfile
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aitrader.stack.endpoints import endpoints
from bench import workers
from bench.common import figure, measured, say
from bench.pipeline import CALENDARS, pure_kernel
from bench.replay import DAY, live_day, replay_fast, replay_namespace
from contract.events import Event, Tick
from contract.partitioner import partition_for
from contract.records import decode
from contract.serde import EventCodec
from contract.topics import INPUTS
from eventlog.consumer import LogReader
from eventlog.sampledata import multi_symbol_ticks, write_multi_symbol_day
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel, canonical_json
from kernel.settings import KernelSettings
from marketdata.synthetic import instrument_settings, scaled_symbols

COUNTS = (1, 10, 100)
# (key, label) of the stages, in pipeline order; each figure is inputs per second.
STAGES = (
    ("kernel", "kernel only (one kernel, every symbol)"),
    ("decode", f"decode (day {DAY} records)"),
    ("fast_replay", f"fast replay (day {DAY})"),
    ("worker", "live worker (1 worker)"),
)
DEGRADED = 0.5  # a stage whose rate at the most symbols is below this share of its rate at the fewest has degraded
PROFILE_ROWS = 5


@dataclass
class Count:
    """One symbol count's figures."""

    symbols: int
    ticks: int
    partitions: dict[int, int]  # symbols per input partition
    rates: dict[str, float] = field(default_factory=dict)  # stage key -> inputs/s
    cpu_rates: dict[str, float] = field(default_factory=dict)  # stage key -> inputs per CPU-second, where measured in-process
    outputs: int = 0  # events the kernel-only run derived
    state_bytes: int = 0
    traced_peak_bytes: int = 0
    peak_rss_bytes: int = 0
    calls: dict[str, int] = field(default_factory=dict)  # kernel profile: function -> calls
    seconds: dict[str, float] = field(default_factory=dict)  # kernel profile: function -> own seconds


def _kernel(settings: KernelSettings) -> TradingKernel:
    return TradingKernel(0, settings, BaselineScorer(), CALENDARS)


def _apply_all(kernel: TradingKernel, ticks: Sequence[Tick]) -> None:
    """The ticks through the kernel, outputs dropped (so only the kernel's own memory is traced)."""
    for offset, tick in enumerate(ticks):
        kernel.apply(tick, offset)


def _record(result: Count, key: str, figures: dict[str, float]) -> None:
    result.rates[key], result.cpu_rates[key] = figures["per_s"], figures["per_cpu_s"]


def measure_kernel(result: Count, ticks: list[Tick], settings: KernelSettings) -> None:
    """Kernel-only rate, state size, traced peak and a profile, each on a fresh kernel over the same ticks."""
    derived: list[Event] = []
    _record(result, "kernel", measured(len(ticks), lambda: derived.extend(pure_kernel(ticks, kernel=_kernel(settings)))))
    result.outputs = len(derived)
    kernel = _kernel(settings)
    tracemalloc.start()
    _apply_all(kernel, ticks)
    result.traced_peak_bytes = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    result.state_bytes = len(canonical_json(kernel.to_state()).encode())
    profile = cProfile.Profile()
    profile.runcall(_apply_all, _kernel(settings), ticks)
    for (path, line, name), (_, calls, own, _, _) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        where = f"{Path(path).parent.name}/{Path(path).name}:{line}({name})" if line else name
        result.calls[where], result.seconds[where] = calls, own


def measure_count(
    bootstrap: str, reader: LogReader, codec: EventCodec, count: int, every: int, since: str | None, until: str | None,
    scratch: Path, with_worker: bool,
) -> Count:
    derivations = scaled_symbols(count)
    settings = instrument_settings(derivations)
    say(f"{count} symbol(s): deriving the ticks ...")
    ticks = multi_symbol_ticks(every, since, until, derivations)
    CALENDARS("CME").session_of(ticks[0].event_time_ms)  # load the year's sessions before any clock runs
    result = Count(count, len(ticks), dict(Counter(partition_for(d.symbol, INPUTS.partitions) for d in derivations)))
    say(f"{count} symbol(s): {len(ticks):,} ticks; kernel only ...")
    measure_kernel(result, ticks, KernelSettings.parse(settings))
    say(f"{count} symbol(s): on the log, live in-process, decode, fast replay ...")
    with live_day(bootstrap, reader, codec, ticks=ticks, settings=settings) as day:
        raw = day.records(reader, every_partition=True)
        _record(result, "decode", measured(len(raw), lambda: [decode(codec, r) for r in raw]))
        with replay_namespace(bootstrap, day, "scaling") as target:
            result.rates["fast_replay"] = replay_fast(bootstrap, reader, codec, day, target).rate
    if with_worker:
        say(f"{count} symbol(s): files, ingest, one live worker ...")
        written = write_multi_symbol_day(scratch / f"{count}-symbols", every, since, until, derivations)
        run = workers.measure_count(bootstrap, written, 1, scratch / f"{count}-logs")
        result.rates["worker"] = workers.rate(run)
    result.peak_rss_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def table(results: list[Count]) -> list[str]:
    """The figures as a Markdown table, one column per symbol count."""
    head = ["| symbols | " + " | ".join(f"{r.symbols}" for r in results) + " |", "|---|" + "---:|" * len(results)]
    rows = [("ticks (same budget)", [f"{r.ticks:,}" for r in results]),
            ("symbols per input partition", [" / ".join(str(r.partitions.get(p, 0)) for p in range(INPUTS.partitions)) for r in results])]
    rows += [(f"{label}, inputs/s", [f"{r.rates[key]:,.0f}" if key in r.rates else "–" for r in results]) for key, label in STAGES]
    rows += [(f"{label}, inputs/CPU-s", [f"{r.cpu_rates[key]:,.0f}" for r in results]) for key, label in STAGES if key in results[0].cpu_rates]
    rows += [
        ("kernel outputs per input", [f"{r.outputs / r.ticks:.3f}" for r in results]),
        ("kernel state (snapshot JSON), KB", [f"{r.state_bytes / 1e3:,.1f}" for r in results]),
        ("kernel state per symbol, KB", [f"{r.state_bytes / r.symbols / 1e3:,.1f}" for r in results]),
        ("kernel traced peak (tracemalloc), MB", [f"{r.traced_peak_bytes / 1e6:,.1f}" for r in results]),
        ("process peak RSS so far, MB", [f"{r.peak_rss_bytes / 1e6:,.0f}" for r in results]),
    ]
    return head + [f"| {what} | " + " | ".join(cells) + " |" for what, cells in rows]


def saturation(results: list[Count]) -> list[str]:
    """Which stage is slowest at each count, how each stage moves with the count, and why the kernel moves."""
    lines = []
    labels = dict(STAGES)
    for r in results:
        slowest = min(r.rates, key=r.rates.__getitem__)
        lines.append(f"{r.symbols} symbol(s): {labels[slowest]} saturates first at {r.rates[slowest]:,.0f} inputs/s")
        # The fast replay is read + decode + kernel + produce + acks: what decode and kernel do not explain is log I/O.
        per_input = {key: 1 / r.rates[key] for key in ("decode", "kernel", "fast_replay")}
        rest = per_input["fast_replay"] - per_input["decode"] - per_input["kernel"]
        rest_text = f"{rest / per_input['fast_replay']:.0%}" if rest > 0 else "none left (the parts, timed apart, add up to more)"
        lines.append(
            f"  fast replay's time per input: decode {per_input['decode'] / per_input['fast_replay']:.0%}, "
            f"kernel {per_input['kernel'] / per_input['fast_replay']:.0%}, the rest (read, produce, acks) {rest_text}"
        )
    first, last = results[0], results[-1]
    if first is last:
        return lines
    degraded = []
    for key, label in STAGES:
        if key in first.rates and key in last.rates:
            # Per CPU-second where measured in-process: on a shared machine it moves less than wall time.
            cpu = key in first.cpu_rates and key in last.cpu_rates
            ratio = last.cpu_rates[key] / first.cpu_rates[key] if cpu else last.rates[key] / first.rates[key]
            lines.append(f"{label}: {ratio:.2f}x of its rate {'per CPU-second ' if cpu else ''}at {first.symbols} symbol(s) "
                         f"with {last.symbols}")
            if ratio < DEGRADED:
                degraded.append(label)
    growth = last.state_bytes / max(first.state_bytes, 1)
    lines.append(f"kernel state: {growth:.1f}x with {last.symbols / first.symbols:.0f}x the symbols "
                 f"({last.state_bytes / last.symbols / 1e3:,.1f} KB per symbol at {last.symbols})")
    lines.append("kernel calls per input that grow most with the symbol count (own seconds at the most symbols):")
    per_input = {name: (last.calls[name] / last.ticks, first.calls.get(name, 0) / first.ticks) for name in last.calls}
    grown = sorted(per_input, key=lambda name: last.seconds[name] * (1 - per_input[name][1] / per_input[name][0]), reverse=True)
    for name in grown[:PROFILE_ROWS]:
        now, before = per_input[name]
        lines.append(f"  {name}: {before:.3f} -> {now:.3f} per input, {last.seconds[name]:.2f} s")
    if degraded:
        lines.append(f"degraded below {DEGRADED:.0%}: {', '.join(degraded)}; profile one count with "
                     f"`python -m cProfile -s tottime -m bench.scaling --counts {last.symbols} --no-worker`")
    return lines


def measure(every: int = 5, since: str | None = None, until: str | None = None, counts: Sequence[int] = COUNTS,
            with_worker: bool = True) -> dict:
    """Prints the table and the saturation notes (every ``every``-th row of the sample, cut to [since, until)); returns the figures."""
    bootstrap = endpoints()[0]
    codec = EventCodec()
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as scratch, LogReader(bootstrap) as reader:
        results = [measure_count(bootstrap, reader, codec, n, every, since, until, Path(scratch), with_worker) for n in counts]
    print("\n".join(table(results)))
    print()
    print("\n".join(saturation(results)))
    rows = [figure(f"{label}, {r.symbols} symbol(s)", r.rates[key], "inputs/s") for key, label in STAGES for r in results if key in r.rates]
    rows += [figure(f"kernel state per symbol, {r.symbols} symbol(s)", r.state_bytes / r.symbols, "bytes") for r in results]
    rows += [figure(f"kernel traced peak, {r.symbols} symbol(s)", r.traced_peak_bytes, "bytes") for r in results]
    return {"bench": "scaling", "ticks": [r.ticks for r in results], "saturation": saturation(results), "figures": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=5, help="keep every Nth row of the sample: the budget (default 5, ~100,000 ticks)")
    parser.add_argument("--since", help="CME time, e.g. '2013-09-03 08:30' (default: the sample's start)")
    parser.add_argument("--until", help="CME time (default: the sample's end)")
    parser.add_argument("--counts", default=",".join(map(str, COUNTS)), help="symbol counts, comma-separated (default 1,10,100)")
    parser.add_argument("--no-worker", action="store_true", help="leave out the live worker (the slowest stage to set up)")
    options = parser.parse_args()
    counts = [int(n) for n in options.counts.split(",")]
    measure(options.every, options.since, options.until, counts, not options.no_worker)


if __name__ == "__main__":
    main()
