"""``aitrader data``: the test data beyond the sample day (the multi-symbol day, ``marketdata.synthetic``)."""

from __future__ import annotations

from pathlib import Path

import typer

from aitrader.commands.common import USAGE, console, fail
from eventlog.sampledata import write_multi_symbol_day

data_app = typer.Typer(help="Sample and synthetic market data.", no_args_is_help=True, pretty_exceptions_enable=False)


@data_app.command("synth")
def synth(
    out_dir: Path = typer.Argument(..., file_okay=False, help="Directory for the files (created if missing)."),
    every: int = typer.Option(1, min=1, help="Keep every Nth row of the sample day, for every symbol (smaller sets)."),
    since: str | None = typer.Option(None, help="Keep trades from this ISO 8601 time on (CME time without a zone)."),
    until: str | None = typer.Option(None, help="Keep trades before this ISO 8601 time (CME time without a zone)."),
) -> None:
    """Write the multi-symbol day: the real ES day and synthetic SYN_* symbols derived from it.

    One <SYMBOL>.csv.gz per symbol (the ES copy keeps the sample's name when
    nothing cuts it), instruments.conf with the synthetic instruments for
    --settings, and a README.md saying how each symbol was derived and how to
    load them. The same options give the same bytes.
    """
    try:
        day = write_multi_symbol_day(out_dir, every, since, until)
    except ValueError as exc:
        raise fail(str(exc), USAGE) from None
    for symbol, path in day.files:
        console.print(f"{symbol}: {day.rows[symbol]:,} rows -> {path}", highlight=False)
    console.print(f"instruments: {day.settings}; how they were derived: {day.readme}", highlight=False)
    console.print(
        f"load them with: aitrader ingest --settings {day.settings} {' '.join(day.ingest_args())}", highlight=False
    )
