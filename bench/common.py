"""What the benchmarks share: the sample day, timing, and a fresh topic namespace."""

from __future__ import annotations

import gzip
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from aitrader.sample import SAMPLE_DAY
from kernel.admin import TopicAdmin
from kernel.events import Tick
from kernel.tickfile import BadRow, TickParser, parse_lines
from kernel.topics import CATALOG, Namespace

SAMPLE = SAMPLE_DAY


def sample_ticks(limit: int | None = None) -> list[Tick]:
    parser = TickParser(SAMPLE.name, "ES", "CME", ZoneInfo("America/Chicago"))
    ticks = []
    with gzip.open(SAMPLE, "rt") as lines:
        for item in parse_lines(lines, parser):
            if isinstance(item, BadRow):
                raise ValueError(str(item))
            ticks.append(item)
            if limit is not None and len(ticks) >= limit:
                break
    return ticks


def rate(count: int, call: Callable[[], object]) -> tuple[float, float]:
    """(seconds, items per second) of one call that handles ``count`` items."""
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    return seconds, count / seconds


@contextmanager
def scratch_namespace(bootstrap: str) -> Iterator[Namespace]:
    """Catalog topics under a fresh prefix, deleted afterwards."""
    space = Namespace(f"bench.{secrets.token_hex(4)}.")
    admin = TopicAdmin(bootstrap, space)
    admin.create()
    try:
        yield space
    finally:
        admin.delete(CATALOG)
