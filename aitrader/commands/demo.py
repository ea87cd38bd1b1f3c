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
from eventlog.ingest import SAMPLE_DAY as SAMPLE
from inference.models import ScorerSpec

DEMO_MODEL = ScorerSpec("gbm-bars", "1.0.0")


def _step(title: str, *args: str) -> None:
    console.rule(f"[bold]{title}[/]  [dim]aitrader {' '.join(args)}[/]")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "aitrader", *args])
    if result.returncode != 0:
        raise fail(f"step failed: aitrader {' '.join(args)} (exit {result.returncode})", result.returncode)
    console.print(f"[green]done[/] in {time.monotonic() - started:.1f}s")


def demo(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the API at the end (Ctrl-C stops it)."),
    port: int = typer.Option(8000, help="API port."),
) -> None:
    """Run the sample ES day end to end: stack, ingest, processors, projections, replay proof, API."""
    _step("1. local stack: install", "stack", "install")
    _step("2. local stack: up", "stack", "up")
    _step("3. topics from the catalog", "topics", "create")
    # Ingest writes nothing twice: on a log that has the sample day already, it says so and writes nothing.
    _step("4. ingest the sample ES day (500,000 trades)", "ingest", str(SAMPLE))
    _step(
        f"5. processors: ticks -> signals -> intents scored by {DEMO_MODEL} -> orders -> fills",
        # The shipped trained model (models/gbm-bars/1.0.0); on a log whose kernels already run, their
        # snapshots keep the model they were running (--model only sets where an empty kernel starts).
        *("run", "processors", "--stop-at-end", "--log-level", "warning", "--model", DEMO_MODEL.name,
          "--model-version", DEMO_MODEL.version),
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
