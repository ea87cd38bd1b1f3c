"""Ingest throughput (ticks/s onto the broker) and Avro encode/decode rates.

    python -m bench.ingest

Needs a broker (``aitrader stack up`` or KAFKA_BOOTSTRAP_SERVERS).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from aitrader.stack.endpoints import endpoints
from bench.common import figure, rate, sample_file, sample_ticks, scratch_namespace
from contract.serde import EventCodec
from eventlog.ingest import publish, validate
from eventlog.producer import EventProducer


def measure(limit: int | None = None) -> dict:
    """Prints the figures (the sample's first ``limit`` rows, or all) and returns them."""
    codec = EventCodec()
    ticks = sample_ticks(limit)
    n = len(ticks)
    encoded: list[bytes] = []
    enc_s, enc_rate = rate(n, lambda: encoded.extend(codec.encode(t) for t in ticks))
    dec_s, dec_rate = rate(n, lambda: [codec.decode(b) for b in encoded])
    print(f"ticks                 {n:>12,}")
    print(f"encode                {enc_rate:>12,.0f} events/s  ({enc_s:.2f} s)")
    print(f"decode                {dec_rate:>12,.0f} events/s  ({dec_s:.2f} s)")
    per_tick = sum(map(len, encoded)) / n
    print(f"bytes per tick        {per_tick:>12.1f}")

    bootstrap = endpoints()[0]
    zone = ZoneInfo("America/Chicago")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as scratch, scratch_namespace(bootstrap) as space:
        sample = sample_file(Path(scratch), limit)
        check_s, check_rate = rate(n, lambda: validate(sample, "ES", "CME", zone, False, lambda _: None))
        report = validate(sample, "ES", "CME", zone, False, lambda _: None)
        producer = EventProducer(bootstrap, space, codec)
        publish(sample, producer, "ES", "CME", zone, report, None, lambda _: None)
    print(f"ingest: check pass    {check_rate:>12,.0f} rows/s    ({check_s:.2f} s)")
    print(f"ingest: publish pass  {report.rate:>12,.0f} ticks/s   ({report.seconds:.2f} s, parse+encode+produce+acks)")
    whole = n / (check_s + report.seconds)
    print(f"ingest: whole file    {whole:>12,.0f} ticks/s")
    print(f"publish / encode-only {report.rate / enc_rate:>12.2f}")
    return {
        "bench": "ingest",
        "ticks": n,
        "figures": [
            figure("encode", enc_rate, "events/s"),
            figure("decode", dec_rate, "events/s"),
            figure("bytes per tick", per_tick, "bytes"),
            figure("ingest: check pass", check_rate, "rows/s"),
            figure("ingest: publish pass (parse+encode+produce+acks)", report.rate, "ticks/s"),
            figure("ingest: whole file", whole, "ticks/s"),
            figure("publish / encode-only", report.rate / enc_rate, "x"),
        ],
    }


def main() -> None:
    measure()


if __name__ == "__main__":
    main()
