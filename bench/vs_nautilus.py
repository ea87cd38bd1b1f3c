"""NautilusTrader side by side with us on the same ES ticks: the engine, and storage to results.

    python -m bench.vs_nautilus [--day 2013-09-03 | --day all] [--ticks N] [--rounds 3] [--json PATH]

Needs a broker (``aitrader stack up`` or KAFKA_BOOTSTRAP_SERVERS). NautilusTrader
1.221.0 (the last release for Python 3.11) runs in its own virtual environment,
created on first use under ~/.aitrader/bench/nautilus-venv (or
AITRADER_NAUTILUS_VENV) and never part of the project's dependencies; its side
is bench/nautilus_side.py, in a subprocess of that environment.

Both sides take the same ticks: those of the sample file whose CME trading day is
``--day`` (or every tick), the first ``--ticks`` of them when given; the two
sides' counts and first and last times are checked to agree. Each round runs
one side then the other (A B A B), ``--rounds`` times; the figures are medians.

- engine: our kernel (default settings and strategy) over pre-decoded ticks,
  against NautilusTrader's ``BacktestEngine.run()`` over pre-built ``TradeTick``s
  with its EMACross example (10/20 EMA on 1-minute bars). Building the inputs
  is not counted on either side.
- storage to results: our fast replay from the log (read + decode + kernel +
  produce + acks, as ``aitrader replay`` does in fast mode) over the ticks put on
  the log once in a scratch namespace, against NautilusTrader loading the same
  ticks from its ``ParquetDataCatalog`` (written once) and running the same
  backtest. Scratch topics and the catalog are deleted afterwards.

The table goes to stdout, progress to stderr, the figures to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import venv
from collections.abc import Callable
from datetime import date
from pathlib import Path

from aitrader.stack.endpoints import endpoints
from bench.common import (
    figure,
    figures_table,
    machine,
    machine_line,
    rate,
    sample_ticks,
    say,
    scratch_namespace,
    scratch_prefix,
)
from bench.pipeline import CALENDARS, pure_kernel
from contract import __version__
from contract.events import Tick
from contract.serde import EventCodec
from contract.topics import INPUTS, Namespace
from eventlog.admin import TopicAdmin
from eventlog.consumer import LogReader
from eventlog.ingest import SAMPLE_DAY
from eventlog.producer import EventProducer
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.settings import KernelSettings
from processors.replay.fast import run_fast
from processors.replay.names import REPLAY_TOPICS
from processors.replay.window import PartitionPlan, ReplayPlan

NAUTILUS = "nautilus_trader==1.221.0"
VENV = Path(os.environ.get("AITRADER_NAUTILUS_VENV", Path.home() / ".aitrader" / "bench" / "nautilus-venv"))
SIDE = Path(__file__).resolve().with_name("nautilus_side.py")
DEFAULT_DAY = "2013-09-03"


def nautilus_python(where: Path = VENV) -> Path:
    """The virtual environment's interpreter, with NautilusTrader installed in it (created and installed once)."""
    python = where / "bin" / "python"
    wanted = NAUTILUS.split("==")[1]
    if not python.exists():
        say(f"creating a virtual environment for NautilusTrader in {where}")
        venv.create(where, with_pip=True)
    check = [str(python), "-c", "from importlib.metadata import version; print(version('nautilus_trader'))"]
    installed = subprocess.run(check, capture_output=True, text=True)
    if installed.returncode or installed.stdout.strip() != wanted:
        say(f"installing {NAUTILUS} into {where} (once)")
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", NAUTILUS], check=True, stdout=sys.stderr)
    return python


def chosen_ticks(day: str, limit: int | None) -> list[Tick]:
    """The sample file's ticks of CME trading day ``day`` (or all of them), the first ``limit`` when given."""
    ticks = sample_ticks()
    if day != "all":
        ticks = [t for t in ticks if CALENDARS("CME").session_of(t.event_time_ms).day == day]
    if not ticks:
        raise SystemExit(f"no ticks of trading day {day} in {SAMPLE_DAY.name}")
    return ticks[:limit]


class NautilusSide:
    """bench/nautilus_side.py in the NautilusTrader environment, answering one command at a time."""

    def __init__(self, python: Path, ticks: list[Tick], catalog: Path) -> None:
        command = [
            str(python), str(SIDE), "--file", str(SAMPLE_DAY), "--from-ms", str(ticks[0].event_time_ms),
            "--to-ms", str(ticks[-1].event_time_ms + 1), "--ticks", str(len(ticks)), "--catalog", str(catalog),
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ready = self._answer()
        same = (self.ready["ticks"], self.ready["first_ms"], self.ready["last_ms"])
        if same != (len(ticks), ticks[0].event_time_ms, ticks[-1].event_time_ms):
            self.close()
            raise SystemExit(f"NautilusTrader read other ticks: {same} against ours {len(ticks), ticks[0].event_time_ms, ticks[-1].event_time_ms}")

    def ask(self, command: str) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._answer()

    def _answer(self) -> dict:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"NautilusTrader's side stopped (exit code {self.process.wait()}); its output is above")
        answer = json.loads(line)
        if "error" in answer:
            raise SystemExit(f"NautilusTrader's side: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.communicate("quit\n", timeout=60)


def measure(day: str = DEFAULT_DAY, limit: int | None = None, rounds: int = 3, progress: Callable[[str], None] = say) -> dict:
    """Both ratios, A B A B over ``rounds`` rounds; a result dict (figures, per-round rates, machine)."""
    python = nautilus_python()
    info = machine()  # the load as the run starts
    progress(f"reading the ticks of {day}")
    ticks = chosen_ticks(day, limit)
    n = len(ticks)
    CALENDARS("CME").session_of(ticks[0].event_time_ms)  # warm the calendar's year cache, as bench/pipeline.py does
    bootstrap = endpoints()[0]
    codec = EventCodec()
    rates: dict[str, list[float]] = {"ours_engine": [], "nautilus_engine": [], "ours_storage": [], "nautilus_storage": []}
    details: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bench-nautilus-") as scratch, scratch_namespace(bootstrap) as live:
        progress(f"{n:,} ticks: NautilusTrader builds its TradeTicks and catalog; ours go on the log ({live.prefix})")
        side = NautilusSide(python, ticks, Path(scratch) / "catalog")
        targets: list[Namespace] = []
        try:
            producer = EventProducer(bootstrap, live, codec)
            for tick in ticks:
                producer.send(INPUTS, tick.symbol, tick)
            producer.flush()
            with LogReader(bootstrap) as reader:
                marks = reader.watermarks(live.topic(INPUTS))
                plan = ReplayPlan("all", tuple(PartitionPlan(p, low, high, None) for p, (low, high) in marks.items()))
                for round_ in range(1, rounds + 1):
                    progress(f"round {round_}/{rounds}: engine")
                    rates["ours_engine"].append(rate(n, lambda: pure_kernel(ticks))[1])
                    theirs = side.ask("engine")
                    rates["nautilus_engine"].append(theirs["events"] / theirs["seconds"])
                    progress(f"round {round_}/{rounds}: storage to results")
                    target = Namespace(f"{scratch_prefix()}replay.")
                    targets.append(target)
                    TopicAdmin(bootstrap, target).create(REPLAY_TOPICS)
                    kernels = {p: TradingKernel(p, KernelSettings.parse(), BaselineScorer(), CALENDARS) for p in marks}
                    replayed = run_fast(reader, EventProducer(bootstrap, target, codec), live, plan, kernels)
                    rates["ours_storage"].append(replayed.rate)
                    details["our_outputs"] = replayed.outputs
                    loaded = side.ask("storage")
                    if loaded["events"] != n:
                        raise SystemExit(f"NautilusTrader's catalog gave {loaded['events']:,} ticks, not {n:,}")
                    rates["nautilus_storage"].append(loaded["events"] / loaded["seconds"])
                    details["nautilus_orders"] = loaded["orders"]
        finally:
            side.close()
            for target in targets:
                TopicAdmin(bootstrap, target).delete(REPLAY_TOPICS)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    engine_ratio = medians["ours_engine"] / medians["nautilus_engine"]
    storage_ratio = medians["ours_storage"] / medians["nautilus_storage"]
    return {
        "bench": "vs_nautilus",
        "machine": {**info, "load_average_1m_end": machine()["load_average_1m"], "aitrader": __version__,
                    "nautilus_trader": side.ready["version"]},
        "day": day,
        "ticks": n,
        "rounds": rounds,
        "rates": rates,
        "details": details,
        "figures": [
            figure("engine: our kernel on pre-decoded ticks", medians["ours_engine"], "events/s"),
            figure("engine: NautilusTrader BacktestEngine, EMACross 10/20 on 1-min bars", medians["nautilus_engine"], "events/s"),
            figure("engine ratio (ours / NautilusTrader)", engine_ratio, "x"),
            figure("storage to results: our fast replay from the log", medians["ours_storage"], "events/s"),
            figure("storage to results: NautilusTrader from its ParquetDataCatalog", medians["nautilus_storage"], "events/s"),
            figure("storage ratio (ours / NautilusTrader)", storage_ratio, "x"),
        ],
    }


def table(result: dict) -> str:
    """The result as a Markdown table, with the machine line under it."""
    info = result["machine"]
    lines = [
        f"{result['ticks']:,} ES ticks ({'whole file' if result['day'] == 'all' else 'trading day ' + result['day']}), "
        f"median of {result['rounds']} rounds, A B A B",
        "",
        *figures_table(result["figures"]),
        "",
        f"Machine: {machine_line(info)} at the start, {info['load_average_1m_end']} at the end; "
        f"aitrader {info['aitrader']}, NautilusTrader {info['nautilus_trader']}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--day", default=DEFAULT_DAY, help=f"CME trading day of the sample, or 'all' (default {DEFAULT_DAY})")
    parser.add_argument("--ticks", type=int, default=None, help="only the first N ticks of it (a quick run)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of A B (default 3); the figures are medians")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()
    if args.day != "all":
        try:
            date.fromisoformat(args.day)  # a bad day fails here, before anything is built
        except ValueError:
            parser.error(f"--day {args.day!r} is neither a date (2013-09-03) nor 'all'")
    if args.rounds < 1 or (args.ticks is not None and args.ticks < 1):
        parser.error("--rounds and --ticks must be at least 1")
    result = measure(args.day, args.ticks, args.rounds)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        say(f"wrote {args.json}")


if __name__ == "__main__":
    main()
