"""What the benchmarks share: the sample day, timing, and a fresh topic namespace."""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from contract.events import Tick
from contract.topics import CATALOG, Namespace
from eventlog.admin import TopicAdmin
from eventlog.ingest import read_ticks


def sample_ticks(limit: int | None = None) -> list[Tick]:
    return list(itertools.islice(read_ticks(), limit))


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
