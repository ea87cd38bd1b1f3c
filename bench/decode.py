"""Decode speed beside fastavro's, and the fast replay it bounds, in one run.

    python -m bench.decode [--json PATH]

Puts the sample file on the log in a scratch namespace (as ``bench.replay``
does), reads the input records of trading day 2013-09-03 back, and on those
same records measures:

* fastavro alone on a 6-field tick record (symbol, venue, time, sequence,
  price, size: the figure the speed issue compares with), each record
  re-encoded that way beforehand;
* fastavro alone on our ``Tick`` bodies (its dict, the parsed schema cached);
* our decode to the Avro datum (``EventCodec.decode_record``: header checks,
  schema resolution, fastavro);
* our decode into the kernel's types (``contract.records.decode``: a ``Tick``,
  by the decoder ``contract.tick_decoder.DECODER`` names, compiled or python);
* the kernel alone on the decoded inputs;
* the fast replay of the day (read + decode + kernel + produce + acks).

Each figure is items per second of wall time and of this process's CPU time
(on a shared machine the CPU figure moves less); the fast replay's CPU figure
is the replaying thread's alone (librdkafka's threads share the process). Prints a table, then the same
figures as one JSON object (also written to ``--json``). Needs a broker.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from aitrader.stack.endpoints import endpoints
from bench.common import figure, measured
from bench.replay import DAY, live_day, replay_fast, replay_namespace
from contract.events import Event, Tick
from contract.records import decode
from contract.serde import HEADER_LENGTH, EventCodec
from contract.tick_decoder import DECODER
from eventlog.consumer import LogReader
from processors.replay.start import start_kernel

SIX_FIELD_TICK = parse_schema(
    {
        "type": "record",
        "name": "SixFieldTick",
        "fields": [
            {"name": "symbol", "type": "string"},
            {"name": "venue", "type": "string"},
            {"name": "event_time_ms", "type": "long"},
            {"name": "sequence", "type": "long"},
            {"name": "price_e8", "type": "long"},
            {"name": "size_e8", "type": "long"},
        ],
    }
)


def _six_field(tick: Tick, codec: EventCodec) -> bytes:
    record = {**codec.to_record(tick), "event_time_ms": tick.event_time_ms}
    buffer = io.BytesIO()
    schemaless_writer(buffer, SIX_FIELD_TICK, {f["name"]: record[f["name"]] for f in SIX_FIELD_TICK["fields"]})
    return buffer.getvalue()


def _fastavro_bodies(bodies: Sequence[bytes], schema: Any, offset: int) -> None:
    for body in bodies:
        stream = io.BytesIO(body)
        stream.seek(offset)
        schemaless_reader(stream, schema, None)


def run(step: int = 1) -> dict[str, Any]:
    """The figures, on every ``step``-th tick of the sample file (all by default)."""
    bootstrap = endpoints()[0]
    codec = EventCodec()
    figures: dict[str, Any] = {"day": DAY.isoformat(), "tick_decoder": DECODER}
    with LogReader(bootstrap) as reader, live_day(bootstrap, reader, codec, step) as day:
        raw = day.records(reader)
        values = [r.value or b"" for r in raw]
        decoded: list[Event] = []
        figures["decode_into_kernel_types"] = measured(len(raw), lambda: decoded.extend(decode(codec, r) for r in raw))
        ticks = [e for e in decoded if isinstance(e, Tick)]
        six = [_six_field(t, codec) for t in ticks]
        tick_schema = codec.registry.reader(Tick.SCHEMA).parsed
        figures["fastavro_six_field_tick"] = measured(len(six), lambda: _fastavro_bodies(six, SIX_FIELD_TICK, 0))
        figures["fastavro_tick_schema"] = measured(len(values), lambda: _fastavro_bodies(values, tick_schema, HEADER_LENGTH))
        figures["decode_record"] = measured(len(values), lambda: [codec.decode_record(v) for v in values])
        kernel = start_kernel(next(p for p in day.plan.partitions if p.inputs), {}).kernel
        figures["kernel_only"] = measured(len(decoded), lambda: [kernel.apply(e, r.offset) for e, r in zip(decoded, raw)])
        with replay_namespace(bootstrap, day, "decode") as target:
            # This thread's CPU time only: librdkafka's threads share the process. It includes restoring the
            # kernels from their snapshot, which the wall figure (the run alone) leaves out.
            thread_cpu = time.thread_time()
            replayed = replay_fast(bootstrap, reader, codec, day, target)
            thread_cpu = time.thread_time() - thread_cpu
        figures["fast_replay"] = {
            "items": replayed.inputs,
            "seconds": replayed.seconds,
            "per_s": replayed.rate,
            "outputs": replayed.outputs,
            "thread_cpu_seconds": thread_cpu,
            "per_thread_cpu_s": replayed.inputs / thread_cpu,
        }
    return figures


ROWS = (
    ("fastavro_six_field_tick", "fastavro, 6-field tick record"),
    ("fastavro_tick_schema", "fastavro, our Tick schema (dict)"),
    ("decode_record", "our decode to the Avro datum"),
    ("decode_into_kernel_types", "our decode into the kernel's types"),
    ("kernel_only", "kernel only, decoded inputs"),
    ("fast_replay", "fast replay (read+decode+kernel+produce+acks)"),
)


def table(figures: dict[str, Any]) -> str:
    lines = [
        f"| what (day {figures['day']}, {figures['tick_decoder']} tick decoder) | items | per s (wall) | per s (CPU) |",
        "|---|---:|---:|---:|",
    ]
    for key, label in ROWS:
        row = figures[key]
        per_cpu = row.get("per_cpu_s", row.get("per_thread_cpu_s"))
        cpu = "–" if per_cpu is None else f"{per_cpu:,.0f}"
        lines.append(f"| {label} | {row['items']:,} | {row['per_s']:,.0f} | {cpu} |")
    return "\n".join(lines)


def measure(step: int = 1) -> dict[str, Any]:
    """Prints the table and returns the figures as ``aitrader bench`` reports them."""
    figures = run(step)
    print(table(figures))
    rows = [figure(f"{label}, wall", figures[key]["per_s"], "items/s") for key, label in ROWS]
    rows += [figure(f"{label}, CPU", figures[key]["per_cpu_s"], "items/CPU-s") for key, label in ROWS if "per_cpu_s" in figures[key]]
    rows.append(figure(f"{ROWS[-1][1]}, replaying thread's CPU", figures["fast_replay"]["per_thread_cpu_s"], "items/CPU-s"))
    return {"bench": "decode", "day": figures["day"], "tick_decoder": DECODER, "figures": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    print("putting the sample day on the log, deriving live, measuring ...", file=sys.stderr)
    figures = run()
    print(table(figures))
    print(json.dumps(figures, sort_keys=True))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
