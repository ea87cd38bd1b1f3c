"""``aitrader ingest``: put a trade file on the log as Avro ``Tick`` events."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from aitrader.commands.common import console, fail, zone
from aitrader.stack.endpoints import endpoints
from kernel.admin import TopicAdmin
from kernel.ingest import BadInputError, publish, validate
from kernel.producer import EventProducer
from kernel.tickfile import TickFileError
from kernel.topics import Namespace


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"--speed takes a positive number or 'max', not {text!r}") from None
    if value <= 0:
        raise typer.BadParameter("--speed must be positive")
    return value


def ingest(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV of trades: DateTime,Price,Volume (plain or .gz)."),
    symbol: str = typer.Option("ES", help="Symbol the trades belong to."),
    venue: str = typer.Option("CME", help="Venue name recorded on each tick."),
    tz: str = typer.Option("America/Chicago", help="Time zone of the file's local DateTime column."),
    speed: str = typer.Option("max", help="'max' for full speed, or N to pace at N times event time (live simulation)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count bad rows instead of stopping at the first."),
    namespace: str = typer.Option("", help="Topic name prefix (tests, experiments)."),
) -> None:
    """Publish a trade file as Tick events on the kernel's input topic.

    The whole file is checked first: a bad row stops the load with its line
    number and nothing is written, unless --skip-bad.
    """
    pace = _speed(speed)
    timezone = zone(tz)
    if not symbol.isalnum():
        raise typer.BadParameter(f"symbol must be letters and digits, not {symbol!r}")
    bootstrap = endpoints()[0]
    TopicAdmin(bootstrap, Namespace(namespace)).create()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        checking = progress.add_task("checking rows", total=None)
        try:
            report = validate(file, symbol, venue, timezone, skip_bad, lambda n: progress.advance(checking, n))
        except (BadInputError, TickFileError) as exc:
            raise fail(f"{file}: {exc}; nothing was written (use --skip-bad to skip bad rows)") from None
        progress.update(checking, total=report.rows, completed=report.rows)
        sending = progress.add_task(f"publishing {symbol}", total=report.rows - report.bad_rows)
        producer = EventProducer(bootstrap, Namespace(namespace))
        publish(file, producer, symbol, venue, timezone, report, pace, lambda n: progress.advance(sending, n))
    for bad in report.first_bad:
        console.print(f"[yellow]skipped[/] {bad}")
    console.print(
        f"published {report.published:,} ticks ({report.bad_rows:,} bad rows skipped) "
        f"in {report.seconds:.1f}s: {report.rate:,.0f} ticks/s"
    )
