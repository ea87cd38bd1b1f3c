"""A replay report's equity samples (``processors.replay.observe``): per minute per symbol, and at a symbol's own fills,
so that a fill costs the same whether the partition holds 1 or 100 symbols."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

from contract.events import OrderFilled
from eventlog.ingest import read_ticks
from inference.baseline import BaselineScorer
from kernel.engine import TradingKernel
from kernel.runner import route
from kernel.settings import KernelSettings
from marketdata.calendar import VenueCalendars
from marketdata.synthetic import instrument_settings, scaled_symbols
from processors.replay.observe import MINUTE_MS, RunObserver


def test_a_symbol_without_fills_is_sampled_once_a_minute_however_often_another_fills() -> None:
    ticks = list(itertools.islice(read_ticks(), 6_000))  # ES alone trades here: signals, orders, fills
    idle = scaled_symbols(100)
    kernel = TradingKernel(0, KernelSettings.parse(instrument_settings(idle)), BaselineScorer(), VenueCalendars())
    observer = RunObserver()
    inputs = [replace(ticks[0], symbol=d.symbol) for d in idle] + ticks
    fills = 0
    for offset, tick in enumerate(inputs):
        routed = [route(event, 0) for event in kernel.apply(tick, offset)]
        fills += sum(isinstance(r.event, OrderFilled) for r in routed)
        observer.after(0, tick.event_time_ms, routed, kernel)
    assert fills > 2
    minutes = {s.time_ms // MINUTE_MS for s in observer.samples}
    assert len(minutes) > 100
    per_symbol = Counter(s.symbol for s in observer.samples)
    assert per_symbol["ES"] >= fills  # at each of its fills, besides the minutes
    for d in idle:
        sampled = Counter(s.time_ms // MINUTE_MS for s in observer.samples if s.symbol == d.symbol)
        # every minute from its first tick's on, and only once in each
        since = sorted(m for m in minutes if m >= min(sampled))
        assert sorted(sampled) == since and set(sampled.values()) == {1}, (d.symbol, len(sampled), sum(sampled.values()))
