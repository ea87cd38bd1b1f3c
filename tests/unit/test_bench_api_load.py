"""The API load benchmark's pure parts: the seeded request mix, the writer's slice of the sample, a step's verdict."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from api.serialize import iso_time
from bench.api import START_MS, SYMBOLS
from bench.api_load import (
    DAY_MS,
    LIVE_FIRST_ROW,
    LIVE_ROWS,
    LIVE_START_MS,
    MIX,
    Step,
    cpu_seconds,
    plan,
)
from tests.seed import sample_slice

ROWS = 20_000


def test_the_mix_is_seeded_and_keeps_its_proportions() -> None:
    first = plan(random.Random(13), 4000, ROWS, 100, 120)
    assert first == plan(random.Random(13), 4000, ROWS, 100, 120)
    assert first != plan(random.Random(14), 4000, ROWS, 100, 120)
    counts = Counter(r.kind for r in first)
    for kind, weight in MIX:
        assert abs(counts[kind] / 4000 - weight) < 0.03, (kind, counts)


def test_each_kind_asks_what_the_benchmark_says() -> None:
    requests = plan(random.Random(1), 2000, ROWS, 100, 120)
    live, table_end = iso_time(LIVE_START_MS), iso_time(START_MS + ROWS // len(SYMBOLS) * 60_000)
    for r in requests:
        if r.kind == "page":
            assert (r.path, r.params) == ("/api/bars", {"limit": 100})  # the cursor is the client's, added when sent
            continue
        symbol, start, to = r.params["symbol"], r.params["from"], r.params["to"]
        assert symbol in SYMBOLS or (symbol == "ES" and r.kind == "filtered" and start >= live)
        assert symbol == "ES" or start < table_end
        if r.kind == "filtered":
            assert r.path == "/api/bars" and r.params["limit"] == 100
            assert (datetime.fromisoformat(to) - datetime.fromisoformat(start)).total_seconds() == 2 * DAY_MS / 1000
        else:
            assert r.path == "/api/export/bars" and r.params["format"] == "csv"
            assert (datetime.fromisoformat(to) - datetime.fromisoformat(start)).total_seconds() == 120 * 60
    assert any(r.params.get("symbol") == "ES" for r in requests)


def test_the_writer_replays_the_us_session_to_the_end_of_the_sample(tmp_path: Path) -> None:
    lines = sample_slice(tmp_path, "live.csv", LIVE_FIRST_ROW, LIVE_FIRST_ROW + LIVE_ROWS + 10).read_text().splitlines()
    assert len(lines) == 1 + LIVE_ROWS  # the header, then every row to the end: nothing was left past it
    first = datetime.fromisoformat(lines[1].split(",")[0]).replace(tzinfo=ZoneInfo("America/Chicago"))
    assert first.strftime("%Y-%m-%d %H:%M") == "2013-09-03 08:30"
    assert int(first.timestamp()) * 1000 == LIVE_START_MS
    before = sample_slice(tmp_path, "before.csv", LIVE_FIRST_ROW - 1, LIVE_FIRST_ROW).read_text().splitlines()[1]
    assert before.startswith("2013-09-03 08:29")


def test_a_step_holds_only_sustained_without_errors_and_with_its_p99_in_target() -> None:
    step = Step(100, 1.0, latencies_ms=[float(n) for n in range(100, 0, -1)], done_s=1.05)
    assert (step.percentile(50), step.percentile(95), step.percentile(99)) == (50.0, 95.0, 99.0)
    assert step.sustained() and step.held(99.0) and not step.held(98.9)
    assert step.verdict(99.0) == "held" and step.verdict(98.9) == "sustained, p99 over 98.9 ms"
    step.done_s = 1.06  # 94 answers a second for a rate of 100: the server fell behind
    assert not step.sustained() and not step.held(1000.0) and step.verdict(1000.0) == "NOT sustained"
    step.done_s = 1.0
    step.errors["page: HTTP 503"] += 1
    assert not step.sustained() and not step.held(1000.0)
    assert not Step(100, 1.0).sustained()  # nothing answered sustains nothing


def test_cpu_seconds_are_this_process_own_and_grow_with_work() -> None:
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # burn 50 ms of CPU
        pass
    assert cpu_seconds(os.getpid()) - before >= 0.03  # /proc counts in clock ticks (10 ms)
    assert cpu_seconds(None) == 0.0
    step = Step(10, 1.0, latencies_ms=[1.0] * 4, server_cpu_s=0.02)
    assert step.server_cpu_ms() == 5.0 and Step(10, 1.0).server_cpu_ms() == 0.0
