"""``aitrader bench``: every benchmark of ``bench/`` in one run, written as a JSON and a Markdown report."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from aitrader.commands.common import console, fail
from aitrader.stack.endpoints import endpoints

# bench/ (and the tests/ helpers it uses) sit beside the packages in a source checkout and are not installed.
CHECKOUT = Path(__file__).resolve().parents[2]


def bench(
    report: Path = typer.Option(..., "--report", file_okay=False, help="Directory for report.json and report.md."),
    quick: bool = typer.Option(False, "--quick", help="Small slices of every benchmark (minutes, not hours)."),
    with_nautilus: bool = typer.Option(
        False, "--with-nautilus", help="Also NautilusTrader side by side (bench/vs_nautilus.py; its own venv)."
    ),
    only: list[str] = typer.Option([], "--only", help="Run only this benchmark (repeatable), e.g. --only replay."),
) -> None:
    """Run the benchmarks and write DIR/report.json and DIR/report.md (figures, the machine, the date).

    Needs the stack (`aitrader stack up`) and a source checkout. Every scratch topic of the run lives under
    one prefix and is deleted afterwards; progress and each benchmark's own table go to stderr. Exits 1 when
    a benchmark failed (the report says which and why).
    """
    if not (CHECKOUT / "bench" / "report.py").exists():
        raise fail("aitrader bench runs from a source checkout (bench/ is not installed)")
    sys.path.insert(0, str(CHECKOUT))
    from bench import report as reporting

    unknown = sorted(set(only) - set(reporting.BENCHES))
    if unknown:
        raise fail(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(reporting.BENCHES)}")
    result = reporting.run(endpoints()[0], quick, with_nautilus, only or None)
    as_json, as_md = reporting.write(result, report)
    console.print(f"wrote {as_json} and {as_md}", highlight=False)
    print(as_md.read_text(), end="")
    if result["failed"]:
        raise fail(f"failed: {', '.join(result['failed'])}", code=1)
