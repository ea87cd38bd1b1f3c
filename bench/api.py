"""Benchmark: API latency (p50/p95) of paginated queries over >= 1M rows.

    python bench/api.py [--rows 1000000] [--pages 300] [--limit 500] [--keep]

Fills ``bars_1m`` of a fresh schema with synthetic one-minute bars (COPY:
20 symbols, consecutive minutes), starts the real server (``aitrader run api``
through uvicorn) in a subprocess, and times over HTTP:

* a walk through the whole table following ``next_cursor`` (keyset pages);
* filtered pages (one symbol, a random two-day window, ``limit`` rows);
* the first page after cursors taken from deep in the walk.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitrader.stack.endpoints import endpoints  # noqa: E402
from api import keys  # noqa: E402
from api.serialize import iso_time  # noqa: E402
from bench.common import figure  # noqa: E402
from projections.db import auth_schema, connect  # noqa: E402
from tests.scratch import drop_with_companions, fresh_schema  # noqa: E402

SYMBOLS = [f"S{n:02d}" for n in range(20)]
START_MS = 1_356_998_400_000  # 2013-01-01T00:00Z
MINUTE_MS = 60_000
ROOT = Path(__file__).resolve().parents[1]


def fill_bars(url: str, schema: str, rows: int) -> float:
    per_symbol = rows // len(SYMBOLS)
    started = time.perf_counter()
    with connect(url, schema) as conn, conn.transaction():
        with conn.cursor().copy(
            "COPY bars_1m (symbol, start_ms, open, high, low, close, volume, notional, trades, first_time_ms, first_seq, "
            "first_event_id, last_time_ms, last_seq, last_event_id) FROM STDIN"
        ) as copy:
            for symbol in SYMBOLS:
                for n in range(per_symbol):
                    t = START_MS + n * MINUTE_MS
                    price = 1600 + (n % 400) / 4
                    copy.write_row(
                        (symbol, t, price, price + 1, price - 1, price + 0.25, 100, price * 100, 10,
                         t, n, "00000000-0000-5000-8000-000000000000", t + 59_000, n, "00000000-0000-5000-8000-000000000001")
                    )
    with connect(url, schema) as conn:
        conn.execute("ANALYZE bars_1m")
    return time.perf_counter() - started


def timed(client: httpx.Client, path: str, params: dict[str, object], samples: list[float]) -> dict:
    started = time.perf_counter()
    response = client.get(path, params=params)
    samples.append(time.perf_counter() - started)
    response.raise_for_status()
    return response.json()


def report(name: str, samples: list[float], rows: int) -> list[dict[str, object]]:
    """Prints one kind of query's latencies; returns them as figures."""
    ms = sorted(s * 1000 for s in samples)
    p50, p95 = statistics.median(ms), ms[max(0, int(len(ms) * 0.95) - 1)]
    print(
        f"{name:<28} n={len(ms):>5}  p50={p50:7.2f} ms  p95={p95:7.2f} ms  "
        f"max={ms[-1]:7.2f} ms  rows/s={rows / sum(samples):>10,.0f}"
    )
    return [figure(f"{name}: p50", p50, "ms"), figure(f"{name}: p95", p95, "ms"), figure(f"{name}: rows", rows / sum(samples), "rows/s")]


def wait_until(check: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the API did not come up")


@dataclass(frozen=True)
class Served:
    base: str  # the server's URL
    keys: list[str]  # one analyst key per client
    schema: str
    pid: int  # the server's process


@contextmanager
def filled_api(rows: int, port: int | None = None, keep: bool = False, clients: int = 1) -> Iterator[Served]:
    """The real server (``aitrader run api``, its own process) over a fresh schema holding ``rows`` bars.

    Yields where it serves, one analyst key per client, the schema and the server's process. The per-key
    rate limit is lifted: the benchmarks measure latency, not the limiter. The schema is dropped afterwards
    unless ``keep``.
    """
    port = port or 18000 + secrets.randbelow(1000)
    bootstrap, url = endpoints()
    schema = fresh_schema(url, "bench")
    server = None
    try:
        print(f"copied {rows:,} bars in {fill_bars(url, schema, rows):.1f}s into {schema}")
        with connect(url, auth_schema(schema)) as conn:
            made = [keys.create(conn, f"bench-{n}", "analyst")[1] for n in range(clients)]
        code = "import typer; from aitrader.commands.projections import api; typer.run(api)"
        server = subprocess.Popen(
            [sys.executable, "-c", code, "--schema", schema, "--port", str(port), "--rate-limit", "1000000"],
            cwd=ROOT, env={**os.environ, "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{base}/health").status_code == 200)
        yield Served(base, made, schema, server.pid)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if not keep:
            drop_with_companions(url, schema)


def measure(
    rows: int = 1_000_000, pages: int = 0, limit: int = 500, filtered: int = 300, port: int | None = None, keep: bool = False
) -> dict:
    """Prints the figures and returns them."""
    figures: list[dict[str, object]] = []
    with filled_api(rows, port, keep) as served:
        with httpx.Client(base_url=served.base, headers={"Authorization": f"Bearer {served.keys[0]}"}, timeout=30) as client:
            walk: list[float] = []
            cursors: list[str] = []
            cursor, walked = None, 0
            while True:
                body = timed(client, "/api/bars", {"limit": limit, **({"cursor": cursor} if cursor else {})}, walk)
                walked += len(body["data"])
                cursor = body["next_cursor"]
                if cursor:
                    cursors.append(cursor)
                if cursor is None or (pages and len(walk) >= pages):
                    break
            figures += report(f"walk (limit {limit})", walk, walked)

            rng = random.Random(7)  # a benchmark's own sample of windows, nothing derived from it
            per_symbol = rows // len(SYMBOLS)
            picked: list[float] = []
            picked_rows = 0
            for _ in range(filtered):
                start = START_MS + rng.randrange(per_symbol) * MINUTE_MS
                query = {"symbol": rng.choice(SYMBOLS), "from": iso_time(start), "to": iso_time(start + 2 * 86_400_000), "limit": 100}
                picked_rows += len(timed(client, "/api/bars", query, picked)["data"])
            figures += report("filtered (symbol, 2 days)", picked, picked_rows)

            deep: list[float] = []
            deep_rows = 0
            for cursor in rng.sample(cursors, min(len(cursors), 200)):
                deep_rows += len(timed(client, "/api/bars", {"limit": limit, "cursor": cursor}, deep)["data"])
            figures += report("resume at a deep cursor", deep, deep_rows)
    return {"bench": "api", "rows": rows, "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=0, help="Pages of the walk (0: the whole table).")
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--filtered", type=int, default=300, help="Filtered queries to time.")
    parser.add_argument("--port", type=int, default=18000 + secrets.randbelow(1000))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    measure(args.rows, args.pages, args.limit, args.filtered, args.port, args.keep)


if __name__ == "__main__":
    main()
