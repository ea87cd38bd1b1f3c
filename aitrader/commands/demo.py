"""``aitrader demo``: the sample day end to end, through the same commands ops would type.

stack (Kafka + PostgreSQL) -> topics -> ingest -> processors -> projections ->
replay of 2013-09-03 with its determinism proof -> the analysts' API.
Each step is a separate ``aitrader`` process, so the demo exercises exactly
what the README documents; a step that fails stops the demo with its output.
"""

from __future__ import annotations

import subprocess
import sys
import time

import typer

from aitrader.commands.common import console, fail
from aitrader.stack.endpoints import endpoints
from kernel.consumer import LogReader
from kernel.ids import id_from_parts
from kernel.ingest import SAMPLE_DAY as SAMPLE
from kernel.partitioner import partition_for
from kernel.records import decode
from kernel.serde import EventCodec
from kernel.topics import INPUTS

SAMPLE_ROWS = 500_000
FIRST_DATA_LINE = 2


def _step(title: str, *args: str) -> None:
    console.rule(f"[bold]{title}[/]  [dim]aitrader {' '.join(args)}[/]")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "aitrader", *args])
    if result.returncode != 0:
        raise fail(f"step failed: aitrader {' '.join(args)} (exit {result.returncode})", result.returncode)
    console.print(f"[green]done[/] in {time.monotonic() - started:.1f}s")


def _sample_on_log(bootstrap: str) -> bool:
    """True when the live input topic already starts with the sample day (the demo ran before)."""
    with LogReader(bootstrap) as reader:
        marks = reader.watermarks(INPUTS.name)
        partition = partition_for("ES", len(marks))
        low, high = marks[partition]
        if high - low < SAMPLE_ROWS:
            return False
        first = next(reader.read(INPUTS.name, {partition: (low, low + 1)}))[0]
    return decode(EventCodec(), first).event_id == id_from_parts("tick", SAMPLE.name, "ES", FIRST_DATA_LINE)


def demo(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the API at the end (Ctrl-C stops it)."),
    port: int = typer.Option(8000, help="API port."),
) -> None:
    """Run the sample ES day end to end: stack, ingest, processors, projections, replay proof, API."""
    _step("1. local stack: install", "stack", "install")
    _step("2. local stack: up", "stack", "up")
    _step("3. topics from the catalog", "topics", "create")
    bootstrap = endpoints()[0]
    if _sample_on_log(bootstrap):
        console.print("[dim]4. the sample day is already on the log: not ingested again[/]")
    else:
        _step("4. ingest the sample ES day (500,000 trades)", "ingest", str(SAMPLE))
    _step(
        "5. processors: ticks -> signals -> intents -> orders -> fills",
        *("run", "processors", "--stop-at-end", "--log-level", "warning"),
    )
    _step("6. database schema", "db", "upgrade")
    _step("7. projections into PostgreSQL", "run", "projector", "--stop-at-end")
    _step("8. replay 2013-09-03 and prove it derives the same events", "replay", "--day", "2013-09-03", "--into", "demo")
    _step("9. an analyst API key (shown once)", "users", "add", "demo-analyst", "--role", "analyst")
    _step("10. what the log holds", "topics", "list")
    if serve:
        console.rule("[bold]11. the analysts' REST API[/]")
        console.print(f"OpenAPI docs: http://127.0.0.1:{port}/docs   e.g.  curl -H 'X-API-Key: <key above>' "
                      f"'http://127.0.0.1:{port}/api/fills?symbol=ES&limit=5'")
        subprocess.run([sys.executable, "-m", "aitrader", "run", "api", "--port", str(port)])
