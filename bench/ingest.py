"""Ingest throughput (ticks/s onto the broker) and Avro encode/decode rates.

    python -m bench.ingest

Needs a broker (``aitrader stack up`` or KAFKA_BOOTSTRAP_SERVERS).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aitrader.stack.endpoints import endpoints
from bench.common import rate, sample_ticks, scratch_namespace
from contract.serde import EventCodec
from eventlog.ingest import SAMPLE_DAY as SAMPLE
from eventlog.ingest import publish, validate
from eventlog.producer import EventProducer


def main() -> None:
    codec = EventCodec()
    ticks = sample_ticks()
    n = len(ticks)
    encoded: list[bytes] = []
    enc_s, enc_rate = rate(n, lambda: encoded.extend(codec.encode(t) for t in ticks))
    dec_s, dec_rate = rate(n, lambda: [codec.decode(b) for b in encoded])
    print(f"ticks                 {n:>12,}")
    print(f"encode                {enc_rate:>12,.0f} events/s  ({enc_s:.2f} s)")
    print(f"decode                {dec_rate:>12,.0f} events/s  ({dec_s:.2f} s)")
    print(f"bytes per tick        {sum(map(len, encoded)) / n:>12.1f}")

    bootstrap = endpoints()[0]
    zone = ZoneInfo("America/Chicago")
    with scratch_namespace(bootstrap) as space:
        check_s, check_rate = rate(n, lambda: validate(SAMPLE, "ES", "CME", zone, False, lambda _: None))
        report = validate(SAMPLE, "ES", "CME", zone, False, lambda _: None)
        producer = EventProducer(bootstrap, space, codec)
        publish(SAMPLE, producer, "ES", "CME", zone, report, None, lambda _: None)
    print(f"ingest: check pass    {check_rate:>12,.0f} rows/s    ({check_s:.2f} s)")
    print(f"ingest: publish pass  {report.rate:>12,.0f} ticks/s   ({report.seconds:.2f} s, parse+encode+produce+acks)")
    print(f"ingest: whole file    {n / (check_s + report.seconds):>12,.0f} ticks/s")
    print(f"publish / encode-only {report.rate / enc_rate:>12.2f}")


if __name__ == "__main__":
    main()
