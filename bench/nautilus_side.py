"""NautilusTrader's side of ``python -m bench.vs_nautilus``: run by that benchmark in its own virtual environment.

    python bench/nautilus_side.py --file data/es_2013-09-01_03_ticks.csv.gz --from-ms A --to-ms B [--ticks N] --catalog DIR

Imports only NautilusTrader and the standard library (it runs in a virtual
environment that has nothing of ours). Parses the trade file (``DateTime,Price,Volume``,
Chicago time, the format of marketdata/tickfile.py) into ``TradeTick``s of the
ES September 2013 future, keeping the ticks in [from, to) (and the first N of
them), writes them once into a ``ParquetDataCatalog`` under ``--catalog``, then
answers the benchmark one command a line on stdin, one JSON line each on stdout:

- ``engine``: a fresh ``BacktestEngine`` with its EMACross example (10/20 EMA on
  1-minute bars) over the pre-built ticks; only ``run()`` is timed.
- ``storage``: the catalog's ticks loaded and run through the same backtest;
  timed from the query to the end of ``run()``.
- ``quit``.

Everything NautilusTrader writes goes to stderr: its logger writes to file
descriptor 1, which is pointed at stderr, and the answers use a copy of the
original stdout.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from datetime import datetime
from decimal import Decimal
from importlib.metadata import version
from zoneinfo import ZoneInfo

from nautilus_trader.backtest.config import BacktestEngineConfig
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.config import LoggingConfig
from nautilus_trader.examples.strategies.ema_cross import EMACross, EMACrossConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import BarType, TradeTick
from nautilus_trader.model.enums import AccountType, AggressorSide, OmsType
from nautilus_trader.model.identifiers import TradeId, Venue
from nautilus_trader.model.instruments import FuturesContract
from nautilus_trader.model.objects import Money, Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.test_kit.providers import TestInstrumentProvider

CHICAGO = ZoneInfo("America/Chicago")
VENUE = Venue("GLBX")


def local_time_ms(stamp: str) -> int:
    """Epoch milliseconds of a Chicago wall-clock time, computed as marketdata/tickfile.py computes it."""
    return int(datetime.fromisoformat(stamp).replace(tzinfo=CHICAGO).timestamp() * 1000 + 0.5)


def read_ticks(path: str, instrument: FuturesContract, from_ms: int, to_ms: int, limit: int | None) -> list[TradeTick]:
    ticks: list[TradeTick] = []
    with gzip.open(path, "rt") as lines:
        next(lines)  # the header, checked by our side's parser
        for number, line in enumerate(lines, start=2):
            stamp, price, size = line.rstrip("\r\n").split(",")
            ms = local_time_ms(stamp)
            if not from_ms <= ms < to_ms:
                continue
            ns = ms * 1_000_000
            ticks.append(
                TradeTick(
                    instrument.id, instrument.make_price(float(price)), Quantity.from_str(size), AggressorSide.NO_AGGRESSOR,
                    TradeId(str(number)), ns, ns,
                )
            )
            if limit is not None and len(ticks) == limit:
                break
    return ticks


def backtest(instrument: FuturesContract, ticks: list[TradeTick]) -> BacktestEngine:
    """A fresh engine: one simulated CME venue, the instrument, the ticks and EMACross on 1-minute bars of trades."""
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(
        VENUE, OmsType.NETTING, AccountType.MARGIN, [Money(1_000_000, USD)], base_currency=USD, trade_execution=True
    )
    engine.add_instrument(instrument)
    engine.add_data(ticks)
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-INTERNAL")
    engine.add_strategy(EMACross(EMACrossConfig(instrument_id=instrument.id, bar_type=bar_type, trade_size=Decimal(1))))
    return engine


def timed_run(engine: BacktestEngine, started: float, events: int) -> dict:
    engine.run()
    seconds = time.perf_counter() - started
    orders = len(engine.cache.orders())
    positions = len(engine.cache.positions())
    engine.dispose()
    return {"events": events, "seconds": seconds, "orders": orders, "positions": positions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", required=True, help="the ES trade file (DateTime,Price,Volume; gzip)")
    parser.add_argument("--from-ms", type=int, required=True, help="first tick time kept, epoch ms")
    parser.add_argument("--to-ms", type=int, required=True, help="ticks before this time are kept, epoch ms")
    parser.add_argument("--ticks", type=int, default=None, help="keep only the first N of those")
    parser.add_argument("--catalog", required=True, help="an empty directory for the ParquetDataCatalog")
    args = parser.parse_args()
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # NautilusTrader's logger writes to fd 1: send it to stderr, keep stdout for answers

    instrument = TestInstrumentProvider.es_future(2013, 9, VENUE)
    started = time.perf_counter()
    ticks = read_ticks(args.file, instrument, args.from_ms, args.to_ms, args.ticks)
    built_s = time.perf_counter() - started
    catalog = ParquetDataCatalog(args.catalog)
    catalog.write_data([instrument])
    catalog.write_data(ticks)
    answer = {
        "ready": True, "version": version("nautilus_trader"), "ticks": len(ticks), "build_seconds": built_s,
        "first_ms": ticks[0].ts_event // 1_000_000 if ticks else None,
        "last_ms": ticks[-1].ts_event // 1_000_000 if ticks else None,
    }
    print(json.dumps(answer), file=answers)
    for command in sys.stdin:
        command = command.strip()
        if command == "engine":
            engine = backtest(instrument, ticks)
            answer = timed_run(engine, time.perf_counter(), len(ticks))
        elif command == "storage":
            started = time.perf_counter()
            loaded = catalog.trade_ticks(instrument_ids=[str(instrument.id)])
            answer = timed_run(backtest(instrument, loaded), started, len(loaded))
        elif command == "quit":
            break
        else:
            answer = {"error": f"unknown command {command!r}"}
        print(json.dumps(answer), file=answers)


if __name__ == "__main__":
    main()
