"""Benchmark: the API under load: concurrent clients at fixed total rates while the projector writes.

    python -m bench.api_load [--rows 1000000] [--rates 25,50,100,200,400,800] [--step-s 20] [--clients 8]

The server (``aitrader run api``) runs in its own process over a fresh schema
holding ``--rows`` one-minute bars (``bench/api.py`` fills it); this process is
the load generator. Meanwhile a real writer works on the same schema:
``aitrader ingest --speed N`` paces the sample day's ES trades from
2013-09-03 08:30 CT onto a scratch namespace and ``aitrader run projector``
follows it into the schema (bars, bar ticks, the event index, marks).

The load is open loop: request i of a step is due at ``i / rate`` seconds
after the step starts, whatever happened to the ones before it, and its
latency is measured from that due time, so a server that falls behind shows
its queueing in the latency instead of slowing the load down (no coordinated
omission). ``--clients`` connections, each with its own analyst key, take the
due requests in turn. The mix is drawn from a seeded generator:

* page: the next keyset page of ``/api/bars`` (``--limit`` rows), following the
  client's own ``next_cursor`` through the whole table;
* filtered: one symbol over a random two-day window (100 rows); one in eight
  asks for ES over the hours the projector is writing;
* export: ``/api/export/bars`` as CSV, one symbol over ``--export-minutes``.

The rates climb a ladder. A step is sustained when no request failed
(anything but a 200, or no answer in 10 s) and the answers kept up (at least
95% of the rate); it holds when, besides, its p99 is within ``--target-ms``.
Climbing stops at the first step not sustained.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from aitrader.stack.endpoints import endpoints
from api.serialize import iso_time
from bench.api import MINUTE_MS, ROOT, START_MS, SYMBOLS, filled_api
from bench.common import figure, say, scratch_namespace
from projections.db import connect
from tests.seed import sample_slice

MIX = (("page", 0.45), ("filtered", 0.45), ("export", 0.10))
TIMEOUT_S = 10.0
KEPT_UP = 0.95  # a step is sustained when its answers per second reach this share of its rate
DAY_MS = 86_400_000
# The writer's slice of the sample day: its rows from 2013-09-03 08:30 CT (line 141,998 of the file), the US session.
LIVE_FIRST_ROW = 141_996
LIVE_ROWS = 358_004
LIVE_START_MS = 1_378_215_000_000  # 2013-09-03T13:30Z = 08:30 CT


@dataclass(frozen=True)
class Request:
    kind: str
    path: str
    params: dict[str, object]


@dataclass
class Step:
    rate: float
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    done_s: float = 0.0  # from the step's start to its last answer
    writer_records: int = 0  # what the projector applied during the step
    server_cpu_s: float = 0.0  # CPU the server's process used during the step
    writer_cpu_s: float = 0.0  # CPU the projector's process used during the step
    client_cpu_s: float = 0.0  # CPU this process (the load generator) used during the step

    def percentile(self, p: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.latencies_ms if values is None else values)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    def server_cpu_ms(self) -> float:
        """The server's CPU per answered request: what the machine's load does not inflate as it does latency."""
        return self.cpu_ms(self.server_cpu_s)

    def cpu_ms(self, seconds: float) -> float:
        return seconds * 1000 / len(self.latencies_ms) if self.latencies_ms else 0.0

    def answered_per_s(self) -> float:
        return len(self.latencies_ms) / self.done_s if self.done_s else 0.0

    def sustained(self) -> bool:
        """No request failed and the answers kept up with the rate (the server did not fall behind)."""
        return not self.errors and self.answered_per_s() >= KEPT_UP * self.rate

    def held(self, target_ms: float) -> bool:
        return self.sustained() and self.percentile(99) <= target_ms

    def verdict(self, target_ms: float) -> str:
        if self.held(target_ms):
            return "held"
        return f"sustained, p99 over {target_ms:g} ms" if self.sustained() else "NOT sustained"


def plan(rng: random.Random, count: int, rows: int, limit: int, export_minutes: int) -> list[Request]:
    """The step's requests in order; a page's cursor is its client's, filled in when it is sent."""
    per_symbol = rows // len(SYMBOLS)
    kinds, weights = zip(*MIX, strict=True)
    out = []
    for kind in rng.choices(kinds, weights, k=count):
        if kind == "page":
            out.append(Request(kind, "/api/bars", {"limit": limit}))
            continue
        if kind == "filtered" and rng.randrange(8) == 0:
            symbol, start = "ES", LIVE_START_MS + rng.randrange(120) * MINUTE_MS
        else:
            symbol, start = rng.choice(SYMBOLS), START_MS + rng.randrange(per_symbol) * MINUTE_MS
        if kind == "filtered":
            out.append(Request(kind, "/api/bars", {"symbol": symbol, "from": iso_time(start), "to": iso_time(start + 2 * DAY_MS), "limit": 100}))
        else:
            window = {"symbol": symbol, "from": iso_time(start), "to": iso_time(start + export_minutes * MINUTE_MS)}
            out.append(Request(kind, "/api/export/bars", {"format": "csv", **window}))
    return out


async def drive(base: str, cursors: dict[str, str | None], rate: float, requests: list[Request], step: Step) -> None:
    """Sends ``requests`` open loop at ``rate`` a second over one connection per key, recording into ``step``.

    ``cursors`` holds each key's place in its walk through the table, carried from step to step.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    queue = iter(enumerate(requests))

    async def client(key: str) -> None:
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT_S, limits=limits) as http:
            for index, request in queue:  # the shared iterator hands each due request to the next free client
                due = started + index / rate
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                cursor = cursors[key]
                params = {**request.params, "cursor": cursor} if request.kind == "page" and cursor else request.params
                try:
                    response = await http.get(request.path, params=params)
                    failed = None if response.status_code == 200 else f"HTTP {response.status_code}"
                    if failed is None and request.kind == "page":
                        cursors[key] = response.json()["next_cursor"]
                except httpx.HTTPError as exc:
                    failed = type(exc).__name__
                answered = loop.time()
                if failed:
                    step.errors[f"{request.kind}: {failed}"] += 1
                    continue
                latency = (answered - due) * 1000
                step.latencies_ms.append(latency)
                step.by_kind.setdefault(request.kind, []).append(latency)

    await asyncio.gather(*(client(key) for key in cursors))
    step.done_s = loop.time() - started


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU a process has used so far (0 for none), from /proc."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14 and 15)


def bars_projected(url: str, schema: str) -> int:
    """Input records the projector's bars projection has applied so far."""
    with connect(url, schema) as conn:
        row = conn.execute("SELECT coalesce(sum(records), 0) FROM projection_offsets WHERE projection = 'bars'").fetchone()
    return int(row[0])


@contextmanager
def writer(url: str, schema: str, speed: float, rows: int = LIVE_ROWS) -> Iterator[int]:
    """``aitrader ingest --speed`` of ``rows`` trades into a scratch namespace, ``aitrader run projector`` into ``schema``.

    Yields the projector's process id once it has applied its first ticks; both are stopped after.
    """
    bootstrap = endpoints()[0]
    env = {**os.environ, "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    with tempfile.TemporaryDirectory(prefix="bench-api-load-") as scratch, scratch_namespace(bootstrap) as space:
        logs = Path(scratch)
        say(f"writer: ingest at {speed:g}x event time into {space.prefix}, projector into {schema}")
        trades = sample_slice(logs, "es-live.csv", LIVE_FIRST_ROW, LIVE_FIRST_ROW + min(rows, LIVE_ROWS))
        aitrader = [sys.executable, "-m", "aitrader"]
        started: list[subprocess.Popen] = []
        try:
            for name, args in (
                ("projector", ["run", "projector", "--namespace", space.prefix, "--schema", schema, "--no-migrate"]),
                ("ingest", ["ingest", "--namespace", space.prefix, "--speed", f"{speed:g}", str(trades)]),
            ):
                with (logs / f"{name}.log").open("w") as log:
                    started.append(subprocess.Popen([*aitrader, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
            deadline = time.monotonic() + 120
            while bars_projected(url, schema) == 0:
                if time.monotonic() > deadline or any(p.poll() is not None for p in started):
                    tails = "\n".join(f"{p.name}:\n{p.read_text()[-2000:]}" for p in sorted(logs.glob("*.log")))
                    raise SystemExit(f"the writer did not start:\n{tails}")
                time.sleep(0.5)
            yield started[0].pid
        finally:
            for process in reversed(started):
                process.terminate()
                process.wait(30)


def print_step(step: Step, target_ms: float) -> None:
    kinds = "  ".join(f"{kind} p99 {step.percentile(99, values):.1f}" for kind, values in sorted(step.by_kind.items()))
    errors = sum(step.errors.values())
    print(
        f"{step.rate:>6,.0f}/s  answered {step.answered_per_s():>6,.0f}/s  "
        f"p50 {step.percentile(50):7.2f}  p95 {step.percentile(95):7.2f}  p99 {step.percentile(99):8.2f} ms  "
        f"errors {errors:>4}  CPU/request: server {step.server_cpu_ms():5.1f} ms, clients {step.cpu_ms(step.client_cpu_s):4.1f} ms  "
        f"projector {step.writer_records / step.done_s:>5,.0f} ticks/s ({step.writer_cpu_s / step.done_s:.0%} CPU)  "
        f"{step.verdict(target_ms)}  ({kinds})"
        + (f"  {dict(step.errors)}" if errors else "")
    )


def measure(
    rows: int = 1_000_000,
    rates: tuple[float, ...] = (25, 50, 100, 200, 400, 800),
    step_s: float = 20.0,
    clients: int = 8,
    limit: int = 100,
    export_minutes: int = 120,
    target_ms: float = 25.0,
    speed: float = 10.0,
    seed: int = 13,
    writer_rows: int = LIVE_ROWS,
    with_writer: bool = True,
) -> dict:
    """Prints the figures and returns them."""
    url = endpoints()[1]
    rng = random.Random(seed)  # the benchmark's own request mix, nothing derived from it
    steps: list[Step] = []
    with filled_api(rows, clients=clients) as served, (
        writer(url, served.schema, speed, writer_rows) if with_writer else nullcontext()
    ) as projector:
        base, schema = served.base, served.schema
        cursors: dict[str, str | None] = dict.fromkeys(served.keys)
        warm = Step(rates[0], min(step_s, 2.0))
        asyncio.run(drive(base, cursors, rates[0], plan(rng, int(warm.rate * warm.seconds), rows, limit, export_minutes), warm))
        print(f"{clients} clients, open loop, {step_s:.0f} s a step; mix {', '.join(f'{k} {w:.0%}' for k, w in MIX)}; latencies in ms")
        for rate in rates:
            step = Step(rate, step_s)
            before = bars_projected(url, schema), cpu_seconds(served.pid), cpu_seconds(projector), cpu_seconds(os.getpid())
            asyncio.run(drive(base, cursors, rate, plan(rng, int(rate * step_s), rows, limit, export_minutes), step))
            step.writer_records = bars_projected(url, schema) - before[0]
            step.server_cpu_s, step.writer_cpu_s = cpu_seconds(served.pid) - before[1], cpu_seconds(projector) - before[2]
            step.client_cpu_s = cpu_seconds(os.getpid()) - before[3]
            print_step(step, target_ms)
            steps.append(step)
            if not step.sustained():
                break
    held = [s.rate for s in steps if s.held(target_ms)]
    sustained = [s.rate for s in steps if s.sustained()]
    print(f"highest rate held (sustained, p99 <= {target_ms:g} ms): " + (f"{held[-1]:,.0f} requests/s" if held else "none"))
    print("highest rate sustained (no errors, answers kept up): " + (f"{sustained[-1]:,.0f} requests/s" if sustained else "none"))
    figures = []
    for step in steps:
        figures += [figure(f"{step.rate:,.0f} req/s: p{p}", step.percentile(p), "ms") for p in (50, 95, 99)]
        figures.append(figure(f"{step.rate:,.0f} req/s: answered", step.answered_per_s(), "req/s"))
        figures.append(figure(f"{step.rate:,.0f} req/s: server CPU per request", step.server_cpu_ms(), "ms"))
    if sustained:
        figures.append(figure("highest rate sustained (no errors, answers kept up)", sustained[-1], "req/s"))
    if held:
        figures.append(figure(f"highest rate held (sustained, p99 <= {target_ms:g} ms)", held[-1], "req/s"))
    return {
        "bench": "api_load",
        "rows": rows,
        "clients": clients,
        "steps": [
            {"rate": s.rate, "p50_ms": s.percentile(50), "p95_ms": s.percentile(95), "p99_ms": s.percentile(99),
             "answered": len(s.latencies_ms), "errors": dict(s.errors), "projector_records": s.writer_records,
             "server_cpu_ms_per_request": s.server_cpu_ms(), "client_cpu_ms_per_request": s.cpu_ms(s.client_cpu_s),
             "projector_cpu_s": s.writer_cpu_s,
             "sustained": s.sustained(), "held": s.held(target_ms)}
            for s in steps
        ],
        "figures": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Bars in the table (default 1,000,000).")
    parser.add_argument("--rates", default="25,50,100,200,400,800", help="The ladder: total requests/s per step, comma-separated.")
    parser.add_argument("--step-s", type=float, default=20.0, help="Seconds of each step (default 20).")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent clients, one connection and key each (default 8).")
    parser.add_argument("--limit", type=int, default=100, help="Rows of a keyset page (default 100).")
    parser.add_argument("--export-minutes", type=int, default=120, help="Minutes of one symbol in an export (default 120).")
    parser.add_argument("--target-ms", type=float, default=25.0, help="A step holds when its p99 is within this (default 25).")
    parser.add_argument("--speed", type=float, default=10.0, help="The writer's pace: N times event time (default 10).")
    parser.add_argument("--seed", type=int, default=13, help="Seed of the request mix.")
    parser.add_argument("--no-writer", action="store_true", help="No ingest and projector during the run (to compare).")
    args = parser.parse_args()
    rates = tuple(float(r) for r in args.rates.split(","))
    measure(args.rows, rates, args.step_s, args.clients, args.limit, args.export_minutes, args.target_ms, args.speed, args.seed, with_writer=not args.no_writer)


if __name__ == "__main__":
    main()
