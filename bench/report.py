"""Every benchmark in one run, written as DIR/report.json and DIR/report.md (``aitrader bench --report DIR``).

Runs each ``bench/<name>.py``'s ``measure`` one after the other (their own
tables go to stderr, as progress), on the whole sample or, with ``quick``, on
small slices; NautilusTrader side by side (``bench/vs_nautilus.py``) only when
asked. Every scratch topic of the run lives under one prefix: what a benchmark
leaves behind there is recorded in the report, then deleted.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import redirect_stdout
from datetime import datetime, timezone
from pathlib import Path

from bench import (
    api,
    api_load,
    common,
    decode,
    inference,
    ingest,
    latency,
    pipeline,
    projections,
    replay,
    scaling,
    sentiment,
    vs_nautilus,
    workers,
)
from bench.common import figures_table, machine, machine_line, say
from eventlog.admin import ADMIN_TIMEOUT_S, TopicAdmin

# name -> (what it measures, full run, quick run)
BENCHES: dict[str, tuple[str, Callable[[], dict], Callable[[], dict]]] = {
    "ingest": ("Avro encode/decode and ingest onto the broker", ingest.measure, lambda: ingest.measure(20_000)),
    "pipeline": ("the pure kernel, recovery and the live worker", pipeline.measure, lambda: pipeline.measure(20_000)),
    "replay": ("replay of trading day 2013-09-03, fast and pipeline modes", replay.measure, lambda: replay.measure(step=50)),
    "decode": ("decode beside fastavro's, and the fast replay it bounds", decode.measure, lambda: decode.measure(step=50)),
    "projections": ("projection rebuild beside raw COPY", projections.measure, lambda: projections.measure(step=100)),
    "api": ("API latency of paginated queries", api.measure, lambda: api.measure(rows=20_000, pages=20, filtered=20)),
    "api_load": ("the API under open-loop load from 8 clients while the projector writes", api_load.measure,
                 lambda: api_load.measure(rows=20_000, rates=(10, 20), step_s=5, writer_rows=60_000)),
    "inference": ("scoring paths and the kernel with the model", inference.measure,
                  lambda: inference.measure(calls=40, rows_n=2_000, ticks=5_000)),
    "sentiment": ("news sentiment scoring", sentiment.measure, lambda: sentiment.measure(repeat=2)),
    "workers": ("1, 2 and 3 live workers over the multi-symbol day", workers.measure,
                lambda: workers.measure(every=50, since="2013-09-03 08:30", until="2013-09-03 09:00")),
    "latency": ("live tick -> fill latency at a paced 5,000 ticks/s", latency.measure,
                lambda: latency.measure(seconds=5, until="2013-09-03 08:36")),
    "scaling": ("one tick budget over 1, 10 and 100 symbols, every stage", scaling.measure,
                lambda: scaling.measure(every=10, since="2013-09-03 08:30", until="2013-09-03 09:00")),
}
NAUTILUS = ("NautilusTrader 1.221.0 side by side on the same ES ticks", vs_nautilus.measure,
            lambda: vs_nautilus.measure(limit=5_000))


def run(bootstrap: str, quick: bool, with_nautilus: bool, only: list[str] | None = None) -> dict:
    """Runs the benchmarks; the report as a dict (each result, failures, machine, date, scratch topics left)."""
    chosen = {name: BENCHES[name] for name in (only or BENCHES)}
    if with_nautilus:
        chosen["vs_nautilus"] = NAUTILUS
    root = f"bench.run.{secrets.token_hex(4)}."
    report: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine(),
        "scratch_prefix": root,
        "results": {},
        "failed": {},
    }
    outer, common.SCRATCH_ROOT = common.SCRATCH_ROOT, root  # every scratch namespace of this run starts with it
    try:
        for number, (name, (about, full, small)) in enumerate(chosen.items(), start=1):
            say(f"[{number}/{len(chosen)}] {name}: {about}")
            started = time.perf_counter()
            try:
                with redirect_stdout(sys.stderr):  # a benchmark's own table is progress here; the report is the result
                    result = (small if quick else full)()
            except (Exception, SystemExit) as exc:  # noqa: BLE001 -- one failing benchmark is reported, the rest still run
                traceback.print_exc()
                report["failed"][name] = f"{type(exc).__name__}: {exc}"
                continue
            result["about"] = about
            result["seconds"] = time.perf_counter() - started
            report["results"][name] = result
    finally:
        common.SCRATCH_ROOT = outer
        report["scratch_left_behind"] = sweep(bootstrap, root)
    return report


def sweep(bootstrap: str, root: str) -> list[str]:
    """Topics under the run's prefix that a benchmark left; deleted here, named in the report."""
    admin = TopicAdmin(bootstrap)
    left = sorted(name for name in admin.existing() if name.startswith(root))
    if left:
        say(f"deleting {len(left)} scratch topics left under {root}")
        for future in admin.client.delete_topics(left, operation_timeout=ADMIN_TIMEOUT_S).values():
            future.result()
    return left


def markdown(report: dict) -> str:
    lines = [
        "# AITrader benchmarks",
        "",
        f"{report['date']}, {'quick (small slices)' if report['quick'] else 'full'} run.",
        f"Machine: {machine_line(report['machine'])}.",
    ]
    for name, result in report["results"].items():
        lines += ["", f"## {name}: {result['about']}", "", *figures_table(result["figures"])]
    if report["failed"]:
        lines += ["", "## failed", ""] + [f"- {name}: {why}" for name, why in report["failed"].items()]
    if report["scratch_left_behind"]:
        lines += ["", f"Scratch topics left behind (deleted afterwards): {', '.join(report['scratch_left_behind'])}"]
    return "\n".join(lines) + "\n"


def write(report: dict, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    as_json, as_md = directory / "report.json", directory / "report.md"
    as_json.write_text(json.dumps(report, indent=2) + "\n")
    as_md.write_text(markdown(report))
    return as_json, as_md
