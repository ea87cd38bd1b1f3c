"""``bench/latency.py`` on the real stack: each fill is timed from the very ticks it names, and the worker saw as many.

Speed is not asserted (bench/ is for figures). What is: every measured fill was
found through the ids (its own tick, and its chain's first tick by order ->
intent -> signal), the order never fills on the tick that made it, so the chain
is never shorter than the fill's own latency, and the worker's own histogram
observed exactly the fills the bench timed from their own ticks.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.latency import SINCE, WARMUP_S, day_ticks, run

# Reading the sample day alone takes about half a minute: a long form, by hand with `python -m pytest -m long`.
pytestmark = [pytest.mark.infra, pytest.mark.long]

RATE = 2000.0
SECONDS = 3


def test_each_fill_is_timed_from_the_ticks_it_names_and_the_worker_observed_the_same_fills(kafka_bootstrap: str, tmp_path: Path) -> None:
    warmup = round(RATE * WARMUP_S)
    ticks = day_ticks(warmup + round(RATE * SECONDS), SINCE, "2013-09-03 08:36")
    result = run(kafka_bootstrap, ticks, RATE, warmup, tmp_path, [])

    assert result.paced.sent == len(ticks) - warmup
    both = [f for f in result.fills if f.own_ms is not None and f.chain_ms is not None]
    assert len(both) > 10, result.fills
    assert all(0 <= f.own_ms <= f.chain_ms for f in both), [f for f in both if not 0 <= f.own_ms <= f.chain_ms]
    assert result.worker.buckets[math.inf] == len(result.own.ms)
    assert result.worker.inputs == len(ticks) - warmup  # the measured phase is the ticks after the warm-up, each once
