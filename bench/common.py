"""What the benchmarks share: the sample day, timing, a fresh topic namespace, and how a result is reported."""

from __future__ import annotations

import itertools
import os
import platform
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


# Every scratch namespace a benchmark makes starts with this; `aitrader bench` puts a run's under its own.
SCRATCH_ROOT = "bench."


def scratch_prefix() -> str:
    """A fresh topic prefix under ``SCRATCH_ROOT``."""
    return f"{SCRATCH_ROOT}{secrets.token_hex(4)}."


@contextmanager
def scratch_namespace(bootstrap: str) -> Iterator[Namespace]:
    """Catalog topics under a fresh prefix, deleted afterwards."""
    space = Namespace(scratch_prefix())
    admin = TopicAdmin(bootstrap, space)
    admin.create()
    try:
        yield space
    finally:
        admin.delete(CATALOG)


def figure(what: str, value: float, unit: str) -> dict[str, object]:
    """One reported figure (a row of a benchmark's table in `aitrader bench --report`)."""
    return {"what": what, "value": value, "unit": unit}


def machine() -> dict[str, object]:
    """What the figures were measured on: cores, CPU model, Python, load when asked."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def machine_line(info: dict[str, object]) -> str:
    return f"{info['cores']} cores, {info['cpu']}, Python {info['python']}, {info['system']}, load {info['load_average_1m']}"
