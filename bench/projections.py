"""Benchmark: a projection rebuild (events/s) beside the raw COPY rate of the same rows.

    python bench/projections.py [--ticks N] [--step S] [--batch-size B] [--keep]

Seeds a private namespace with the sample days run through the kernel (or
reuses ``--namespace``), rebuilds every projection from offset 0 into a fresh
schema, then copies the rebuilt tables' rows with plain binary COPY into empty
tables of the same shape (indexes included): the floor PostgreSQL itself sets.
Also reports the rebuild's client CPU time (both of its threads) and the rate
at which the event codec alone decodes the same records, the other floor.
Cleans up its topics and schemas unless ``--keep``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitrader.stack.endpoints import endpoints  # noqa: E402
from bench.common import figure, scratch_prefix  # noqa: E402
from contract.serde import EventCodec  # noqa: E402
from contract.topics import CATALOG, Namespace  # noqa: E402
from eventlog.admin import TopicAdmin  # noqa: E402
from eventlog.consumer import LogReader, decode  # noqa: E402
from projections.db import connect  # noqa: E402
from projections.rebuild import rebuild  # noqa: E402
from projections.registry import TOPICS  # noqa: E402
from tests.scratch import drop_with_companions, fresh_schema  # noqa: E402
from tests.seed import sample_ticks, seed  # noqa: E402

TABLES = ("event_index", "bar_ticks", "bars_1m", "signals", "order_events", "orders", "fills", "positions", "pnl_daily")


def decode_rate(bootstrap: str, namespace: Namespace) -> tuple[int, float]:
    codec = EventCodec()
    n = 0
    started = time.perf_counter()
    with LogReader(bootstrap) as reader:
        for spec in TOPICS:
            topic = namespace.topic(spec)
            for batch in reader.read(topic, reader.watermarks(topic)):
                for record in batch:
                    decode(codec, record)
                    n += 1
    return n, time.perf_counter() - started


def copy_rate(url: str, schema: str) -> tuple[int, float]:
    """Rows of the rebuilt tables through binary COPY into empty same-shaped tables (indexes included)."""
    rows = 0
    elapsed = 0.0
    with connect(url, schema) as conn:
        for table in TABLES:
            conn.execute(f"CREATE TEMP TABLE copy_{table} (LIKE {table} INCLUDING ALL)")
            data = bytearray()
            with conn.cursor().copy(f"COPY {table} TO STDOUT (FORMAT binary)") as out:
                for chunk in out:
                    data += chunk
            started = time.perf_counter()
            with conn.transaction(), conn.cursor().copy(f"COPY copy_{table} FROM STDIN (FORMAT binary)") as into:
                into.write(bytes(data))
            elapsed += time.perf_counter() - started
            rows += conn.execute(f"SELECT count(*) FROM copy_{table}").fetchone()[0]
    return rows, elapsed


def measure(
    ticks: int | None = None, step: int = 1, batch_size: int = 10_000, namespace: str | None = None, keep: bool = False
) -> dict:
    """Prints the figures and returns them."""
    bootstrap, url = endpoints()
    space = Namespace(namespace) if namespace else Namespace(scratch_prefix())
    admin = TopicAdmin(bootstrap, space)
    schema = fresh_schema(url, "bench")
    try:
        if not namespace:
            admin.create()
            started = time.perf_counter()
            report = seed(bootstrap, space, sample_ticks(ticks, step))
            print(f"seeded {report.ticks:,} ticks + {sum(report.derived.values()):,} derived events in {time.perf_counter() - started:.1f}s")
        cpu_before = time.process_time()  # the whole process: the reading and decoding thread too
        result = rebuild(bootstrap, url, schema, space, batch_size=batch_size, fresh=True)
        rebuild_cpu_s = time.process_time() - cpu_before
        t = result.totals
        decoded, decode_s = decode_rate(bootstrap, space)
        rows, copy_s = copy_rate(url, schema)
        rebuilt_per_s, decoded_per_s, copied_per_s = t.records / t.seconds, decoded / decode_s, rows / copy_s
        print(f"rebuild      {t.records:>10,} records in {t.seconds:7.2f}s = {rebuilt_per_s:>10,.0f} records/s")
        print(f"  client CPU  {rebuild_cpu_s:9.2f}s = {t.records / rebuild_cpu_s:>10,.0f} records per CPU-second")
        print(f"  decode only {decoded:>9,} records in {decode_s:7.2f}s = {decoded_per_s:>10,.0f} records/s")
        print(f"namespace {space.prefix!r}, schema {schema!r}" + (" (kept)" if keep else ""))
        print(f"raw COPY     {rows:>10,} rows    in {copy_s:7.2f}s = {copied_per_s:>10,.0f} rows/s (same rows, same indexes)")
    finally:
        if not keep:
            drop_with_companions(url, schema)
            if not namespace:
                admin.delete(CATALOG)
    return {
        "bench": "projections",
        "records": t.records,
        "figures": [
            figure("rebuild", rebuilt_per_s, "records/s"),
            figure("rebuild, per client CPU-second", t.records / rebuild_cpu_s, "records"),
            figure("decode only", decoded_per_s, "records/s"),
            figure("raw COPY (same rows, same indexes)", copied_per_s, "rows/s"),
            figure("rebuild / raw COPY", rebuilt_per_s / copied_per_s, "x"),
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=None, help="Ticks of the sample (all 500,000 when omitted).")
    parser.add_argument("--step", type=int, default=1, help="Take every step-th tick.")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--namespace", default=None, help="Reuse an already seeded namespace.")
    parser.add_argument("--keep", action="store_true", help="Keep the topics and schema.")
    args = parser.parse_args()
    measure(args.ticks, args.step, args.batch_size, args.namespace, args.keep)


if __name__ == "__main__":
    main()
