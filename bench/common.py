"""What the benchmarks share: the sample day, timing, a fresh topic namespace, and how a result is reported."""

from __future__ import annotations

import gzip
import itertools
import os
import platform
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from contract.events import Tick
from contract.topics import CATALOG, Namespace
from eventlog.admin import TopicAdmin
from eventlog.ingest import SAMPLE_DAY, read_ticks


def sample_ticks(limit: int | None = None, step: int = 1) -> list[Tick]:
    """The sample file's ticks: every ``step``-th, the first ``limit`` of those."""
    return list(itertools.islice(itertools.islice(read_ticks(), None, None, step), limit))


def sample_file(directory: Path, limit: int | None) -> Path:
    """The sample file, or a copy of its first ``limit`` rows in ``directory`` (quick runs)."""
    if limit is None:
        return SAMPLE_DAY
    sliced = directory / f"first-{limit}-{SAMPLE_DAY.name}"
    with gzip.open(SAMPLE_DAY, "rt") as lines, gzip.open(sliced, "wt") as out:
        out.writelines(itertools.islice(lines, limit + 1))  # the header and ``limit`` rows
    return sliced


def rate(count: int, call: Callable[[], object]) -> tuple[float, float]:
    """(seconds, items per second) of one call that handles ``count`` items."""
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    return seconds, count / seconds


def measured(count: int, call: Callable[[], object]) -> dict[str, float]:
    """One call that handles ``count`` items: seconds and items per second of wall time and of this process's CPU time
    (on a shared machine the CPU figure moves less)."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"items": count, "seconds": wall, "per_s": count / wall, "cpu_seconds": cpu, "per_cpu_s": count / cpu}


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


def say(text: str) -> None:
    """Progress, on stderr."""
    print(text, file=sys.stderr, flush=True)


def figure(what: str, value: float, unit: str) -> dict[str, object]:
    """One reported figure (a row of a benchmark's table in `aitrader bench --report`)."""
    return {"what": what, "value": value, "unit": unit}


def figures_table(figures: list[dict[str, object]]) -> list[str]:
    """A result's figures as the lines of a Markdown table."""
    lines = ["| what | figure |", "|---|---|"]
    for row in figures:
        value, unit = row["value"], row["unit"]
        shown = f"{value:.2f}x" if unit == "x" else f"{value:,.3f} {unit}" if unit == "ms" else f"{value:,.0f} {unit}"
        lines.append(f"| {row['what']} | {shown} |")
    return lines


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
